package node

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
	"github.com/petrel-streaming/petrel/internal/rpc"
	"github.com/petrel-streaming/petrel/internal/shard"
)

// A node started with seeds is a member of a cluster: it runs the rpc
// transport, routes Raft messages between its shards and its peers, ticks
// the groups that are not quiesced, and wakes the groups of a peer that
// stops (or resumes) answering.
//
// Forming: the seeds are the founders. A founder with a fresh data dir
// probes every seed address until all answer, recognises itself among
// them (a seed answering with its own node id), and takes the founders'
// node ids as the controller's voters; the cluster id is derived from the
// founders (ids and addresses), so every founder computes the same one.
// Both are recorded in node.json: a restart rejoins with them, and a data
// dir of another cluster is refused by every peer's handshake.

// clusterMode reports whether the node runs with peers.
func (n *Node) clusterMode() bool {
	return len(n.meta.Voters) > 1 || n.meta.Joined || len(n.cfg.Seeds) > 0
}

// startTransport starts the rpc transport (cluster mode only).
func (n *Node) startTransport() error {
	t, err := rpc.New(rpc.Config{
		NodeID: n.cfg.NodeID, ClusterID: n.meta.ClusterID, ListenAddr: n.cfg.RPCAddr,
		Logger:     n.log.With("component", "rpc"),
		RaftSink:   n.routeRaft,
		OnLiveness: n.liveness,
	})
	if err != nil {
		return fmt.Errorf("node: rpc: %w", err)
	}
	for m, h := range map[rpc.Method]rpc.Handler{methodBrokerKnown: n.handleBrokerKnown, methodElectPreferred: n.handleElectPreferred,
		methodJoin: n.handleJoin, methodAddLearner: n.handleAddLearner} {
		if err := t.Handle(m, h); err != nil {
			return err
		}
	}
	if err := t.HandleAnonymous(methodAllocateNodeID, n.handleAllocateNodeID); err != nil {
		return err
	}
	t.Start()
	n.transport = t
	for i, m := range n.shards {
		send := raftSender(t)
		m := m
		if err := n.rt.InvokeOn(context.Background(), model.ShardID(i), func(*shard.Shard) {
			m.SetPeers(partition.Peers{Send: send, Live: t.Live, OnFail: n.storageFailed})
		}); err != nil {
			return err
		}
	}
	n.stopTicks = make(chan struct{})
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.tick(n.stopTicks) }()
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.balanceLeaders(n.stopTicks) }()
	return nil
}

// raftSender returns a shard's sender: it runs on the shard only, so it
// reuses one conversion buffer.
func raftSender(t *rpc.Transport) partition.Sender {
	var buf []rpc.RaftMessage
	return func(to model.NodeID, msgs []partition.Outbound) {
		buf = buf[:0]
		for _, m := range msgs {
			buf = append(buf, rpc.RaftMessage{Group: rpc.GroupID(m.Group), Msg: m.Msg})
		}
		_ = t.SendRaft(to, buf...) // lost messages are resent by raft
		clear(buf)
	}
}

// tick ticks every shard that has groups awake.
func (n *Node) tick(stop <-chan struct{}) {
	t := time.NewTicker(partition.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		for i, m := range n.shards {
			if m.Active() == 0 {
				continue
			}
			m := m
			_ = n.rt.Submit(model.ShardID(i), func(*shard.Shard) { m.Tick() })
		}
	}
}

// liveness wakes the groups with a member on a node that stopped or
// resumed answering.
func (n *Node) liveness(peer model.NodeID, up bool) {
	n.log.Info("peer liveness", "node", peer, "up", up)
	for i, m := range n.shards {
		m := m
		_ = n.rt.Submit(model.ShardID(i), func(*shard.Shard) { m.Wake(peer) })
	}
}

// routeRaft hands messages from a peer to the shards owning their groups,
// one shard message per shard.
func (n *Node) routeRaft(from model.NodeID, msgs []rpc.RaftMessage) {
	type batch struct {
		keys []model.PartitionKey
		msgs [][]*pb.Message
	}
	byShard := map[model.ShardID]*batch{}
	for _, m := range msgs {
		key, ok := n.groupKey(uint64(m.Group))
		if !ok {
			continue // not open here (yet): raft resends
		}
		s := model.ShardID(0) // the controller's group lives on shard 0
		if key != controllerKey {
			s = n.shardOf(key)
		}
		b := byShard[s]
		if b == nil {
			b = &batch{}
			byShard[s] = b
		}
		if i := len(b.keys) - 1; i >= 0 && b.keys[i] == key {
			b.msgs[i] = append(b.msgs[i], m.Msg)
		} else {
			b.keys = append(b.keys, key)
			b.msgs = append(b.msgs, []*pb.Message{m.Msg})
		}
	}
	for s, b := range byShard {
		m := n.shards[s]
		if err := n.rt.Submit(s, func(*shard.Shard) {
			for i, key := range b.keys {
				m.Step(key, b.msgs[i])
			}
		}); err != nil {
			n.log.Debug("raft messages dropped", "from", from, "shard", s, "err", err)
		}
	}
}

// groupKey maps a group id to its partition.
func (n *Node) groupKey(g uint64) (model.PartitionKey, bool) {
	if g == 0 {
		return controllerKey, true
	}
	k, ok := n.groups2keys.Load(g)
	if !ok {
		return model.PartitionKey{}, false
	}
	return k.(model.PartitionKey), true
}

// groupOf is a partition's Raft group id: the topic's revision (the
// controller index that created it, unique and never 0) and the partition.
func groupOf(tp *cluster.Topic, p model.PartitionID) uint64 {
	return uint64(tp.Revision)<<20 | uint64(p)
}

// maxGroupPartitions bounds a topic's partitions so group ids stay unique.
const maxGroupPartitions = 1 << 20

// setPeers tells the transport where the registered brokers listen.
func (n *Node) setPeers(t *cluster.Tables) {
	if n.transport == nil {
		return
	}
	for _, b := range t.Brokers() {
		if b.NodeID == n.cfg.NodeID || b.RPCAddr == "" {
			continue
		}
		n.peerMu.Lock()
		known := n.peerAddrs[b.NodeID] == b.RPCAddr
		if !known {
			n.peerAddrs[b.NodeID] = b.RPCAddr
		}
		n.peerMu.Unlock()
		if !known {
			if err := n.transport.SetPeer(b.NodeID, b.RPCAddr); err != nil {
				n.log.Warn("peer address", "node", b.NodeID, "addr", b.RPCAddr, "err", err)
			}
		}
	}
}

// form makes a fresh founder's identity: it probes every seed until all
// answer, finds itself among them, and derives the controller's voters
// and the cluster id. Joining a formed cluster as a new node is refused
// for now (issue "cluster": learners), with a message that says so.
func (n *Node) form(ctx context.Context) error {
	seeds := slices.Clone(n.cfg.Seeds)
	ids := make(map[string]rpc.Identity, len(seeds))
	lastLog := time.Now()
	var lastErr error
	for len(ids) < len(seeds) {
		for _, addr := range seeds {
			if _, ok := ids[addr]; ok {
				continue
			}
			id, err := rpc.Probe(ctx, addr, n.cfg.NodeID, 2*time.Second)
			if err != nil {
				lastErr = fmt.Errorf("seed %s: %w", addr, err)
				continue
			}
			ids[addr] = id
		}
		if len(ids) == len(seeds) {
			break
		}
		// This node always answers its own probe: if it is not among the
		// seeds that answered, it is not a founder; it joins once a seed
		// has formed the cluster.
		self, formed := false, false
		for _, id := range ids {
			self = self || id.NodeID == n.cfg.NodeID
			formed = formed || id.ClusterID != ""
		}
		if !self && formed && len(ids) > 0 {
			return n.join(ctx, ids)
		}
		if time.Since(lastLog) > 5*time.Second {
			n.log.Info("waiting for every seed to answer before forming the cluster",
				"answered", len(ids), "seeds", len(seeds), "last_error", lastErr)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node: forming the cluster: %d of %d seeds answered (%v): %w", len(ids), len(seeds), lastErr, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	self := false
	byID := map[model.NodeID]string{}
	var founders []string
	for _, addr := range seeds {
		id := ids[addr]
		if other, dup := byID[id.NodeID]; dup {
			return fmt.Errorf("node: seeds %s and %s both have node id %d: give every node its own --node-id", other, addr, id.NodeID)
		}
		byID[id.NodeID] = addr
		if id.NodeID == n.cfg.NodeID {
			self = true
		}
		founders = append(founders, strconv.Itoa(int(id.NodeID))+"@"+addr)
	}
	if !self {
		return n.join(ctx, ids)
	}
	slices.Sort(founders)
	sum := sha256.Sum256([]byte(strings.Join(founders, ",")))
	clusterID := base64.RawURLEncoding.EncodeToString(sum[:16])
	for addr, id := range ids {
		if id.ClusterID != "" && id.ClusterID != clusterID {
			return fmt.Errorf("node: seed %s belongs to cluster %q, these seeds would form %q: fix --seeds", addr, id.ClusterID, clusterID)
		}
	}
	n.meta.ClusterID = clusterID
	n.meta.NodeID = n.cfg.NodeID
	n.meta.Voters = slices.Sorted(func(yield func(model.NodeID) bool) {
		for id := range byID {
			if !yield(id) {
				return
			}
		}
	})
	if err := n.transport.SetClusterID(clusterID); err != nil {
		return err
	}
	for id, addr := range byID {
		if id != n.cfg.NodeID {
			if err := n.transport.SetPeer(id, addr); err != nil {
				return fmt.Errorf("node: seed %s: %w", addr, err)
			}
			n.peerMu.Lock()
			n.peerAddrs[id] = addr
			n.peerMu.Unlock()
		}
	}
	// A founder whose peers formed already is either late (they probed
	// it before it probed them) or lost its data dir: then the cluster
	// knows it, and it must not come back as the member it was (it could
	// vote twice in a term, or forget entries it acknowledged).
	for addr, id := range ids {
		if id.ClusterID == "" || id.NodeID == n.cfg.NodeID {
			continue
		}
		known, err := n.brokerKnown(ctx, id.NodeID)
		if err != nil {
			return fmt.Errorf("node: asking seed %s whether node %d was a member: %w", addr, n.cfg.NodeID, err)
		}
		if known {
			return fmt.Errorf("node: node %d was a member of cluster %q but its data directory %s is empty: a node that lost its data cannot rejoin as the member it was (it could vote twice or forget acknowledged writes); give it a new --node-id (rejoining as a new member is not supported yet)",
				n.cfg.NodeID, clusterID, n.cfg.DataDir)
		}
	}
	n.log.Info("formed cluster", "cluster_id", clusterID, "controller_voters", n.meta.Voters)
	return n.writeMeta()
}

// rpcAdvertised is the RPC address registered for peers: the configured
// one, with the advertised Kafka host when it binds every interface.
func (n *Node) rpcAdvertised() string {
	host, _ := n.Advertised()
	rpcAddr := n.cfg.RPCAddr
	if h, p, err := net.SplitHostPort(rpcAddr); err != nil || h == "" || h == "0.0.0.0" || h == "::" {
		if p == "" {
			p = "33145"
		}
		rpcAddr = net.JoinHostPort(host, p)
	}
	return rpcAddr
}

// peerState is the node's record of its peers' addresses.
type peerState struct {
	peerMu    sync.Mutex
	peerAddrs map[model.NodeID]string
}

// waitFounders waits until every founder has registered, so that the
// node's first topics (__consumer_offsets) are placed on all of them.
func (n *Node) waitFounders(ctx context.Context) error {
	for {
		t := n.Tables()
		missing := 0
		for _, id := range n.meta.Voters {
			if _, ok := t.Broker(id); !ok {
				missing++
			}
		}
		if missing == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node: waiting for %d founders to register: %w", missing, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// transferTimeout bounds how long a clean shutdown waits for its groups'
// leadership to move to peers.
const transferTimeout = 5 * time.Second

// transferLeaders moves the leadership of every group led here to a peer
// before the node stops (cluster mode), so producers see a new leader at
// once instead of after an election timeout; it gives up at
// transferTimeout (the peers may be down too) or when ctx ends.
func (n *Node) transferLeaders(ctx context.Context) {
	if n.transport == nil || n.rt == nil || n.failing.Load() {
		return // a node stopping on a storage error leads nothing that answers
	}
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	for {
		leading := n.shedLeaders(ctx.Done())
		if leading == 0 {
			return
		}
		select {
		case <-ctx.Done():
			n.log.Warn("stopping while still leading groups: their leadership did not move to a peer", "groups", leading)
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Node-to-node methods (rpc.FirstUserMethod and up).
const methodBrokerKnown rpc.Method = rpc.FirstUserMethod

// brokerKnown asks a peer whether this node is registered in its tables.
func (n *Node) brokerKnown(ctx context.Context, peer model.NodeID) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		resp, err := n.transport.Call(ctx, peer, methodBrokerKnown, binary.BigEndian.AppendUint32(nil, uint32(n.cfg.NodeID)))
		if err == nil {
			if len(resp) != 1 {
				return false, fmt.Errorf("node: broker-known answer of %d bytes: %w", len(resp), model.ErrCorrupt)
			}
			return resp[0] == 1, nil
		}
		select {
		case <-ctx.Done():
			return false, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (n *Node) handleBrokerKnown(_ context.Context, _ model.NodeID, req []byte) ([]byte, error) {
	if len(req) != 4 {
		return nil, fmt.Errorf("node: broker-known request of %d bytes", len(req))
	}
	c := n.ctrlUp.Load()
	if c == nil {
		return []byte{0}, nil // the controller is not up: nothing registered here yet
	}
	_, ok := c.tables.Load().Broker(model.NodeID(binary.BigEndian.Uint32(req)))
	if ok {
		return []byte{1}, nil
	}
	return []byte{0}, nil
}

// Live implements kafka.Broker: whether a peer answers the node-level
// heartbeat (always true on a cluster of one, and for this node).
func (n *Node) Live(id model.NodeID) bool {
	if n.transport == nil || id == n.cfg.NodeID {
		return true
	}
	return n.transport.Live(id)
}

// storageFailed takes a node whose shard storage failed out of the
// cluster: its groups on that shard stopped, yet its transport would keep
// answering the node-level heartbeat (peers would wait for groups that
// never answer: a quiesced group wakes only when a node goes down) and its
// Kafka listener would keep naming it leader. The node closes, as
// Redpanda's does on a storage error: peers see it down and elect leaders
// among themselves, clients move to them, and Failed tells `petrel serve`
// to exit with the error. Restarting the node recovers it.
func (n *Node) storageFailed(err error) {
	n.failOnce.Do(func() {
		n.failErr = err
		n.failing.Store(true)
		n.ready.Store(false)
		n.log.Error("storage failed: the node stops (restart it to recover)", "err", err)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = n.Close(ctx)
			close(n.failed)
		}()
	})
}

// Failed is closed once the node stopped itself because its storage
// failed; Err then says why.
func (n *Node) Failed() <-chan struct{} { return n.failed }

// Err is the storage error that stopped the node, or nil.
func (n *Node) Err() error {
	select {
	case <-n.failed:
		return n.failErr
	default:
		return nil
	}
}

// AwakeGroups counts the Raft groups this node ticks (not quiesced): zero
// on an idle node, whatever its number of partitions. Any goroutine.
func (n *Node) AwakeGroups() int64 {
	var a int64
	for _, m := range n.shards {
		a += m.Active()
	}
	return a
}
