package kafka

import (
	"container/list"
	"context"
	"sync"
)

// byteBudget is a FIFO weighted semaphore of bytes: the node-wide decode
// memory. FIFO so that a large request is not starved by a stream of small
// ones. Any goroutine; one per Server.
type byteBudget struct {
	mu      sync.Mutex
	size    int64
	used    int64
	waiters list.List // of *budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{}
}

func newByteBudget(size int64) *byteBudget { return &byteBudget{size: size} }

// acquire takes n bytes, waiting in line until they are free or ctx ends.
// n larger than the whole budget fails at once with ErrBodyTooLarge.
func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	if n > b.size {
		return ErrBodyTooLarge
	}
	b.mu.Lock()
	if b.waiters.Len() == 0 && b.size-b.used >= n {
		b.used += n
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	elem := b.waiters.PushBack(w)
	b.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready:
			// Granted while we were giving up: hand it back.
			b.used -= n
			b.notifyLocked()
		default:
			front := b.waiters.Front() == elem
			b.waiters.Remove(elem)
			if front {
				b.notifyLocked()
			}
		}
		b.mu.Unlock()
		return ctx.Err()
	}
}

func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	if b.used < 0 {
		b.mu.Unlock()
		panic("kafka: decode budget released more than acquired")
	}
	b.notifyLocked()
	b.mu.Unlock()
}

// notifyLocked grants waiters in order while they fit.
func (b *byteBudget) notifyLocked() {
	for e := b.waiters.Front(); e != nil; e = b.waiters.Front() {
		w := e.Value.(*budgetWaiter)
		if b.size-b.used < w.n {
			return
		}
		b.used += w.n
		b.waiters.Remove(e)
		close(w.ready)
	}
}

func (b *byteBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
