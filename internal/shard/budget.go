package shard

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrOverBudget is returned by Acquire for a request larger than the whole
// budget: it could never be granted, so waiting would hang.
var ErrOverBudget = errors.New("shard: request exceeds budget")

// Budget is a byte budget: a counting semaphore over bytes that turns
// memory pressure into backpressure. Acquire waits (bounded by its ctx),
// TryAcquire fails at once; waiters are served in arrival order, so a
// large request is not starved by a stream of small ones. Any goroutine:
// connection goroutines acquire before reading a request into memory, a
// shard releases when it is done with the bytes.
type Budget struct {
	name  string
	limit int64

	mu      sync.Mutex
	used    int64
	waiters []*budgetWaiter // FIFO
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when granted
}

// NewBudget returns a budget of limit bytes; name appears in errors.
func NewBudget(name string, limit int64) *Budget {
	return &Budget{name: name, limit: limit}
}

// Name is the budget's name.
func (b *Budget) Name() string { return b.name }

// Limit is the budget's bound in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// Used is the number of bytes held now.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// TryAcquire takes n bytes if they are free now and nobody is waiting
// before it.
func (b *Budget) TryAcquire(n int64) bool {
	if n < 0 {
		panic("shard: negative budget request")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) == 0 && b.used+n <= b.limit {
		b.used += n
		return true
	}
	return false
}

// Acquire takes n bytes, waiting for releases until ctx ends. A request
// larger than the limit fails at once with ErrOverBudget.
func (b *Budget) Acquire(ctx context.Context, n int64) error {
	if n < 0 {
		panic("shard: negative budget request")
	}
	if n > b.limit {
		return fmt.Errorf("%w: %s: %d bytes of %d", ErrOverBudget, b.name, n, b.limit)
	}
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.limit {
		b.used += n
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted while we were giving up: hand it back
		b.used -= n
	default:
		for i, x := range b.waiters {
			if x == w {
				b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
				break
			}
		}
	}
	b.grantLocked() // our leaving may unblock those behind us
	return fmt.Errorf("shard: budget %s: %w", b.name, ctx.Err())
}

// Release returns n bytes and wakes waiters that now fit.
func (b *Budget) Release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n < 0 || n > b.used {
		panic(fmt.Sprintf("shard: budget %s: release of %d with %d held", b.name, n, b.used))
	}
	b.used -= n
	b.grantLocked()
}

func (b *Budget) grantLocked() {
	for len(b.waiters) > 0 && b.used+b.waiters[0].n <= b.limit {
		w := b.waiters[0]
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
		b.used += w.n
		close(w.ready)
	}
}
