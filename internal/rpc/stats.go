package rpc

import (
	"sort"
	"sync/atomic"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Liveness is what the node-level heartbeat knows of a peer.
type Liveness int8

const (
	LivenessUnknown Liveness = iota // no heartbeat answered or failed yet
	LivenessUp
	LivenessDown
)

func (l Liveness) String() string {
	switch l {
	case LivenessUp:
		return "up"
	case LivenessDown:
		return "down"
	}
	return "unknown"
}

// PeerStats is a snapshot of one node's traffic, both directions (the
// connections we dialed and those it dialed to us). Counters are totals
// since the transport started; queue figures are current.
type PeerStats struct {
	Node model.NodeID
	Addr string // "" for a node that only dialed us

	BytesSent, BytesReceived   uint64
	FramesSent, FramesReceived uint64
	Connects                   uint64 // successful dials (handshake done)
	Reconnects                 uint64 // connects after the first
	DialFailures               uint64
	Restarts                   uint64 // answers from a new process of the node (boot id changed)
	Connected                  int    // open dialed connections now

	QueueFrames, QueueBytes int // frames waiting in the send queues now
	RaftQueueBytes          int // encoded Raft messages waiting to be flushed

	RaftMessagesSent, RaftFramesSent         uint64
	RaftMessagesReceived, RaftFramesReceived uint64
	RaftDropped                              uint64 // messages dropped: peer down or queue full

	Liveness Liveness
}

// Stats is a snapshot of the transport, one entry per node, by node id.
type Stats struct {
	Node  model.NodeID
	Peers []PeerStats
}

// counters of one remote node. Any goroutine (atomics).
type counters struct {
	bytesSent, bytesRecv, framesSent, framesRecv atomic.Uint64
	connects, dialFailures, restarts             atomic.Uint64
	raftMsgsSent, raftFramesSent                 atomic.Uint64
	raftMsgsRecv, raftFramesRecv, raftDropped    atomic.Uint64
}

func (c *counters) fill(ps *PeerStats) {
	ps.BytesSent, ps.BytesReceived = c.bytesSent.Load(), c.bytesRecv.Load()
	ps.FramesSent, ps.FramesReceived = c.framesSent.Load(), c.framesRecv.Load()
	ps.Connects, ps.DialFailures, ps.Restarts = c.connects.Load(), c.dialFailures.Load(), c.restarts.Load()
	if ps.Connects > 0 {
		ps.Reconnects = ps.Connects - 1
	}
	ps.RaftMessagesSent, ps.RaftFramesSent = c.raftMsgsSent.Load(), c.raftFramesSent.Load()
	ps.RaftMessagesReceived, ps.RaftFramesReceived = c.raftMsgsRecv.Load(), c.raftFramesRecv.Load()
	ps.RaftDropped = c.raftDropped.Load()
}

// Stats returns a snapshot of every node's counters. Any goroutine.
func (t *Transport) Stats() Stats {
	t.mu.Lock()
	byNode := make(map[model.NodeID]*PeerStats, len(t.counters))
	for id, c := range t.counters {
		ps := &PeerStats{Node: id}
		c.fill(ps)
		byNode[id] = ps
	}
	peers := make([]*peer, 0, len(t.peers))
	for _, p := range t.peers {
		peers = append(peers, p)
	}
	t.mu.Unlock()
	for _, p := range peers {
		ps := byNode[p.id]
		ps.Addr = p.address()
		ps.Liveness = Liveness(p.live.Load())
		for _, s := range p.slots {
			if w := s.current(); w != nil {
				ps.Connected++
				f, b := w.q.depth()
				ps.QueueFrames += f
				ps.QueueBytes += b
			}
		}
		ps.RaftQueueBytes = p.raft.pending()
	}
	st := Stats{Node: t.cfg.NodeID, Peers: make([]PeerStats, 0, len(byNode))}
	for _, ps := range byNode {
		st.Peers = append(st.Peers, *ps)
	}
	sort.Slice(st.Peers, func(i, j int) bool { return st.Peers[i].Node < st.Peers[j].Node })
	return st
}
