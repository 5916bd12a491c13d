package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/rpc"
)

// Node ids. A node started without one (Config.NodeID AutoNodeID, the
// command line's default) settles it at start, before anything uses it,
// in this order:
//
//	node.json has one (a member, or a joiner given one)  → that id
//	--node-id given                                      → that id
//	no --seeds (a cluster of one)                        → 0
//	its advertised RPC address is seed i (a founder)     → i
//	else (a joiner)                                      → asks a seed
//
// A joiner probes the seeds until one has formed a cluster, then asks
// it, in an anonymous rpc exchange (it has no id to say who it is), for
// an id: the seed proposes cluster.AllocateNodeID to the controller and
// answers the id the apply gave (never given before, never given
// again). The joiner writes the id to node.json (Assigned, no cluster id
// yet) before anything uses it, so a crash right after restarts with the
// same id, and joins as any node does. An explicit --node-id that differs
// from node.json's is refused, as before.

// AutoNodeID in Config.NodeID: settle the node's id at start.
const AutoNodeID model.NodeID = -1

// methodAllocateNodeID asks a seed for a new node id; served to callers
// without one (rpc.HandleAnonymous). Request: the caller's advertised RPC
// address (str, for the seed's log). Response: node id u32.
const methodAllocateNodeID = methodBrokerKnown + 4

// member reports whether node.json holds this node's id: it founded or
// joined a cluster, or a cluster gave it an id.
func (m *nodeMeta) member() bool { return len(m.Voters) > 0 || m.Joined || m.Assigned }

// settleNodeID sets n.cfg.NodeID when it is AutoNodeID (see above). It
// runs once the listeners are bound (the advertised address is known) and
// before the transport starts.
func (n *Node) settleNodeID(ctx context.Context) error {
	switch {
	case n.cfg.NodeID < AutoNodeID:
		return fmt.Errorf("node: node id %d: want %d (settled at start) or 0 and up", n.cfg.NodeID, AutoNodeID)
	case n.meta.Assigned && n.meta.ClusterID == "" && len(n.cfg.Seeds) == 0:
		return fmt.Errorf("node: data directory %s holds node id %d, given by a cluster this node has not finished joining: start it with that cluster's --seeds",
			n.cfg.DataDir, n.meta.NodeID)
	case n.meta.member():
		n.cfg.NodeID = n.meta.NodeID // loadMeta refused an explicit other one
		return nil
	case n.cfg.NodeID != AutoNodeID:
		return nil
	case len(n.cfg.Seeds) == 0:
		n.cfg.NodeID = 0
		return nil
	}
	if i := seedIndex(ctx, n.rpcAdvertised(), n.cfg.Seeds); i >= 0 {
		n.cfg.NodeID = model.NodeID(i)
		n.log.Info("node id from this node's position in --seeds", "node_id", i, "rpc_addr", n.rpcAdvertised())
		return nil
	}
	return n.assignNodeID(ctx)
}

// seedIndex is the position of addr among the seeds, or -1: the same
// string, else the same port and a host resolving to a common address
// (a name for an IP).
func seedIndex(ctx context.Context, addr string, seeds []string) int {
	if i := slices.Index(seeds, addr); i >= 0 {
		return i
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	self := resolveAddr(ctx, addr)
	for i, s := range seeds {
		for _, a := range resolveAddr(ctx, s) {
			if slices.Contains(self, a) {
				return i
			}
		}
	}
	return -1
}

// resolveAddr returns host:port with the host's addresses (none when it
// does not resolve).
func resolveAddr(ctx context.Context, addr string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	ips, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		return nil
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = net.JoinHostPort(ip, port)
	}
	return out
}

// assignNodeID asks the seeds, until one that formed a cluster answers,
// for a new node id, and records it in node.json before returning.
func (n *Node) assignNodeID(ctx context.Context) error {
	self := n.rpcAdvertised()
	req := appendStr(nil, self)
	lastLog := time.Now()
	var lastErr error
	for {
		for _, addr := range n.cfg.Seeds {
			id, err := n.allocateAt(ctx, addr, req)
			if err == nil {
				n.cfg.NodeID = id
				n.meta.NodeID, n.meta.Assigned = id, true
				if err := n.writeMeta(); err != nil {
					return err
				}
				n.log.Info("node id assigned", "node_id", id, "by_seed", addr, "rpc_addr", self)
				return nil
			}
			lastErr = fmt.Errorf("seed %s: %w", addr, err)
		}
		if time.Since(lastLog) > 5*time.Second {
			n.log.Info("no node id given and this node's RPC address is not among the seeds: waiting for a seed that formed a cluster to give it one (a founder must be listed in --seeds as its --rpc-addr is advertised)",
				"rpc_addr", self, "seeds", strings.Join(n.cfg.Seeds, ","), "last_error", lastErr)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node: asking the seeds %s for a node id (this node's RPC address %s is not among them): %v: %w",
				strings.Join(n.cfg.Seeds, ","), self, lastErr, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// errNotFormed: a seed that has not formed or joined a cluster yet.
var errNotFormed = errors.New("not in a cluster yet")

// allocateAt asks the seed at addr for a node id.
func (n *Node) allocateAt(ctx context.Context, addr string, req []byte) (model.NodeID, error) {
	who, err := rpc.Probe(ctx, addr, rpc.Anonymous, 2*time.Second)
	if err != nil {
		return 0, err
	}
	if who.ClusterID == "" {
		return 0, errNotFormed
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := rpc.CallAnonymous(cctx, addr, who, methodAllocateNodeID, req)
	if err != nil {
		return 0, err
	}
	if len(resp) != 4 {
		return 0, fmt.Errorf("node: node id answer of %d bytes: %w", len(resp), model.ErrCorrupt)
	}
	id := model.NodeID(int32(binary.BigEndian.Uint32(resp)))
	if id < 0 {
		return 0, fmt.Errorf("node: seed %s gave node id %d: %w", addr, id, model.ErrCorrupt)
	}
	return id, nil
}

// handleAllocateNodeID gives a joining node a new id: the controller
// allocates it (the proposal reaches the controller's leader; the answer
// is what every replica applied).
func (n *Node) handleAllocateNodeID(ctx context.Context, _ model.NodeID, req []byte) ([]byte, error) {
	c := n.ctrlUp.Load()
	if c == nil {
		return nil, errors.New("node: the controller is not running here yet")
	}
	addr, rest, err := readStr(req)
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%d trailing bytes: %w", len(rest), model.ErrCorrupt)
	}
	if err != nil {
		return nil, fmt.Errorf("node: node id request: %w", err)
	}
	res, err := c.propose(ctx, &cluster.AllocateNodeID{})
	if err != nil {
		return nil, err
	}
	n.log.Info("node id allocated", "node_id", res.NodeID, "to", addr)
	return binary.BigEndian.AppendUint32(nil, uint32(res.NodeID)), nil
}
