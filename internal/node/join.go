package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
	"github.com/petrel-streaming/petrel/internal/rpc"
	"github.com/petrel-streaming/petrel/internal/shard"
)

// Joining. A node whose address is not among the seeds joins the cluster
// they formed: it takes the cluster id a formed seed reports, asks it to
// register the node and to add it to the controller group as a learner
// (it receives the controller's log and applies it, so it has the tables,
// but never votes), and records the cluster in node.json. From then on it
// is a broker like the founders: new topics place replicas on it, and
// reassignments move replicas to and from it. A joiner started without a
// node id was given one by a seed first (nodeid.go).

const (
	methodJoin       = methodBrokerKnown + 2
	methodAddLearner = methodBrokerKnown + 3
)

// join makes this fresh node a member of the cluster the formed seeds in
// ids belong to.
func (n *Node) join(ctx context.Context, ids map[string]rpc.Identity) error {
	var clusterID string
	var seeds []rpc.Identity
	var addrs []string
	for addr, id := range ids {
		if id.ClusterID == "" {
			continue
		}
		if clusterID != "" && id.ClusterID != clusterID {
			return fmt.Errorf("node: the seeds belong to two clusters, %q and %q: fix --seeds", clusterID, id.ClusterID)
		}
		clusterID = id.ClusterID
		seeds = append(seeds, id)
		addrs = append(addrs, addr)
	}
	if clusterID == "" {
		return fmt.Errorf("node: node %d is not one of the seeds %s and none of them has formed a cluster to join yet",
			n.cfg.NodeID, strings.Join(n.cfg.Seeds, ","))
	}
	if err := n.transport.SetClusterID(clusterID); err != nil {
		return err
	}
	for i, s := range seeds {
		if s.NodeID == n.cfg.NodeID {
			return fmt.Errorf("node: seed %s already has node id %d: give this node another --node-id", addrs[i], s.NodeID)
		}
		if err := n.transport.SetPeer(s.NodeID, addrs[i]); err != nil {
			return err
		}
		n.peerMu.Lock()
		n.peerAddrs[s.NodeID] = addrs[i]
		n.peerMu.Unlock()
	}
	// A node the cluster knows that comes with an empty data dir lost
	// its data: it must not come back as the member it was. A node the
	// cluster gave its id (node.json says so) has its data dir: it
	// stopped while joining, after the seed registered it, and resumes.
	if known, err := n.brokerKnown(ctx, seeds[0].NodeID); err != nil {
		return fmt.Errorf("node: asking seed %s whether node %d was a member: %w", addrs[0], n.cfg.NodeID, err)
	} else if known && !n.meta.Assigned {
		return fmt.Errorf("node: node %d was a member of cluster %q but its data directory %s is empty: a node that lost its data cannot rejoin as the member it was; give it a new --node-id",
			n.cfg.NodeID, clusterID, n.cfg.DataDir)
	}
	host, port := n.Advertised()
	req := binary.BigEndian.AppendUint32(nil, uint32(n.cfg.NodeID))
	req = appendStr(req, fmt.Sprintf("%s:%d", host, port))
	req = appendStr(req, n.rpcAdvertised())
	var lastErr error
	for attempt := 0; ; attempt++ {
		s := seeds[attempt%len(seeds)]
		resp, err := n.transport.Call(ctx, s.NodeID, methodJoin, req)
		if err == nil {
			voters, derr := decodeNodeIDs(resp)
			if derr != nil {
				return derr
			}
			n.meta.ClusterID, n.meta.NodeID, n.meta.Voters, n.meta.Joined = clusterID, n.cfg.NodeID, voters, true
			n.log.Info("joined cluster", "cluster_id", clusterID, "through", s.NodeID, "controller_voters", voters)
			return n.writeMeta()
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("node: joining cluster %q: %v: %w", clusterID, lastErr, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// handleJoin registers a joining node and makes it a learner of the
// controller group; it answers the controller's voters.
func (n *Node) handleJoin(ctx context.Context, from model.NodeID, req []byte) ([]byte, error) {
	c := n.ctrlUp.Load()
	if c == nil {
		return nil, errors.New("node: the controller is not running here yet")
	}
	if len(req) < 4 {
		return nil, errors.New("node: join request too short")
	}
	id := model.NodeID(binary.BigEndian.Uint32(req))
	kafkaAddr, rest, err := readStr(req[4:])
	if err != nil {
		return nil, err
	}
	rpcAddr, rest, err := readStr(rest)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("node: join request: %w", errors.Join(err, errors.New("trailing bytes")))
	}
	if id != from {
		return nil, fmt.Errorf("node: node %d asked to join as node %d", from, id)
	}
	if _, err := c.propose(ctx, &cluster.RegisterBroker{NodeID: id, KafkaAddr: kafkaAddr, RPCAddr: rpcAddr}); err != nil {
		return nil, err
	}
	if err := n.onControllerLeader(ctx, methodAddLearner, binary.BigEndian.AppendUint32(nil, uint32(id))); err != nil {
		return nil, err
	}
	return appendNodeIDs(nil, n.meta.Voters), nil
}

// handleAddLearner adds a node as a learner of the controller group; only
// the controller's leader does.
func (n *Node) handleAddLearner(ctx context.Context, _ model.NodeID, req []byte) ([]byte, error) {
	c := n.ctrlUp.Load()
	if c == nil || len(req) != 4 {
		return nil, errors.New("node: no controller here, or a bad request")
	}
	id := model.NodeID(binary.BigEndian.Uint32(req))
	var err error
	if ierr := n.rt.InvokeOn(ctx, 0, func(*shard.Shard) { err = c.replica.AddLearner(id) }); ierr != nil {
		return nil, ierr
	}
	if err != nil {
		return nil, err
	}
	// Wait until the change is applied here, so the leader replicates to
	// the new learner from now on.
	for {
		var members []model.NodeID
		if ierr := n.rt.InvokeOn(ctx, 0, func(*shard.Shard) { members = c.replica.Members() }); ierr != nil {
			return nil, ierr
		}
		if slices.Contains(members, id) {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// onControllerLeader runs method on the node leading the controller group
// (this one or a peer), retrying across leader changes until ctx ends.
func (n *Node) onControllerLeader(ctx context.Context, method rpc.Method, req []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var lastErr error
	for {
		rs := n.ctrl.replica.State()
		var err error
		switch {
		case rs.Leader:
			h := map[rpc.Method]rpc.Handler{methodAddLearner: n.handleAddLearner}[method]
			_, err = h(ctx, n.cfg.NodeID, req)
		case rs.LeaderID >= 0:
			_, err = n.transport.Call(ctx, rs.LeaderID, method, req)
		default:
			err = partition.ErrNotLeader
		}
		if err == nil {
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("node: on the controller's leader: %v: %w", lastErr, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func appendStr(dst []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint16(dst, uint16(len(s))), s...)
}

func readStr(b []byte) (string, []byte, error) {
	if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
		return "", nil, fmt.Errorf("node: truncated string: %w", model.ErrCorrupt)
	}
	l := int(binary.BigEndian.Uint16(b))
	return string(b[2 : 2+l]), b[2+l:], nil
}

func appendNodeIDs(dst []byte, ids []model.NodeID) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(ids)))
	for _, id := range ids {
		dst = binary.BigEndian.AppendUint32(dst, uint32(id))
	}
	return dst
}

func decodeNodeIDs(b []byte) ([]model.NodeID, error) {
	if len(b) < 2 || len(b) != 2+4*int(binary.BigEndian.Uint16(b)) {
		return nil, fmt.Errorf("node: node id list of %d bytes: %w", len(b), model.ErrCorrupt)
	}
	out := make([]model.NodeID, 0, binary.BigEndian.Uint16(b))
	for i := 2; i < len(b); i += 4 {
		out = append(out, model.NodeID(binary.BigEndian.Uint32(b[i:])))
	}
	return out, nil
}
