package partition

import (
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

// TestLease: a leader's read lease lasts LeaseDuration after the
// quorum's oldest recent answer; quiesced, it holds while a quorum of the
// voters' nodes answers the node-level heartbeat; waking counts the live
// followers as heard; a joint configuration needs both halves.
func TestLease(t *testing.T) {
	down := map[model.NodeID]bool{}
	m := &Manager{}
	live := func(n model.NodeID) bool { return !down[n] }
	m.live.Store(&live)
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	l := newLease(m, 0)

	if l.Valid(t0) {
		t.Fatal("valid before the leader knows its voters")
	}
	l.setVoters([]model.NodeID{0, 1, 2}, nil, t0)
	if l.Valid(t0) {
		t.Fatal("valid before any follower answered")
	}
	l.heardFrom(1, at(100*time.Millisecond))
	for _, c := range []struct {
		at   time.Duration
		want bool
	}{{100 * time.Millisecond, true}, {100*time.Millisecond + LeaseDuration - 1, true}, {100*time.Millisecond + LeaseDuration, false}} {
		if got := l.Valid(at(c.at)); got != c.want {
			t.Errorf("answer from 1 at 100ms: valid at %v = %v, want %v", c.at, got, c.want)
		}
	}
	// The quorum's most recent answer counts: 2 answering later extends it.
	l.heardFrom(2, at(400*time.Millisecond))
	if !l.Valid(at(400*time.Millisecond + LeaseDuration - 1)) {
		t.Error("answer from 2 at 400ms did not extend the lease")
	}

	// Quiesced: the node-level heartbeat decides, whatever the time.
	l.setQuiesced(true, at(time.Second))
	if !l.Valid(at(time.Hour)) {
		t.Error("quiesced with every node live: not valid")
	}
	down[1] = true
	if !l.Valid(at(time.Hour)) {
		t.Error("quiesced with 2 of 3 nodes live: not valid")
	}
	down[2] = true
	if l.Valid(at(time.Hour)) {
		t.Error("quiesced with only the leader's node live: valid")
	}
	// Waking with 1 and 2 down: nobody counts as heard.
	l.setQuiesced(false, at(time.Hour))
	if l.Valid(at(time.Hour)) {
		t.Error("woken with the followers' nodes down: valid")
	}
	// Waking with 2 back: it counts as heard at the wake.
	down[2] = false
	l.setQuiesced(true, at(2*time.Hour))
	l.setQuiesced(false, at(2*time.Hour))
	if !l.Valid(at(2*time.Hour+LeaseDuration-1)) || l.Valid(at(2*time.Hour+LeaseDuration)) {
		t.Error("woken with node 2 live: the lease is not LeaseDuration from the wake")
	}

	// Joint configuration {0,1,2} → {0,3,4}: a quorum of each half.
	down = map[model.NodeID]bool{}
	l = newLease(m, 0)
	l.setVoters([]model.NodeID{0, 3, 4}, []model.NodeID{0, 1, 2}, t0)
	l.heardFrom(1, t0)
	if l.Valid(t0) {
		t.Error("joint: valid with only the outgoing half's quorum")
	}
	l.heardFrom(3, t0)
	if !l.Valid(t0) {
		t.Error("joint: not valid with a quorum of each half")
	}
	// A new term forgets every answer.
	l.reset(t0)
	if l.Valid(t0) {
		t.Error("valid after reset")
	}

	// A group of one always holds it; so does a replica without a lease.
	one := newLease(m, 0)
	one.setVoters([]model.NodeID{0}, nil, t0)
	one.setQuiesced(false, t0)
	if !one.Valid(at(time.Hour)) {
		t.Error("group of one: not valid")
	}
	var none *Lease
	if !none.Valid(t0) {
		t.Error("nil lease: not valid")
	}
}
