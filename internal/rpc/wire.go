package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

// wire is one established connection (after the handshake), either side:
// a writer goroutine drains the bounded send queue, a reader goroutine
// reads frames and routes them: responses to their waiting calls,
// requests to handler goroutines (at most MaxConcurrentHandlers), Raft
// batches to the RaftSink inline (so in order).
//
// Any goroutine; pending calls under mu.
type wire struct {
	t    *Transport
	conn net.Conn
	peer model.NodeID
	c    *counters
	q    *sendQueue

	ctx      context.Context // cancelled when the wire dies: handlers' parent
	cancel   context.CancelFunc
	sem      chan struct{} // one token per running handler
	handlers sync.WaitGroup
	corr     atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]chan result
	err     error // why the wire died; set once
	dead    chan struct{}
}

type result struct {
	payload []byte
	err     error
}

func newWire(t *Transport, conn net.Conn, peer model.NodeID) *wire {
	ctx, cancel := context.WithCancel(context.Background())
	return &wire{t: t, conn: conn, peer: peer, c: t.countersFor(peer),
		q:   newSendQueue(t.cfg.SendQueueFrames, t.cfg.SendQueueBytes),
		ctx: ctx, cancel: cancel, sem: make(chan struct{}, t.cfg.MaxConcurrentHandlers),
		pending: make(map[uint64]chan result), dead: make(chan struct{})}
}

// run serves the connection until it breaks or fail is called, and
// returns why it ended once its goroutines and handlers have finished.
func (w *wire) run() error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.fail(w.writeLoop())
	}()
	w.fail(w.readLoop())
	<-done
	w.handlers.Wait()
	return w.err
}

// fail kills the wire: the connection is closed, queued frames dropped,
// and every pending call fails (with ErrClosed when the transport is
// closing, else ErrConnLost).
func (w *wire) fail(err error) {
	if err == nil {
		err = ErrConnLost
	}
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		return
	}
	w.err = err
	pending := w.pending
	w.pending = nil
	w.mu.Unlock()

	callErr := err
	if !errors.Is(err, ErrClosed) {
		callErr = fmt.Errorf("%w: node %d: %v", ErrConnLost, w.peer, err)
	}
	close(w.dead)
	w.cancel()
	w.q.close(callErr)
	_ = w.conn.Close()
	for _, ch := range pending {
		ch <- result{err: callErr}
	}
}

func (w *wire) writeLoop() error {
	bw := bufio.NewWriterSize(w.conn, 64<<10)
	var batch []outFrame
	var hb []byte
	for {
		select {
		case <-w.q.notify:
		case <-w.dead:
			return nil
		}
		batch = w.q.take(batch[:0])
		var n uint64
		for i := range batch {
			f := &batch[i]
			f.h.payloadLen = len(f.payload)
			hb = appendHeader(hb[:0], f.h)
			if _, err := bw.Write(hb); err != nil {
				return err
			}
			if _, err := bw.Write(f.payload); err != nil {
				return err
			}
			n += uint64(f.size())
		}
		clear(batch)
		if err := bw.Flush(); err != nil {
			return err
		}
		w.c.framesSent.Add(uint64(len(batch)))
		w.c.bytesSent.Add(n)
	}
}

func (w *wire) readLoop() error {
	br := bufio.NewReaderSize(w.conn, 64<<10)
	var hb [headerBytes]byte
	for {
		h, payload, err := readFrame(br, &hb, w.t.cfg.MaxFrameBytes)
		if err != nil {
			return err
		}
		w.c.framesRecv.Add(1)
		w.c.bytesRecv.Add(uint64(headerBytes + len(payload)))
		switch {
		case h.flags&flagResponse != 0:
			w.deliver(h, payload)
		case h.method == methodRaft:
			msgs, err := decodeRaftBatch(payload)
			if err != nil {
				return err
			}
			w.c.raftFramesRecv.Add(1)
			w.c.raftMsgsRecv.Add(uint64(len(msgs)))
			if sink := w.t.cfg.RaftSink; sink != nil {
				sink(w.peer, msgs)
			}
		case h.method == methodHello:
			return fmt.Errorf("%w: hello after the handshake", ErrBadFrame)
		default:
			if err := w.dispatch(h, payload); err != nil {
				return err
			}
		}
	}
}

// deliver hands a response to its call; a response whose call gave up
// (context done) is dropped.
func (w *wire) deliver(h header, payload []byte) {
	w.mu.Lock()
	ch := w.pending[h.corr]
	delete(w.pending, h.corr)
	w.mu.Unlock()
	if ch == nil {
		return
	}
	if h.flags&flagError == 0 {
		ch <- result{payload: payload}
		return
	}
	re, err := decodeErrorPayload(payload)
	if err != nil {
		ch <- result{err: err}
		return
	}
	ch <- result{err: re}
}

// dispatch runs the request's handler on its own goroutine; when
// MaxConcurrentHandlers are running it waits, which stops this reader and
// pushes back on the sender through TCP.
func (w *wire) dispatch(h header, payload []byte) error {
	handler := w.t.handlers[h.method]
	select {
	case w.sem <- struct{}{}:
	case <-w.dead:
		return nil
	}
	w.handlers.Add(1)
	go func() {
		defer w.handlers.Done()
		defer func() { <-w.sem }()
		ctx := w.ctx
		if h.timeoutMillis > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(h.timeoutMillis)*time.Millisecond)
			defer cancel()
		}
		var resp []byte
		var err error
		if handler == nil {
			err = &RemoteError{Code: CodeUnknownMethod, Message: fmt.Sprintf("method %d", h.method)}
		} else {
			resp, err = handler(ctx, w.peer, payload)
		}
		if h.flags&flagOneway != 0 {
			return
		}
		if err == nil && len(resp) > w.t.maxPayload() {
			err = fmt.Errorf("response of %d bytes: %w", len(resp), ErrFrameTooLarge)
		}
		f := outFrame{h: header{method: h.method, flags: flagResponse, corr: h.corr}, payload: resp}
		if err != nil {
			code, msg := handlerErrorCode(ctx, err)
			f.h.flags |= flagError
			f.payload = appendErrorPayload(nil, code, msg)
		}
		_ = w.q.push(w.ctx, f, true)
	}()
	return nil
}

// call sends a request and waits for its response, ctx or the wire's end.
func (w *wire) call(ctx context.Context, m Method, req []byte) ([]byte, error) {
	corr := w.corr.Add(1)
	ch := make(chan result, 1)
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		return nil, fmt.Errorf("%w: node %d: %v", ErrConnLost, w.peer, w.err)
	}
	w.pending[corr] = ch
	w.mu.Unlock()
	f := outFrame{h: header{method: m, corr: corr, timeoutMillis: timeoutMillis(ctx)}, payload: req}
	if err := w.q.push(ctx, f, true); err != nil {
		w.forget(corr)
		return nil, err
	}
	select {
	case r := <-ch:
		if r.err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return r.payload, r.err
	case <-ctx.Done():
		w.forget(corr)
		return nil, ctx.Err()
	}
}

// send queues a one-way request; a full queue fails at once.
func (w *wire) send(m Method, payload []byte) error {
	f := outFrame{h: header{method: m, flags: flagOneway}, payload: payload}
	return w.q.push(w.ctx, f, false)
}

func (w *wire) forget(corr uint64) {
	w.mu.Lock()
	delete(w.pending, corr)
	w.mu.Unlock()
}

// timeoutMillis is the context's remaining time for the wire (0 = none).
func timeoutMillis(ctx context.Context) uint32 {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	ms := (time.Until(dl) + time.Millisecond - 1) / time.Millisecond
	return uint32(min(max(ms, 1), math.MaxUint32))
}
