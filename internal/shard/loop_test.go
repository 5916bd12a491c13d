package shard

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
)

// fakeEngine is the shape of the storage engine's sync round: writes
// collect on the shard; AfterBatch starts a round on a helper goroutine
// when none is in flight; the round's completion acknowledges what it
// covered, and the next round starts in the same iteration.
type fakeEngine struct {
	pending  []int // written, not yet in a round
	inFlight bool
	rounds   [][]int // what each round covered, in order
	acked    []int
	overlap  int // rounds started while one was in flight (must stay 0)
	gate     chan struct{}
	started  chan int // round sizes, as rounds start
}

func (e *fakeEngine) write(v int) { e.pending = append(e.pending, v) }

func (e *fakeEngine) AfterBatch(s *Shard) {
	if len(e.pending) == 0 {
		return
	}
	if e.inFlight {
		return
	}
	round := e.pending
	e.pending = nil
	e.inFlight = true
	e.rounds = append(e.rounds, round)
	e.started <- len(round)
	err := s.Go(func() { <-e.gate }, func(*Shard) { // the fdatasync
		e.inFlight = false
		e.acked = append(e.acked, round...)
	})
	if err != nil {
		panic(err)
	}
}

func (e *fakeEngine) Idle() bool { return len(e.pending) == 0 && !e.inFlight }

// While a round is in flight the shard keeps accepting writes; they all go
// into the next round, which starts as soon as the first completes.
func TestLoopSyncRoundOverlap(t *testing.T) {
	r := startRuntime(t, Config{Shards: 1})
	ctx := testCtx(t)
	e := &fakeEngine{gate: make(chan struct{}), started: make(chan int, 100)}
	if err := r.InvokeOn(ctx, 0, func(s *Shard) { s.SetLoop(e); e.write(0) }); err != nil {
		t.Fatal(err)
	}
	if n := <-e.started; n != 1 {
		t.Fatalf("first round covers %d writes, want 1", n)
	}
	// Round 1 is stuck in its "fdatasync"; ten more writes arrive.
	for i := 1; i <= 10; i++ {
		if err := r.InvokeOn(ctx, 0, func(*Shard) { e.write(i) }); err != nil {
			t.Fatal(err)
		}
	}
	e.gate <- struct{}{} // round 1 completes
	if n := <-e.started; n != 10 {
		t.Fatalf("second round covers %d writes, want 10", n)
	}
	e.gate <- struct{}{}
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if len(e.rounds) != 2 || len(e.acked) != 11 {
		t.Fatalf("rounds %v, acked %v", e.rounds, e.acked)
	}
	for i, v := range e.acked {
		if v != i {
			t.Fatalf("acked %v: out of order", e.acked)
		}
	}
}

// Stop waits for the Loop to become idle: a round still in flight at Stop
// completes, and writes waiting behind it get their own round.
func TestStopWaitsForLoop(t *testing.T) {
	r := newRuntime(t, Config{Shards: 1})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	e := &fakeEngine{gate: make(chan struct{}), started: make(chan int, 100)}
	if err := r.InvokeOn(ctx, 0, func(s *Shard) { s.SetLoop(e); e.write(0) }); err != nil {
		t.Fatal(err)
	}
	<-e.started
	if err := r.InvokeOn(ctx, 0, func(*Shard) { e.write(1) }); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop(ctx) }()
	e.gate <- struct{}{}
	<-e.started
	e.gate <- struct{}{}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if len(e.acked) != 2 {
		t.Fatalf("acked %v at stop, want both writes", e.acked)
	}
}

// Shards call each other with Shard.Call in every direction at once,
// with small inboxes and few pending slots: nothing blocks, so nothing
// deadlocks; refusals (ErrInboxFull, ErrBusy) are retried from a timer.
func TestCallAcrossShardsNoDeadlock(t *testing.T) {
	const shards, perShard = 4, 300
	r := startRuntime(t, Config{Shards: shards, InboxLen: 4, MaxPending: 3})
	ctx := testCtx(t)
	type state struct {
		sent, replies, served int
	}
	st := make([]state, shards) // st[i] owned by shard i
	var finished atomic.Int64
	done := make(chan struct{})
	var pump func(s *Shard)
	pump = func(s *Shard) {
		me := &st[s.ID()]
		for me.sent < perShard {
			target := model.ShardID((int(s.ID()) + 1 + me.sent%(shards-1)) % shards)
			err := s.Call(target,
				func(t *Shard) { st[t.ID()].served++ },
				func(s *Shard) {
					me.replies++
					if me.replies == perShard && finished.Add(1) == shards {
						close(done)
					}
					pump(s)
				})
			if errors.Is(err, ErrInboxFull) || errors.Is(err, ErrBusy) {
				if s.Pending() == 0 {
					s.AfterFunc(0, pump) // nothing will call us back: retry soon
				}
				return
			}
			if err != nil {
				panic(err)
			}
			me.sent++
		}
	}
	for i := 0; i < shards; i++ {
		if err := r.InvokeOn(ctx, model.ShardID(i), pump); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("deadlock: %d of %d shards finished", finished.Load(), shards)
	}
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	served := 0
	for i := range st {
		served += st[i].served
		if st[i].replies != perShard {
			t.Fatalf("shard %d: %d replies, want %d", i, st[i].replies, perShard)
		}
	}
	if served != shards*perShard {
		t.Fatalf("served %d calls, want %d", served, shards*perShard)
	}
}

func TestGoBusy(t *testing.T) {
	r := startRuntime(t, Config{Shards: 1, MaxPending: 2})
	gate := make(chan struct{})
	var errs [3]error
	var completed atomic.Int64
	if err := r.InvokeOn(testCtx(t), 0, func(s *Shard) {
		for i := range errs {
			errs[i] = s.Go(func() { <-gate }, func(*Shard) { completed.Add(1) })
		}
	}); err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], ErrBusy) {
		t.Fatalf("Go with 2 slots: %v", errs)
	}
	close(gate)
	waitFor(t, "completions", func() bool { return completed.Load() == 2 })
}
