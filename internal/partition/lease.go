package partition

import (
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Leader leases. A leader cut off from its followers keeps believing it
// leads until check-quorum makes it step down (one to two election
// timeouts), while the others may already have elected a new leader that
// commits more: its high watermark, log end and records are then stale,
// and a reader sent there after reading from the new leader would see
// them go backwards. So a leader serves reads only while it holds a lease:
//
//   - awake, a quorum of voters (itself included) answered it within
//     LeaseDuration. A follower that answered at t has heard from the
//     leader by t, and grants no vote before it has ticked an election
//     timeout without hearing from it again (raft's check-quorum lease),
//     which is longer than LeaseDuration: no other leader can exist
//     before the lease ends;
//   - quiesced (nobody ticks), a quorum of voters' nodes answer the
//     node-level heartbeat. A sleeping follower campaigns only once its
//     node saw the leader's node stop answering and it then ticked an
//     election timeout; the leader's node sees the followers' nodes stop
//     answering by then, with LeaseDuration to spare.
//
// Groups of one always hold it. Writes need no lease: a proposal commits
// only with a quorum.

// LeaseDuration is how long a quorum's answer lets a leader serve reads:
// half the shortest election timeout.
const LeaseDuration = ElectionTicks * TickInterval / 2

// Lease is a leader's read lease; its ReadState carries it. Valid is
// safe from any goroutine; the rest is owned by the replica's shard.
type Lease struct {
	until    atomic.Int64 // unix nanoseconds; reads are served before it while awake
	quiesced atomic.Bool
	voters   atomic.Pointer[[2][]model.NodeID] // incoming, outgoing (joint consensus)
	self     model.NodeID
	m        *Manager

	heard map[model.NodeID]int64 // voter → last message from it (unix ns); shard only
}

func newLease(m *Manager, self model.NodeID) *Lease {
	return &Lease{self: self, m: m, heard: map[model.NodeID]int64{}}
}

// Valid reports whether the leader may serve a read at now. Any goroutine.
func (l *Lease) Valid(now time.Time) bool {
	if l == nil {
		return true
	}
	vs := l.voters.Load()
	if vs == nil {
		return false
	}
	if l.quiesced.Load() {
		return l.quorumLive(vs[0]) && l.quorumLive(vs[1])
	}
	return now.UnixNano() < l.until.Load()
}

func (l *Lease) quorumLive(voters []model.NodeID) bool {
	if len(voters) == 0 {
		return true
	}
	n := 0
	for _, v := range voters {
		if v == l.self || l.m.isLive(v) {
			n++
		}
	}
	return n > len(voters)/2
}

// setVoters records the group's voters (on a role or configuration
// change) and recomputes.
func (l *Lease) setVoters(incoming, outgoing []model.NodeID, now time.Time) {
	l.voters.Store(&[2][]model.NodeID{slices.Clone(incoming), slices.Clone(outgoing)})
	l.update(now)
}

// reset forgets every answer (a new term of leadership).
func (l *Lease) reset(now time.Time) {
	clear(l.heard)
	l.update(now)
}

// heardFrom notes a message from a member.
func (l *Lease) heardFrom(n model.NodeID, now time.Time) {
	l.heard[n] = now.UnixNano()
	l.update(now)
}

// setQuiesced switches between the two rules. Waking, the followers whose
// nodes answer the node-level heartbeat count as heard now: the quiesced
// rule held for them until this moment.
func (l *Lease) setQuiesced(q bool, now time.Time) {
	if !q {
		if vs := l.voters.Load(); vs != nil {
			for _, list := range vs {
				for _, v := range list {
					if v != l.self && l.m.isLive(v) {
						l.heard[v] = now.UnixNano()
					}
				}
			}
		}
		l.update(now)
	}
	l.quiesced.Store(q)
}

// update recomputes the end of the awake lease: the quorum's oldest
// recent answer plus LeaseDuration, in each half of a joint configuration.
func (l *Lease) update(now time.Time) {
	vs := l.voters.Load()
	if vs == nil {
		l.until.Store(0)
		return
	}
	until := int64(math.MaxInt64)
	times := make([]int64, 0, 8)
	for _, list := range vs {
		if len(list) == 0 {
			continue
		}
		if len(list) == 1 && list[0] == l.self {
			continue // a group of one
		}
		times = times[:0]
		for _, v := range list {
			if v == l.self {
				times = append(times, now.UnixNano())
			} else {
				times = append(times, l.heard[v])
			}
		}
		slices.Sort(times)
		// The quorum-th most recent answer: len/2+1 voters answered at
		// or after it.
		q := times[len(times)-(len(times)/2+1)]
		if q == 0 {
			until = 0
			continue
		}
		until = min(until, q+int64(LeaseDuration))
	}
	l.until.Store(until)
}

// leaseVoters gives the lease the group's current voters.
func (r *Replica) leaseVoters() {
	cs := r.confState()
	r.lease.setVoters(nodeIDs(cs.GetVoters()), nodeIDs(cs.GetVotersOutgoing()), time.Now())
}
