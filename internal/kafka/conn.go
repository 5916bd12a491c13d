package kafka

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// conn is one client connection: a reader goroutine (readLoop), a writer
// goroutine (writeLoop) and one goroutine per request in flight. The
// pending queue is the only thing they share; it carries requests in the
// order they were read, which is the order responses are written.
type conn struct {
	// lastTurn is the turn of the last Produce read (readLoop only).
	lastTurn chan struct{}
	s        *Server
	nc       net.Conn
	info     ConnInfo
	log      *slog.Logger

	ctx        context.Context // handlers; ends on abort
	cancel     context.CancelFunc
	readCtx    context.Context // reader; ends on graceful stop or abort
	readCancel context.CancelFunc

	queue    chan *pending // capacity MaxInFlight; closed by readLoop
	slots    chan struct{} // capacity MaxInFlight: one per request read and not yet answered
	inFlight atomic.Int64  // requests read and not yet answered
	br       *bufio.Reader
	closeErr atomic.Pointer[error] // why the connection closed, first reason wins
}

// pending is a request from the moment it is read until its response is
// written. resp and err are written by the handler goroutine before it
// closes done, and read by the writer after.
type pending struct {
	req    *Request
	api    *registered
	frame  []byte // pooled; Request.Msg may alias it
	charge int64
	done   chan struct{}
	resp   kmsg.Response
	err    error
}

const readBufferBytes = 64 << 10

func newConn(s *Server, nc net.Conn, id uint64) *conn {
	c := &conn{
		s:     s,
		nc:    nc,
		info:  ConnInfo{ID: id, Remote: nc.RemoteAddr(), Local: nc.LocalAddr()},
		queue: make(chan *pending, s.cfg.MaxInFlight),
		slots: make(chan struct{}, s.cfg.MaxInFlight),
		br:    bufio.NewReaderSize(nc, readBufferBytes),
	}
	c.log = s.log.With("conn", id, "remote", c.info.Remote)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.readCtx, c.readCancel = context.WithCancel(c.ctx)
	return c
}

// stop ends reading; requests already read are answered, then the
// connection closes (graceful).
func (c *conn) stop() {
	c.readCancel()
	_ = c.nc.SetReadDeadline(time.Unix(1, 0))
}

// abort closes the connection now; handlers see their context end.
func (c *conn) abort(why error) {
	c.closeErr.CompareAndSwap(nil, &why)
	c.cancel()
	_ = c.nc.Close()
}

// readLoop reads, checks and decodes frames and queues them for the
// writer, starting each request's handler.
func (c *conn) readLoop() {
	defer close(c.queue)
	for {
		// A slot first: with MaxInFlight requests unanswered the reader
		// stops reading (backpressure) and holds nothing.
		select {
		case c.slots <- struct{}{}:
		case <-c.readCtx.Done():
			return
		}
		p, err := c.readRequest()
		if err != nil {
			<-c.slots
			if c.readCtx.Err() == nil && !errors.Is(err, io.EOF) {
				c.log.Debug("closing connection", "err", err)
				c.abort(err)
			}
			return
		}
		c.inFlight.Add(1)
		if p.req != nil && p.req.Key == 0 {
			// Produce requests of one connection reach their partitions
			// in the order they were sent (Request.InOrder).
			if c.lastTurn == nil {
				c.lastTurn = make(chan struct{})
				close(c.lastTurn)
			}
			p.req.turnWait, p.req.turnDone = c.lastTurn, make(chan struct{})
			c.lastTurn = p.req.turnDone
		}
		c.queue <- p // never blocks: the queue is as long as the slots
		go c.serve(p)
	}
}

// readRequest reads one frame. Before the first byte the connection may
// idle for IdleTimeout (longer while requests are in flight); from the
// first byte the whole frame must arrive within ReadTimeout. The frame
// size and the key's cap are checked, and decode budget charged, before
// the body is allocated.
func (c *conn) readRequest() (*pending, error) {
	cfg := &c.s.cfg
	for c.br.Buffered() == 0 {
		if err := c.setReadDeadline(cfg.IdleTimeout); err != nil {
			return nil, err
		}
		if _, err := c.br.Peek(1); err != nil {
			if isTimeout(err) && c.readCtx.Err() == nil && c.inFlight.Load() > 0 {
				continue // waiting for our own slow handlers is not idling
			}
			return nil, err
		}
	}
	if err := c.setReadDeadline(cfg.ReadTimeout); err != nil {
		return nil, err
	}
	var fixed [4 + fixedHeaderBytes]byte
	if _, err := io.ReadFull(c.br, fixed[:4]); err != nil {
		return nil, c.readErr(err)
	}
	size, err := parseFrameSize(fixed[:4], cfg.MaxRequestBytes)
	if err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(c.br, fixed[4:]); err != nil {
		return nil, c.readErr(err)
	}
	h := parseFixedHeader(size, fixed[4:])
	api, undecoded, err := c.s.admit(h)
	if err != nil {
		return nil, err
	}
	charge := api.charge(size)
	actx, acancel := context.WithTimeout(c.readCtx, cfg.ReadTimeout)
	err = c.s.budget.Acquire(actx, charge)
	acancel()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: waiting for decode budget", ErrTimeout)
		}
		return nil, err
	}
	frame := c.s.pool.get(int(size) - fixedHeaderBytes)
	p := &pending{api: api, frame: frame, charge: charge, done: make(chan struct{})}
	if _, err := io.ReadFull(c.br, frame); err != nil {
		c.release(p)
		return nil, c.readErr(err)
	}
	req, err := buildRequest(h, api, frame, undecoded)
	if err != nil {
		c.release(p)
		return nil, err
	}
	req.Conn, req.Received = &c.info, time.Now()
	p.req = req
	return p, nil
}

// buildRequest parses the rest of the header and decodes the body. An
// undecoded request (ApiVersions above our range, KIP-511) carries only its
// version.
func buildRequest(h fixedHeader, api *registered, frame []byte, undecoded bool) (*Request, error) {
	req := &Request{Key: h.key, Version: h.version, CorrelationID: h.corr}
	if undecoded {
		msg := kmsg.RequestForKey(h.key)
		msg.SetVersion(h.version)
		req.Msg = msg
		return req, nil
	}
	msg := kmsg.RequestForKey(h.key)
	msg.SetVersion(h.version)
	clientID, body, err := parseHeaderRest(frame, msg.IsFlexible())
	if err != nil {
		return nil, err
	}
	if api.Check != nil {
		if err := api.Check(h.version, body); err != nil {
			return nil, fmt.Errorf("%w: %s v%d: %w", ErrMalformed, kmsg.NameForKey(h.key), h.version, err)
		}
	}
	if req.Msg, err = decodeRequest(h.key, h.version, body); err != nil {
		return nil, err
	}
	req.ClientID = clientID
	return req, nil
}

func (c *conn) setReadDeadline(d time.Duration) error {
	if err := c.nc.SetReadDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	// Checked after setting the deadline: stop() cancels, then sets a
	// past deadline, so one of the two always interrupts the read.
	return c.readCtx.Err()
}

func (c *conn) readErr(err error) error {
	if isTimeout(err) && c.readCtx.Err() == nil {
		return fmt.Errorf("%w: frame not received within %v", ErrTimeout, c.s.cfg.ReadTimeout)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: connection closed inside a frame", ErrMalformed)
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// serve runs one handler; a panic closes the connection, not the process.
func (c *conn) serve(p *pending) {
	defer close(p.done)
	if p.req != nil {
		defer p.req.endTurn(c.ctx)
	}
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("handler panic", "key", p.req.Key, "version", p.req.Version, "panic", v, "stack", string(debug.Stack()))
			p.resp, p.err = nil, fmt.Errorf("kafka: handler panic: %v", v)
		}
	}()
	p.resp, p.err = p.api.Handle(c.ctx, p.req)
}

// release returns a request's frame buffer and budget.
func (c *conn) release(p *pending) {
	if p.req == nil || !p.req.retained {
		c.s.pool.put(p.frame)
	}
	p.frame = nil
	c.s.budget.Release(p.charge)
}

// writeLoop writes responses in request order, flushing when it would
// otherwise wait. It owns closing the connection.
func (c *conn) writeLoop() {
	defer c.drain()
	bw := bufio.NewWriterSize(c.nc, readBufferBytes)
	var buf []byte
	flush := func() bool {
		if bw.Buffered() == 0 {
			return true
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
		if err := bw.Flush(); err != nil {
			c.abort(fmt.Errorf("%w: write: %w", ErrTimeout, err))
			return false
		}
		return true
	}
	for {
		var p *pending
		var ok bool
		select {
		case p, ok = <-c.queue:
		default:
			if !flush() {
				return
			}
			select {
			case p, ok = <-c.queue:
			case <-c.ctx.Done():
				return
			}
		}
		if !ok {
			flush()
			return
		}
		select {
		case <-p.done:
		default:
			if !flush() {
				c.finish(p)
				return
			}
			select {
			case <-p.done:
			case <-c.ctx.Done():
				c.finish(p)
				return
			}
		}
		if p.err != nil {
			c.log.Debug("handler error, closing", "key", p.req.Key, "err", p.err)
			flush()
			c.finish(p)
			c.abort(p.err)
			return
		}
		if p.resp != nil {
			if hint := responseSizeHint(p.resp); hint > cap(buf) {
				// A large response (Fetch) is encoded into a buffer of
				// about its size at once, not regrown by doubling.
				c.s.pool.put(buf)
				buf = c.s.pool.get(hint)[:0]
			}
			buf = appendResponse(buf[:0], p.req.CorrelationID, p.resp)
			_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
			if _, err := bw.Write(buf); err != nil {
				c.finish(p)
				c.abort(fmt.Errorf("%w: write: %w", ErrTimeout, err))
				return
			}
			if cap(buf) > readBufferBytes {
				c.s.pool.put(buf) // bounded: kept only up to 1 MiB classes
				buf = nil
			}
		}
		c.finish(p)
	}
}

// finish ends a request whose handler has returned (or will: it waits).
func (c *conn) finish(p *pending) {
	<-p.done
	c.release(p)
	c.inFlight.Add(-1)
	<-c.slots
}

// drain closes the connection and finishes everything still queued; it
// returns once the reader and every handler of this connection are done.
func (c *conn) drain() {
	c.abort(ErrServerClosed)
	for p := range c.queue {
		c.finish(p)
	}
}

// appendResponse frames resp: size, correlation id, the response header's
// tagged fields when flexible (never for ApiVersions, whose response header
// is always v0), then the body.
// responseSizeHint estimates the encoded size of responses that carry
// record bytes (Fetch), so they are encoded into one buffer of the right
// size; 0 for the others, which are small.
func responseSizeHint(resp kmsg.Response) int {
	f, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return 0
	}
	n := 256
	for i := range f.Topics {
		n += 64 + len(f.Topics[i].Topic)
		for j := range f.Topics[i].Partitions {
			n += 96 + len(f.Topics[i].Partitions[j].RecordBatches)
		}
	}
	return n
}

func appendResponse(dst []byte, corr int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(dst[start+4:], uint32(corr))
	if resp.IsFlexible() && resp.Key() != apiVersionsKey {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
