package rpc

import (
	"sync"

	"github.com/petrel-streaming/petrel/internal/model"
)

// raftOut coalesces a peer's outgoing Raft messages: SendRaft encodes them
// into buf at once (so the caller may reuse its messages), the peer's
// flush goroutine takes everything buffered and sends it as one frame (or
// a few, at the frame limits). While a flush waits for the connection's
// queue, new messages pile up and go together in the next frame: batches
// grow by themselves under load, with no timer.
//
// Any goroutine; its own mutex.
type raftOut struct {
	mu    sync.Mutex
	buf   []byte     // encoded messages, back to back
	marks []raftMark // one per message in buf
	wake  chan struct{}
}

type raftMark struct{ end, entries int }

func (r *raftOut) pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.buf)
}

// SendRaft queues Raft messages for node to; the messages of one call go
// in one frame where the limits allow, after any queued before them, and
// are delivered to the peer's RaftSink in that order. It never blocks:
// when the peer's last dial failed it returns ErrUnavailable, when
// RaftQueueBytes are already waiting ErrQueueFull (nothing of the call is
// queued then). Raft retransmits what is lost; the caller may report the
// peer unreachable to its groups. The caller may reuse msgs on return.
func (t *Transport) SendRaft(to model.NodeID, msgs ...RaftMessage) error {
	p, err := t.peer(to)
	if err != nil {
		return err
	}
	if s := p.slots[0]; s != nil {
		s.mu.Lock()
		err = s.err
		s.mu.Unlock()
		if err != nil {
			p.c.raftDropped.Add(uint64(len(msgs)))
			return err
		}
	}
	r := &p.raft
	r.mu.Lock()
	start, startMarks := len(r.buf), len(r.marks)
	for _, m := range msgs {
		before := len(r.buf)
		r.buf, err = appendRaftMessage(r.buf, m.Group, m.Msg)
		if err == nil {
			// 10 bytes: the frame's message count.
			err = t.checkPayload("raft message", len(r.buf)-before+10)
		}
		if err == nil && len(r.buf) > t.cfg.RaftQueueBytes {
			err = ErrQueueFull
		}
		if err != nil {
			r.buf, r.marks = r.buf[:start], r.marks[:startMarks]
			r.mu.Unlock()
			p.c.raftDropped.Add(uint64(len(msgs)))
			return err
		}
		r.marks = append(r.marks, raftMark{end: len(r.buf), entries: len(m.Msg.GetEntries())})
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// flushLoop sends what SendRaft buffered, on the first slot (one
// connection, so frames arrive in order).
func (p *peer) flushLoop() {
	defer p.t.wg.Done()
	r := &p.raft
	var spare []byte
	var spareMarks []raftMark
	for {
		select {
		case <-r.wake:
		case <-p.ctx.Done():
			return
		}
		r.mu.Lock()
		buf, marks := r.buf, r.marks
		r.buf, r.marks = spare[:0], spareMarks[:0]
		r.mu.Unlock()
		p.flush(buf, marks)
		spare, spareMarks = buf, marks
	}
}

// flush cuts the buffered messages into frames within the frame limits.
func (p *peer) flush(buf []byte, marks []raftMark) {
	limit := p.t.maxPayload() - 10
	from, first, entries := 0, 0, 0
	for i, mk := range marks {
		if i > first && (mk.end-from > limit || i-first >= maxBatchMessages || entries+mk.entries > maxBatchEntries) {
			end := marks[i-1].end
			p.sendRaftFrame(i-first, buf[from:end])
			from, first, entries = end, i, 0
		}
		entries += mk.entries
	}
	if first < len(marks) {
		p.sendRaftFrame(len(marks)-first, buf[from:])
	}
}

// sendRaftFrame queues one frame, waiting while the connection's queue is
// full (this is where batches grow); if the peer is down the messages are
// dropped.
func (p *peer) sendRaftFrame(count int, encoded []byte) {
	payload := appendRaftBatch(make([]byte, 0, len(encoded)+10), count, encoded)
	w, err := p.slots[0].get(p.ctx)
	if err == nil {
		err = w.q.push(p.ctx, outFrame{h: header{method: methodRaft, flags: flagOneway}, payload: payload}, true)
	}
	if err != nil {
		p.c.raftDropped.Add(uint64(count))
		return
	}
	p.c.raftFramesSent.Add(1)
	p.c.raftMsgsSent.Add(uint64(count))
}
