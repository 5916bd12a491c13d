package shard

import (
	"container/heap"
	"time"
)

// Timer is a one-shot callback on its shard, from Shard.AfterFunc. Owned
// by its shard: Stop and Reset are owner only.
type Timer struct {
	s     *Shard
	when  time.Time
	seq   uint64
	index int // position in the heap; -1 when not scheduled
	fn    func(*Shard)
}

// AfterFunc runs fn on this shard once d has passed. All of a shard's
// timers share one runtime timer armed for the earliest deadline, so a
// shard with no timer due never wakes. Owner only.
func (s *Shard) AfterFunc(d time.Duration, fn func(*Shard)) *Timer {
	t := &Timer{s: s, index: -1, fn: fn}
	t.Reset(d)
	return t
}

// Stop cancels the timer; it reports whether the timer was pending.
func (t *Timer) Stop() bool {
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.s.timers, t.index)
	return true
}

// Reset (re)schedules the timer to fire d from now.
func (t *Timer) Reset(d time.Duration) {
	t.Stop()
	s := t.s
	s.seq++
	t.when, t.seq = time.Now().Add(d), s.seq
	heap.Push(&s.timers, t)
}

// fireTimers runs every timer due now. Timers scheduled by those callbacks
// wait for the next iteration, even with d <= 0, so a callback that
// re-arms itself cannot spin the shard inside one batch.
func (s *Shard) fireTimers() {
	if len(s.timers) == 0 {
		return
	}
	now := time.Now()
	s.due = s.due[:0]
	for len(s.timers) > 0 && !s.timers[0].when.After(now) {
		s.due = append(s.due, heap.Pop(&s.timers).(*Timer))
	}
	for i, t := range s.due {
		s.due[i] = nil
		s.stats.timers.Add(1)
		t.fn(s)
	}
}

// rearm points the shard's runtime timer at the earliest deadline, or
// stops it when no timer is scheduled.
func (s *Shard) rearm() {
	if len(s.timers) == 0 {
		if s.armed {
			s.tm.Stop()
			s.armed = false
		}
		return
	}
	next := s.timers[0].when
	if s.armed && next.Equal(s.armedAt) {
		return
	}
	s.tm.Reset(time.Until(next))
	s.armed, s.armedAt = true, next
}

// timerHeap orders timers by deadline, then by scheduling order.
type timerHeap []*Timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

// Ticker is a periodic callback at the shard's TickInterval, for things
// like Raft ticks. A ticker is registered asleep: registering costs
// nothing at run time, and only awake tickers make the shard's single tick
// timer run. An entity that goes quiet (a quiesced Raft group) calls Sleep
// and Wakes when it has work again. Owned by its shard: all methods are
// owner only.
type Ticker struct {
	s      *Shard
	fn     func(*Shard)
	index  int // position in tickState.awake; -1 when asleep
	closed bool
}

type tickState struct {
	awake   []*Ticker
	timer   *Timer // the one tick timer; scheduled iff len(awake) > 0
	scratch []*Ticker
}

// NewTicker registers fn to run every TickInterval while the ticker is
// awake. It starts asleep. Owner only.
func (s *Shard) NewTicker(fn func(*Shard)) *Ticker {
	s.stats.tickers.Add(1)
	return &Ticker{s: s, fn: fn, index: -1}
}

// Awake reports whether the ticker is ticking.
func (t *Ticker) Awake() bool { return t.index >= 0 }

// Wake makes the ticker tick from the next shard tick on.
func (t *Ticker) Wake() {
	if t.index >= 0 || t.closed {
		return
	}
	ts := &t.s.tick
	t.index = len(ts.awake)
	ts.awake = append(ts.awake, t)
	t.s.stats.active.Add(1)
	if ts.timer == nil {
		ts.timer = &Timer{s: t.s, index: -1, fn: (*Shard).onTick}
	}
	if ts.timer.index < 0 {
		ts.timer.Reset(t.s.rt.cfg.TickInterval)
	}
}

// Sleep stops the ticker until the next Wake.
func (t *Ticker) Sleep() {
	if t.index < 0 {
		return
	}
	ts := &t.s.tick
	last := len(ts.awake) - 1
	ts.awake[t.index] = ts.awake[last]
	ts.awake[t.index].index = t.index
	ts.awake[last] = nil
	ts.awake = ts.awake[:last]
	t.index = -1
	t.s.stats.active.Add(-1)
	if len(ts.awake) == 0 {
		ts.timer.Stop()
	}
}

// Close unregisters the ticker for good.
func (t *Ticker) Close() {
	if t.closed {
		return
	}
	t.Sleep()
	t.closed = true
	t.s.stats.tickers.Add(-1)
}

// onTick runs every awake ticker once, then schedules the next tick if any
// ticker is still awake. Tickers woken or put to sleep by a callback take
// effect from the next tick.
func (s *Shard) onTick() {
	ts := &s.tick
	ts.scratch = append(ts.scratch[:0], ts.awake...)
	for i, t := range ts.scratch {
		ts.scratch[i] = nil
		if t.index >= 0 {
			t.fn(s)
		}
	}
	if len(ts.awake) > 0 && ts.timer.index < 0 {
		ts.timer.Reset(s.rt.cfg.TickInterval)
	}
}
