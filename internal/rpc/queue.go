package rpc

import (
	"context"
	"sync"
)

// outFrame is a frame waiting for its connection's writer: the header and
// the payload, written back to back (the payload is not copied).
type outFrame struct {
	h       header
	payload []byte
}

func (f *outFrame) size() int { return headerBytes + len(f.payload) }

// sendQueue is a connection's bounded queue of frames to write, bounded in
// frames and in bytes. A push that does not fit blocks with the caller's
// context (calls) or fails with ErrQueueFull (fire-and-forget). A single
// frame larger than the byte bound is admitted only into an empty queue.
// The writer takes everything queued at once, so at most twice the bound
// is held per connection (the queue and the batch being written).
//
// Any goroutine; its own mutex.
type sendQueue struct {
	maxFrames, maxBytes int

	mu     sync.Mutex
	items  []outFrame
	bytes  int
	err    error         // set by close: every push fails with it
	space  chan struct{} // closed (and replaced) when space frees up
	notify chan struct{} // cap 1: wakes the writer
}

func newSendQueue(maxFrames, maxBytes int) *sendQueue {
	return &sendQueue{maxFrames: maxFrames, maxBytes: maxBytes,
		space: make(chan struct{}), notify: make(chan struct{}, 1)}
}

// push queues f. With block, a full queue waits for space, ctx or close;
// without, it fails with ErrQueueFull at once.
func (q *sendQueue) push(ctx context.Context, f outFrame, block bool) error {
	for {
		q.mu.Lock()
		if q.err != nil {
			q.mu.Unlock()
			return q.err
		}
		if len(q.items) < q.maxFrames && (q.bytes == 0 || q.bytes+f.size() <= q.maxBytes) {
			q.items = append(q.items, f)
			q.bytes += f.size()
			q.mu.Unlock()
			select {
			case q.notify <- struct{}{}:
			default:
			}
			return nil
		}
		space := q.space
		q.mu.Unlock()
		if !block {
			return ErrQueueFull
		}
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// take moves every queued frame to dst and wakes blocked pushers.
func (q *sendQueue) take(dst []outFrame) []outFrame {
	q.mu.Lock()
	defer q.mu.Unlock()
	dst = append(dst, q.items...)
	clear(q.items)
	q.items, q.bytes = q.items[:0], 0
	if q.err == nil && len(dst) > 0 {
		close(q.space)
		q.space = make(chan struct{})
	}
	return dst
}

// close fails every later push with err and wakes blocked pushers.
func (q *sendQueue) close(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return
	}
	q.err = err
	clear(q.items)
	q.items, q.bytes = nil, 0
	close(q.space)
}

func (q *sendQueue) depth() (frames, bytes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items), q.bytes
}
