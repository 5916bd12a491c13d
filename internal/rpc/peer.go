package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

// peer is a node we send to: ConnsPerPeer slots (each a connection that
// redials itself), the Raft coalescer and the node-level heartbeat.
// Any goroutine.
type peer struct {
	t     *Transport
	id    model.NodeID
	c     *counters
	slots []*slot
	next  atomic.Uint32
	raft  raftOut
	live  atomic.Int32 // Liveness

	ctx    context.Context // ends when the peer is removed or the transport closes
	cancel context.CancelFunc

	addrMu sync.Mutex
	addr   string
}

// newPeer: the caller holds t.mu.
func newPeer(t *Transport, id model.NodeID, addr string) *peer {
	ctx, cancel := context.WithCancel(context.Background())
	p := &peer{t: t, id: id, c: t.countersLocked(id), ctx: ctx, cancel: cancel, addr: addr}
	p.raft.wake = make(chan struct{}, 1)
	for range t.cfg.ConnsPerPeer {
		p.slots = append(p.slots, &slot{p: p, changed: make(chan struct{})})
	}
	return p
}

// start runs the peer's goroutines; the caller holds t.mu (so Close
// cannot be waiting on t.wg yet).
func (p *peer) start() {
	for _, s := range p.slots {
		p.t.wg.Add(1)
		go s.loop()
	}
	p.t.wg.Add(1)
	go p.flushLoop()
	if p.t.cfg.HeartbeatInterval > 0 {
		p.t.wg.Add(1)
		go p.heartbeatLoop()
	}
}

func (p *peer) close() {
	p.cancel()
	for _, s := range p.slots {
		if w := s.current(); w != nil {
			w.fail(ErrClosed)
		}
	}
}

func (p *peer) address() string {
	p.addrMu.Lock()
	defer p.addrMu.Unlock()
	return p.addr
}

func (p *peer) setAddress(addr string) {
	p.addrMu.Lock()
	defer p.addrMu.Unlock()
	p.addr = addr
}

// pick spreads calls over the slots, round-robin over those connected;
// with none connected, the next slot in turn (to wait for or fail fast).
func (p *peer) pick() *slot {
	n := int(p.next.Add(1))
	for i := range p.slots {
		if s := p.slots[(n+i)%len(p.slots)]; s.current() != nil {
			return s
		}
	}
	return p.slots[n%len(p.slots)]
}

// sleep waits d, until wake is closed, or until the peer ends; it
// reports whether to go on.
func (p *peer) sleep(d time.Duration, wake <-chan struct{}) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-wake:
	case <-p.ctx.Done():
		return false
	}
	return true
}

// slot is one dialed connection of a peer and its redial loop. State:
// connecting (cur and err nil: callers wait for the dial), up (cur set),
// down (err set: callers fail fast with it).
type slot struct {
	p *peer

	mu      sync.Mutex
	cur     *wire
	err     error
	changed chan struct{} // closed and replaced on every state change
}

func (s *slot) set(w *wire, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur, s.err = w, err
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *slot) current() *wire {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// get returns the slot's connection, waiting (with ctx) while the slot is
// connecting and failing at once while it is down.
func (s *slot) get(ctx context.Context) (*wire, error) {
	for {
		s.mu.Lock()
		w, err, ch := s.cur, s.err, s.changed
		s.mu.Unlock()
		if w != nil {
			return w, nil
		}
		if err != nil {
			return nil, err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// now is get without waiting: connecting counts as unavailable.
func (s *slot) now() (*wire, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.cur != nil:
		return s.cur, nil
	case s.err != nil:
		return nil, s.err
	}
	return nil, fmt.Errorf("%w: node %d: connecting", ErrUnavailable, s.p.id)
}

// loop dials, serves the connection until it breaks, and redials: at once
// after a connection that lived at least ReconnectBackoffMax (callers wait
// for that dial), otherwise after a jittered exponential backoff (callers
// fail fast meanwhile). A new cluster id (SetClusterID) cuts the backoff
// short: the dials it refused may succeed now.
func (s *slot) loop() {
	p, cfg := s.p, &s.p.t.cfg
	defer p.t.wg.Done()
	defer s.set(nil, ErrClosed)
	backoff, fast := cfg.ReconnectBackoffMin, true
	var clusterChanged <-chan struct{}
	for p.ctx.Err() == nil {
		if !fast {
			if !p.sleep(p.t.jitter(backoff), clusterChanged) {
				return
			}
			backoff = min(2*backoff, cfg.ReconnectBackoffMax)
		}
		_, clusterChanged = p.t.cluster() // before the dial reads the id
		addr := p.address()
		w, err := p.t.dial(p.ctx, p.id, addr)
		if err != nil {
			if p.ctx.Err() != nil {
				return
			}
			p.c.dialFailures.Add(1)
			p.t.logg.Debug("rpc: dial failed", "peer", p.id, "addr", addr, "err", err)
			s.set(nil, fmt.Errorf("%w: node %d: %w", ErrUnavailable, p.id, err))
			fast = false
			continue
		}
		p.c.connects.Add(1)
		s.set(w, nil)
		if p.ctx.Err() != nil {
			w.fail(ErrClosed)
		}
		start := time.Now()
		err = w.run()
		if errors.Is(err, ErrClosed) || p.ctx.Err() != nil {
			return
		}
		p.t.logg.Debug("rpc: connection lost", "peer", p.id, "err", err)
		if fast = time.Since(start) >= cfg.ReconnectBackoffMax; fast {
			backoff = cfg.ReconnectBackoffMin
			s.set(nil, nil)
		} else {
			s.set(nil, fmt.Errorf("%w: node %d: %w", ErrUnavailable, p.id, err))
		}
	}
}

// deadPings is how many pings in a row may go unanswered on an open
// connection before the peer's connections are dropped and redialed.
const deadPings = 2

// heartbeatLoop pings the peer every HeartbeatInterval on the first slot
// (the one Raft uses) and reports liveness changes.
//
// Pings unanswered on an open connection also end the peer's
// connections: while the network drops packets, TCP backs off its
// retransmissions (to seconds, then minutes), so a connection that
// outlived a partition would carry nothing for a long while after the
// heal; a new dial gets through as soon as the network does.
func (p *peer) heartbeatLoop() {
	defer p.t.wg.Done()
	cfg := &p.t.cfg
	tick := time.NewTicker(cfg.HeartbeatInterval)
	defer tick.Stop()
	unanswered := 0
	var boot []byte // the peer's boot id, from its last answer
	for {
		ctx, cancel := context.WithTimeout(p.ctx, cfg.HeartbeatTimeout)
		w, err := p.slots[0].get(ctx)
		if err == nil {
			var resp []byte
			resp, err = w.call(ctx, MethodPing, nil)
			switch {
			case err == nil:
				unanswered = 0
				if boot != nil && !bytes.Equal(resp, boot) {
					p.restarted()
				}
				boot = resp
			case errors.Is(ctx.Err(), context.DeadlineExceeded):
				unanswered++
			}
		}
		cancel()
		if p.ctx.Err() != nil {
			return
		}
		p.setLive(err)
		if unanswered >= deadPings {
			unanswered = 0
			p.dropConns(fmt.Errorf("%d pings unanswered for %v each", deadPings, cfg.HeartbeatTimeout))
		}
		select {
		case <-tick.C:
		case <-p.ctx.Done():
			return
		}
	}
}

// dropConns ends the peer's open connections (their slots redial).
func (p *peer) dropConns(err error) {
	p.t.logg.Info("rpc: dropping connections to an unresponsive peer", "peer", p.id, "err", err)
	for _, s := range p.slots {
		if w := s.current(); w != nil {
			w.fail(err)
		}
	}
}

// restarted reports a peer that answers as a new process although no
// ping failed (a quick restart): to the node, it came back.
func (p *peer) restarted() {
	p.c.restarts.Add(1)
	p.t.logg.Info("rpc: peer restarted", "peer", p.id)
	if f := p.t.cfg.OnLiveness; f != nil && Liveness(p.live.Load()) == LivenessUp {
		f(p.id, true)
	}
}

func (p *peer) setLive(err error) {
	now := LivenessUp
	if err != nil {
		now = LivenessDown
	}
	if Liveness(p.live.Swap(int32(now))) == now {
		return
	}
	p.t.logg.Info("rpc: peer liveness", "peer", p.id, "state", now.String(), "err", err)
	if f := p.t.cfg.OnLiveness; f != nil {
		f(p.id, now == LivenessUp)
	}
}
