package partition

import (
	"bytes"
	"errors"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Outbound is one Raft message for a peer, tagged with its group.
type Outbound struct {
	Group uint64
	Msg   *pb.Message
}

// Sender carries a shard's Raft messages for one peer node: every group's
// messages produced by one pass of the shard's loop go in one call (the
// transport coalesces them into one frame). It must not block; messages
// it cannot carry are dropped (Raft resends).
type Sender func(to model.NodeID, msgs []Outbound)

// Peers is how a Manager reaches the other nodes of the cluster.
type Peers struct {
	Send Sender
	// Live reports whether a node answers the node-level heartbeat. A
	// leader quiesces without waiting for followers on dead nodes.
	Live func(model.NodeID) bool
	// Now is the clock for in-sync tracking (time.Now).
	Now func() time.Time
	// OnFail is told, once, that the shard's storage failed (its groups
	// stop): the node leaves the cluster so that peers elect leaders
	// elsewhere. It runs on the shard and must not block.
	OnFail func(error)
}

// TickInterval is how often the node ticks the groups that are not
// quiesced; a follower campaigns after ElectionTicks without hearing
// from its leader (randomised by raft up to twice that).
const (
	TickInterval  = 100 * time.Millisecond
	ElectionTicks = 10
)

// ReplicaLagMax is Kafka's replica.lag.time.max.ms: a follower whose log
// has not matched the leader's for this long leaves the in-sync set.
const ReplicaLagMax = 30 * time.Second

// quiesceContext marks the heartbeat a leader sends when its group goes
// idle: the follower stops ticking until something happens.
var quiesceContext = []byte("petrel-quiesce")

// SetPeers connects the manager to the cluster; before it, messages for
// peers are dropped (a group of one never has any).
func (m *Manager) SetPeers(p Peers) {
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Live == nil {
		p.Live = func(model.NodeID) bool { return true }
	}
	m.peers = p
	m.live.Store(&p.Live)
}

// isLive is peers.Live from any goroutine (true before SetPeers).
func (m *Manager) isLive(n model.NodeID) bool {
	f := m.live.Load()
	return f == nil || (*f)(n)
}

// Active is the number of groups that need ticks; the node's ticker skips
// a shard with none. Any goroutine.
func (m *Manager) Active() int64 { return m.active.Load() }

// queue adds a message for a peer to the shard's outbox.
func (m *Manager) queue(r *Replica, msg *pb.Message) {
	to := nodeID(msg.GetTo())
	if m.outbox == nil {
		m.outbox = make(map[model.NodeID][]Outbound)
	}
	m.outbox[to] = append(m.outbox[to], Outbound{Group: r.cfg.Group, Msg: msg})
	if msg.GetType() == pb.MsgSnap {
		// Raft never resends a snapshot by itself, and the transport may
		// drop it: report it sent. A member that did not get it rejects
		// the appends that follow and is sent another.
		r.rn.ReportSnapshot(msg.GetTo(), raft.SnapshotFinish)
		r.markDirty()
	}
}

// flushOutbox hands every queued message to the sender, one call per
// peer.
func (m *Manager) flushOutbox() {
	if len(m.outbox) == 0 {
		return
	}
	for to, msgs := range m.outbox {
		if m.peers.Send != nil && len(msgs) > 0 {
			m.peers.Send(to, msgs)
		}
		clear(msgs)
		m.outbox[to] = msgs[:0]
	}
}

// Step hands messages from peers to the group with the key; messages for a
// group this shard does not hold are dropped (it may not be open yet:
// Raft resends).
func (m *Manager) Step(key model.PartitionKey, msgs []*pb.Message) {
	r := m.replicas[key]
	if r == nil || r.removed {
		return
	}
	for _, msg := range msgs {
		r.step(msg)
	}
}

// Tick advances the logical clock of every group not quiesced, and
// quiesces the leaders whose groups have nothing left to do.
func (m *Manager) Tick() {
	for r := range m.ticking {
		if r.removed {
			m.setQuiesced(r, true)
			continue
		}
		// Before the tick: a tick makes a leader's heartbeats, which
		// would look like work left to do.
		if r.maybeQuiesce() {
			continue
		}
		r.rn.Tick()
		r.markDirty()
		r.updateISR()
	}
}

// Wake makes every group with a member on node ticking again: its node
// stopped (or resumed) answering, so a follower must be able to elect a
// new leader and a leader must see its in-sync set change.
func (m *Manager) Wake(node model.NodeID) {
	for _, r := range m.replicas {
		if slices.Contains(r.cfg.Peers, node) {
			r.wake()
		}
	}
}

func (m *Manager) setQuiesced(r *Replica, q bool) {
	if r.quiesced == q {
		return
	}
	r.quiesced = q
	r.lease.setQuiesced(q, time.Now())
	if q {
		delete(m.ticking, r)
		m.active.Add(-1)
	} else {
		if m.ticking == nil {
			m.ticking = make(map[*Replica]struct{})
		}
		m.ticking[r] = struct{}{}
		m.active.Add(1)
	}
}

// multi reports whether the group has members on other nodes.
func (r *Replica) multi() bool {
	return r.cfg.Join || len(r.cfg.Peers) > 1 || (len(r.cfg.Peers) == 1 && r.cfg.Peers[0] != r.cfg.Node)
}

// wake resumes ticking (groups of one never need it).
func (r *Replica) wake() {
	if r.multi() && !r.removed {
		r.m.setQuiesced(r, false)
	}
}

// step hands one message from a peer to raft. Anything but a heartbeat
// (or its response) wakes the group; a quiescing heartbeat from the
// leader puts a follower that is caught up to sleep.
func (r *Replica) step(msg *pb.Message) {
	t := msg.GetType()
	quiesce := t == pb.MsgHeartbeat && bytes.Equal(msg.Context, quiesceContext)
	if quiesce {
		msg.Context = nil
	}
	if t != pb.MsgHeartbeat && t != pb.MsgHeartbeatResp {
		r.wake()
	}
	if r.leader && (t == pb.MsgAppResp || t == pb.MsgHeartbeatResp) && model.Term(msg.GetTerm()) == r.term {
		r.lease.heardFrom(nodeID(msg.GetFrom()), time.Now())
	}
	if err := r.rn.Step(msg); err != nil {
		r.logg.Debug("step", "type", t.String(), "from", msg.GetFrom(), "err", err)
	}
	r.markDirty()
	if quiesce {
		st := r.rn.BasicStatus()
		// Its heartbeat response is pending (HasReady), which is fine:
		// caught up means every entry the leader has is staged here.
		if st.RaftState == raft.StateFollower && st.Lead == msg.GetFrom() && st.GetCommit() == uint64(r.appendLast) {
			r.m.setQuiesced(r, true)
		} else {
			r.wake()
		}
	}
}

// maybeQuiesce puts an idle leader's group to sleep (and reports so):
// every entry is
// committed and every live follower has all of them. The followers hear it
// in a last heartbeat and stop ticking too; a proposal, a message other
// than a heartbeat, or a node going down wakes the group.
func (r *Replica) maybeQuiesce() bool {
	if !r.leader || !r.ready || len(r.waiters) > 0 || len(r.dups) > 0 || r.rn.HasReady() {
		return false
	}
	st := r.rn.Status()
	if st.LeadTransferee != raft.None || st.GetCommit() != uint64(r.appendLast) {
		return false
	}
	var followers []uint64
	for id, pr := range st.Progress {
		if id == st.ID {
			continue // learners too: one catching up needs the leader awake
		}
		if !r.m.peers.Live(nodeID(id)) {
			continue
		}
		if pr.Match != st.GetCommit() || pr.State != tracker.StateReplicate {
			return false
		}
		followers = append(followers, id)
	}
	r.updateISR()
	r.m.setQuiesced(r, true)
	term, commit := st.GetTerm(), st.GetCommit()
	for _, id := range followers {
		r.m.queue(r, &pb.Message{Type: pb.MsgHeartbeat.Enum(), To: &id, From: &st.ID, Term: &term,
			Commit: &commit, Context: quiesceContext})
	}
	return true
}

// updateISR recomputes a leader's in-sync replicas: itself and every
// follower whose log matched the leader's end within ReplicaLagMax and
// whose node is alive. Published when it changes.
func (r *Replica) updateISR() {
	if !r.leader {
		return
	}
	now := r.m.peers.Now()
	st := r.rn.Status()
	if r.caughtUp == nil {
		r.caughtUp = make(map[model.NodeID]time.Time)
	}
	isr := []model.NodeID{r.cfg.Node}
	for _, p := range r.cfg.Peers {
		if p == r.cfg.Node {
			continue
		}
		pr, ok := st.Progress[raftID(p)]
		if ok && pr.Match >= uint64(r.appendLast) && r.m.peers.Live(p) {
			r.caughtUp[p] = now
		}
		if at, ok := r.caughtUp[p]; ok && now.Sub(at) <= ReplicaLagMax && r.m.peers.Live(p) {
			isr = append(isr, p)
		}
	}
	if !slices.Equal(isr, r.isr) {
		r.isr = isr
		r.publish()
	}
}

// leaderID maps raft's leader to a node id (-1: none).
func (r *Replica) leaderID() model.NodeID {
	lead := r.rn.BasicStatus().Lead
	if lead == raft.None {
		return -1
	}
	return nodeID(lead)
}

// nodeID maps a Raft member id back to its node id (raftID's inverse).
func nodeID(id uint64) model.NodeID { return model.NodeID(id - 1) }

// nodeIDs maps Raft member ids to node ids.
func nodeIDs(ids []uint64) []model.NodeID {
	out := make([]model.NodeID, len(ids))
	for i, id := range ids {
		out[i] = nodeID(id)
	}
	return out
}

// TransferLeaders hands the leadership of every group this shard leads
// with peers to its most caught-up live follower (a graceful shutdown, so
// clients see a new leader at once rather than after an election
// timeout). It returns how many groups this shard still leads.
func (m *Manager) TransferLeaders() int {
	leading := 0
	for _, r := range m.replicas {
		if r.removed || !r.leader || !r.multi() {
			continue
		}
		leading++
		st := r.rn.Status()
		if st.LeadTransferee != raft.None {
			continue // under way
		}
		var best uint64
		var bestMatch uint64
		for id, pr := range st.Progress {
			if id == st.ID || pr.IsLearner || !m.peers.Live(nodeID(id)) {
				continue
			}
			if best == 0 || pr.Match > bestMatch {
				best, bestMatch = id, pr.Match
			}
		}
		if best != 0 {
			r.wake()
			r.rn.TransferLeader(best)
			r.markDirty()
		}
	}
	return leading
}

// Preferred-leader errors (Kafka's ElectLeaders codes).
var (
	// ErrElectionNotNeeded: the preferred replica leads already.
	ErrElectionNotNeeded = errors.New("partition: the preferred replica leads already")
	// ErrPreferredUnavailable: the preferred replica is down or behind.
	ErrPreferredUnavailable = errors.New("partition: the preferred replica is not available or not caught up")
)

// ElectPreferred hands the group's leadership to its preferred replica
// (the first of its replicas) if that replica is live and has the
// leader's whole log. This replica must lead. The move completes
// asynchronously (the preferred replica campaigns at once).
func (r *Replica) ElectPreferred() error {
	pref := r.preferred
	switch {
	case r.removed || !r.leader:
		return ErrNotLeader
	case pref == r.cfg.Node:
		return ErrElectionNotNeeded
	case !slices.Contains(r.cfg.Peers, pref):
		return ErrPreferredUnavailable
	case !r.m.peers.Live(pref):
		return ErrPreferredUnavailable
	}
	st := r.rn.Status()
	pr, ok := st.Progress[raftID(pref)]
	if !ok || pr.IsLearner || pr.State != tracker.StateReplicate || pr.Match < uint64(r.appendLast) {
		return ErrPreferredUnavailable
	}
	if st.LeadTransferee == raftID(pref) {
		return nil
	}
	r.wake()
	r.rn.TransferLeader(raftID(pref))
	r.markDirty()
	return nil
}

// BalanceLeaders moves every group this shard leads whose preferred
// replica is another node, live and caught up, back to it (leaders spread
// as placement planned them, e.g. after a node returns). It returns the
// transfers started.
func (m *Manager) BalanceLeaders() int {
	n := 0
	for _, r := range m.replicas {
		if !r.leader || !r.multi() || r.cfg.Kind != KindData {
			continue
		}
		if r.ElectPreferred() == nil {
			n++
		}
	}
	return n
}
