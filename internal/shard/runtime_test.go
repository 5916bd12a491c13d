package shard

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Every function sent to a shard runs on that shard's one goroutine, and
// different shards are different goroutines. The per-shard slots are
// written without locks: the race detector fails the test if two
// goroutines ever touch the same shard's slot.
func TestOwnership(t *testing.T) {
	r := startRuntime(t, Config{Shards: 4})
	ctx := testCtx(t)
	type slot struct {
		owner uint64
		runs  int
	}
	slots := make([]slot, r.Len())
	var wg sync.WaitGroup
	var bad atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				id := model.ShardID((g + i) % r.Len())
				err := r.InvokeOn(ctx, id, func(s *Shard) {
					if s.ID() != id {
						bad.Add(1)
					}
					sl := &slots[s.ID()]
					if sl.owner == 0 {
						sl.owner = goid()
					} else if sl.owner != goid() {
						bad.Add(1)
					}
					sl.runs++
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d functions ran off their owner goroutine", bad.Load())
	}
	seen := map[uint64]bool{}
	total := 0
	for i := range slots {
		var sl slot
		if err := r.InvokeOn(ctx, model.ShardID(i), func(*Shard) { sl = slots[i] }); err != nil {
			t.Fatal(err)
		}
		if seen[sl.owner] {
			t.Fatalf("shard %d shares goroutine %d with another shard", i, sl.owner)
		}
		seen[sl.owner] = true
		total += sl.runs
	}
	if total != 8*200 {
		t.Fatalf("ran %d functions, want %d", total, 8*200)
	}
}

// Messages from one goroutine to one shard run in submission order.
func TestOrderPerShard(t *testing.T) {
	r := startRuntime(t, Config{Shards: 2, InboxLen: 16})
	ctx := testCtx(t)
	const producers, n = 4, 500
	last := make([][producers]int, r.Len()) // owned by each shard
	var bad atomic.Int64
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= n; i++ {
				id := model.ShardID(i % r.Len())
				fn := func(s *Shard) {
					if last[s.ID()][p] >= i {
						bad.Add(1)
					}
					last[s.ID()][p] = i
				}
				// Fire-and-forget with backoff on a full inbox, bounded.
				for tries := 0; ; tries++ {
					err := r.Submit(id, fn)
					if err == nil {
						break
					}
					if !errors.Is(err, ErrInboxFull) || tries > 1e6 || ctx.Err() != nil {
						t.Errorf("submit: %v after %d tries", err, tries)
						return
					}
					time.Sleep(10 * time.Microsecond)
				}
			}
		}()
	}
	wg.Wait()
	for i := 0; i < r.Len(); i++ {
		var got [producers]int
		if err := r.InvokeOn(ctx, model.ShardID(i), func(s *Shard) { got = last[i] }); err != nil {
			t.Fatal(err)
		}
		want := n - (n-i)%r.Len() // the last sequence number sent to shard i
		for p, v := range got {
			if v != want {
				t.Errorf("shard %d producer %d: last %d, want %d", i, p, v, want)
			}
		}
	}
	if bad.Load() != 0 {
		t.Fatalf("%d messages ran out of order", bad.Load())
	}
}

// countLoop records how many inbox messages each batch ran.
type countLoop struct {
	seen  uint64
	sizes []uint64
}

func (l *countLoop) AfterBatch(s *Shard) {
	n := s.Stats().Tasks
	l.sizes = append(l.sizes, n-l.seen)
	l.seen = n
}
func (l *countLoop) Idle() bool { return true }

// Everything in the inbox when the shard wakes is one batch: one
// AfterBatch for all of it.
func TestBatchDrainsWholeInbox(t *testing.T) {
	r := newRuntime(t, Config{Shards: 1, InboxLen: 256})
	loop := &countLoop{}
	ran := 0
	if err := r.Submit(0, func(s *Shard) { s.SetLoop(loop) }); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if err := r.Submit(0, func(*Shard) { ran++ }); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the batch to run", func() bool { return r.Stats()[0].Tasks == 101 })
	if err := r.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	// Stop joined the shard goroutine: its state is ours to read now.
	if ran != 100 || len(loop.sizes) < 1 || loop.sizes[0] != 101 {
		t.Fatalf("ran %d, batch sizes %v; want one batch of 101 first", ran, loop.sizes)
	}
	if st := r.Stats()[0]; st.MaxBatch != 101 {
		t.Fatalf("MaxBatch %d, want 101", st.MaxBatch)
	}
}

// A full inbox rejects Submit at once and makes InvokeOn wait (bounded by
// its ctx); the work accepted still runs once the shard catches up.
func TestBackpressure(t *testing.T) {
	r := startRuntime(t, Config{Shards: 1, InboxLen: 8})
	release := make(chan struct{})
	entered := make(chan struct{})
	if err := r.Submit(0, func(*Shard) { close(entered); <-release }); err != nil {
		t.Fatal(err)
	}
	<-entered
	var ran atomic.Int64
	for i := 0; i < 8; i++ {
		if err := r.Submit(0, func(*Shard) { ran.Add(1) }); err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
	}
	if err := r.Submit(0, func(*Shard) { ran.Add(1) }); !errors.Is(err, ErrInboxFull) {
		t.Fatalf("submit to a full inbox: %v, want ErrInboxFull", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	err := r.InvokeOn(ctx, 0, func(*Shard) { ran.Add(1) })
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("InvokeOn on a full inbox: %v, want DeadlineExceeded", err)
	}
	if st := r.Stats()[0]; st.Rejected != 1 || st.InboxLen != 8 {
		t.Fatalf("stats %+v: want 1 rejected, 8 queued", st)
	}
	// A blocked InvokeOn gets in once there is room.
	done := make(chan error, 1)
	go func() { done <- r.InvokeOn(testCtx(t), 0, func(*Shard) { ran.Add(1) }) }()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "queued work to run", func() bool { return ran.Load() == 9 })
	if _, err := r.shard(5); !errors.Is(err, ErrNoShard) {
		t.Fatalf("shard 5 of 1: %v", err)
	}
	if err := r.Submit(5, func(*Shard) {}); !errors.Is(err, ErrNoShard) {
		t.Fatalf("submit to shard 5 of 1: %v", err)
	}
}

// Stop rejects new work at once, runs everything accepted (inbox and
// pending completions), then returns; later calls fail with ErrStopped.
func TestStopDrainsThenRejects(t *testing.T) {
	r := newRuntime(t, Config{Shards: 2, InboxLen: 64})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	entered := make(chan struct{})
	var ran, completed atomic.Int64
	if err := r.Submit(0, func(s *Shard) {
		close(entered)
		<-release
		// A helper started during the drain still completes before exit.
		if err := s.Go(func() {}, func(*Shard) { completed.Add(1) }); err != nil {
			t.Error(err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	<-entered
	for i := 0; i < 50; i++ {
		if err := r.Submit(model.ShardID(i%2), func(*Shard) { ran.Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop(testCtx(t)) }()
	waitFor(t, "inboxes to close", func() bool {
		return errors.Is(r.Submit(1, func(*Shard) {}), ErrStopped)
	})
	if err := r.InvokeOn(testCtx(t), 0, func(*Shard) {}); !errors.Is(err, ErrStopped) {
		t.Fatalf("InvokeOn while stopping: %v", err)
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if ran.Load() != 50 || completed.Load() != 1 {
		t.Fatalf("after stop: ran %d of 50, %d of 1 completions", ran.Load(), completed.Load())
	}
	if err := r.Start(); !errors.Is(err, ErrStopped) {
		t.Fatalf("start after stop: %v", err)
	}
	if err := r.Stop(testCtx(t)); err != nil {
		t.Fatalf("second stop: %v", err)
	}
}

// Stop is bounded by its ctx even if a shard is stuck.
func TestStopBounded(t *testing.T) {
	r := newRuntime(t, Config{Shards: 1})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	entered := make(chan struct{})
	if err := r.Submit(0, func(*Shard) { close(entered); <-release }); err != nil {
		t.Fatal(err)
	}
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := r.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stop with a stuck shard: %v, want DeadlineExceeded", err)
	}
	close(release)
	if err := r.Stop(testCtx(t)); err != nil {
		t.Fatalf("stop after unsticking: %v", err)
	}
}

func TestStopBeforeStart(t *testing.T) {
	r := newRuntime(t, Config{Shards: 1})
	if err := r.Submit(0, func(*Shard) { t.Error("queued work ran after stop without start") }); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); !errors.Is(err, ErrStopped) {
		t.Fatalf("start after stop: %v", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	r := newRuntime(t, Config{})
	c := r.Config()
	if r.Len() < 1 || c.InboxLen != DefaultInboxLen || c.MaxPending != DefaultMaxPending ||
		c.TickInterval != DefaultTickInterval || c.MemoryBytes != DefaultMemoryBytes || c.Pin {
		t.Fatalf("defaults: %d shards, %+v", r.Len(), c)
	}
	if _, err := New(Config{Shards: 64, MemoryBytes: 1 << 20}, nil); err == nil {
		t.Fatal("1 MiB over 64 shards accepted")
	}
}
