package shard

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Under concurrent Acquire/TryAcquire/Release the bytes held, counted
// independently of the Budget, never exceed its limit, and every request
// is eventually served.
func TestBudgetNeverExceedsLimit(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	const limit = 1000
	b := NewBudget("test", limit)
	var held, peak atomic.Int64
	note := func(n int64) {
		h := held.Add(n)
		for p := peak.Load(); h > p && !peak.CompareAndSwap(p, h); p = peak.Load() {
		}
		if h > limit {
			t.Errorf("held %d > limit %d", h, limit)
		}
	}
	ctx := testCtx(t)
	iters := 2000
	if testing.Short() {
		iters = 500
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			for i := 0; i < iters; i++ {
				n := rng.Int64N(400) + 1
				if rng.IntN(3) == 0 {
					if !b.TryAcquire(n) {
						continue
					}
				} else if err := b.Acquire(ctx, n); err != nil {
					t.Error(err)
					return
				}
				note(n)
				note(-n)
				b.Release(n)
			}
		}()
	}
	wg.Wait()
	if b.Used() != 0 {
		t.Fatalf("used %d after all releases", b.Used())
	}
	if peak.Load() == 0 {
		t.Fatal("nothing was ever held")
	}
}

func TestBudgetSemantics(t *testing.T) {
	b := NewBudget("inbox", 100)
	if b.Name() != "inbox" || b.Limit() != 100 {
		t.Fatal(b.Name(), b.Limit())
	}
	if err := b.Acquire(context.Background(), 101); !errors.Is(err, ErrOverBudget) {
		t.Fatalf("request over the limit: %v", err)
	}
	if !b.TryAcquire(60) || b.TryAcquire(41) || b.Used() != 60 {
		t.Fatalf("TryAcquire: used %d", b.Used())
	}
	// Acquire waits, bounded by its ctx; giving up leaves nothing held.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	err := b.Acquire(ctx, 50)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || b.Used() != 60 {
		t.Fatalf("Acquire past the limit: %v, used %d", err, b.Used())
	}
	// FIFO: a waiting large request is not overtaken by a small TryAcquire.
	got := make(chan error, 1)
	go func() { got <- b.Acquire(testCtx(t), 80) }()
	waitFor(t, "the waiter to queue", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.waiters) == 1
	})
	if b.TryAcquire(10) {
		t.Fatal("TryAcquire overtook a waiter")
	}
	b.Release(60)
	if err := <-got; err != nil || b.Used() != 80 {
		t.Fatalf("waiter: %v, used %d", err, b.Used())
	}
	b.Release(80)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("releasing more than held did not panic")
			}
		}()
		b.Release(1)
	}()
}

// A waiter that gives up unblocks smaller waiters queued behind it.
func TestBudgetCancelledWaiterUnblocksOthers(t *testing.T) {
	b := NewBudget("x", 100)
	if !b.TryAcquire(50) {
		t.Fatal("TryAcquire on an empty budget")
	}
	ctx, cancel := context.WithCancel(context.Background())
	big := make(chan error, 1)
	go func() { big <- b.Acquire(ctx, 100) }()
	waitFor(t, "the big waiter", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 1 })
	small := make(chan error, 1)
	go func() { small <- b.Acquire(testCtx(t), 30) }()
	waitFor(t, "the small waiter", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 2 })
	cancel()
	if err := <-big; !errors.Is(err, context.Canceled) {
		t.Fatalf("big waiter: %v", err)
	}
	if err := <-small; err != nil || b.Used() != 80 {
		t.Fatalf("small waiter: %v, used %d", err, b.Used())
	}
}

func TestSplitMemory(t *testing.T) {
	b, err := SplitMemory(1<<30, 4)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for i, s := range b.Shards {
		for _, x := range []*Budget{s.Inbox, s.WriteBehind, s.BatchCache, s.Decode, s.Raft} {
			if x == nil || x.Limit() < MinSubsystemBytes {
				t.Fatalf("shard %d: budget %v", i, x)
			}
			sum += x.Limit()
		}
	}
	if b.Reserve != (1<<30)/100*ReservePercent || sum+b.Reserve > b.Total || sum < b.Total*7/10 {
		t.Fatalf("split of %d: reserve %d, budgets %d", b.Total, b.Reserve, sum)
	}
	if b.Shards[0].BatchCache.Limit() != b.PerShard/100*35 || b.Shards[3].Inbox.Limit() != b.PerShard/100*10 {
		t.Fatalf("per-subsystem shares: %+v", b)
	}
	if _, err := SplitMemory(4<<20, 8); err == nil {
		t.Fatal("4 MiB over 8 shards accepted")
	}
	if _, err := SplitMemory(1<<30, 0); err == nil {
		t.Fatal("0 shards accepted")
	}
}

func TestMemoryLimit(t *testing.T) {
	m, err := MemoryFromRAM(50)
	if err != nil {
		t.Skip(err)
	}
	full, _ := MemoryFromRAM(100)
	if m <= 0 || m > full || full-2*m > 200 {
		t.Fatalf("50%% of RAM = %d, 100%% = %d", m, full)
	}
	if _, err := MemoryFromRAM(0); err == nil {
		t.Fatal("0% accepted")
	}
	prev := SetGoMemoryLimit(m)
	defer SetGoMemoryLimit(prev)
	if got := SetGoMemoryLimit(m); got != m {
		t.Fatalf("limit read back %d, set %d", got, m)
	}
}
