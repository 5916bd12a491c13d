package rpc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Transport is a node's end of the node-to-node transport: a listener
// for peers' connections and a pool of dialed connections per peer.
//
// Any goroutine. Handle only before Start.
type Transport struct {
	cfg      Config
	logg     *slog.Logger
	ln       net.Listener
	handlers map[Method]Handler // fixed once Start runs
	// anonymous: the methods served to callers without a node id
	// (HandleAnonymous); fixed once Start runs.
	anonymous map[Method]bool
	done      chan struct{}  // closed by Close
	wg        sync.WaitGroup // every goroutine the transport started

	rngMu sync.Mutex
	rng   *rand.Rand

	mu             sync.Mutex
	clusterID      string        // handshakes use it; "" = unformed
	clusterChanged chan struct{} // closed (and replaced) by SetClusterID
	started        bool
	closed         bool
	peers          map[model.NodeID]*peer
	counters       map[model.NodeID]*counters
	accepted       map[net.Conn]struct{}
}

// New validates cfg and, when cfg.ListenAddr is set, listens on it (so
// Addr is known before Start).
func New(cfg Config) (*Transport, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	// The ping answer is this process's boot id: a peer that sees it
	// change knows the node restarted, even if no ping failed meanwhile.
	boot := binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano())^cfg.Seed<<1|1)
	t := &Transport{cfg: cfg, logg: cfg.Logger.With("node", cfg.NodeID),
		handlers: map[Method]Handler{MethodPing: func(context.Context, model.NodeID, []byte) ([]byte, error) { return boot, nil }},
		done:     make(chan struct{}), clusterID: cfg.ClusterID, clusterChanged: make(chan struct{}),
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed>>1|1)),
		peers: map[model.NodeID]*peer{}, counters: map[model.NodeID]*counters{}, accepted: map[net.Conn]struct{}{}}
	if cfg.ListenAddr != "" {
		if t.ln, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
			return nil, fmt.Errorf("rpc: listen: %w", err)
		}
	}
	return t, nil
}

// Addr is the listener's address ("" without one).
func (t *Transport) Addr() string {
	if t.ln == nil {
		return ""
	}
	return t.ln.Addr().String()
}

// SetClusterID sets the cluster id of every later handshake, both ways
// (connections already established stay). It is how an unformed
// transport (Config.ClusterID "") joins the cluster its node formed or
// joined: from then on it accepts that cluster's hellos, and its peers'
// connections waiting out a failed dial's backoff redial at once.
func (t *Transport) SetClusterID(id string) error {
	if err := checkClusterID(id); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if id != t.clusterID {
		t.clusterID = id
		close(t.clusterChanged)
		t.clusterChanged = make(chan struct{})
	}
	return nil
}

// ClusterID is the cluster id handshakes use now ("" while unformed).
func (t *Transport) ClusterID() string {
	id, _ := t.cluster()
	return id
}

// cluster returns the cluster id and a channel closed when it changes.
func (t *Transport) cluster() (string, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.clusterID, t.clusterChanged
}

// Live reports whether the node-level heartbeat considers node id up:
// false once a ping went unanswered for HeartbeatTimeout (what OnLiveness
// last reported), true again at the next answer. A peer not heard from
// yet counts as up until its first ping fails (so a fresh transport does
// not mark every node down), and so does every peer when the heartbeat
// is disabled. This node itself is always live; a node with no address
// (SetPeer) is not.
func (t *Transport) Live(id model.NodeID) bool {
	if id == t.cfg.NodeID {
		return true
	}
	t.mu.Lock()
	p := t.peers[id]
	t.mu.Unlock()
	return p != nil && Liveness(p.live.Load()) != LivenessDown
}

// Handle registers the handler of a method (at or above FirstUserMethod).
// Only before Start.
func (t *Transport) Handle(m Method, h Handler) error {
	if m < FirstUserMethod {
		return fmt.Errorf("%w: %d", ErrReservedMethod, m)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		return errors.New("rpc: Handle after Start")
	}
	t.handlers[m] = h
	return nil
}

// Start accepts peers' connections (a no-op without a listener).
func (t *Transport) Start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started || t.closed || t.ln == nil {
		t.started = true
		return
	}
	t.started = true
	t.wg.Add(1)
	go t.acceptLoop()
}

// SetPeer sets (or changes) the address of a node we send to; its
// connections are dialed at once and redialed with backoff. A changed
// address drops the node's connections (their calls fail with
// ErrConnLost) and redials there.
func (t *Transport) SetPeer(id model.NodeID, addr string) error {
	if id == t.cfg.NodeID {
		return fmt.Errorf("rpc: SetPeer: node %d is this node", id)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if p := t.peers[id]; p != nil {
		if p.address() != addr {
			p.setAddress(addr)
			for _, s := range p.slots { // redial at the new address
				if w := s.current(); w != nil {
					w.fail(fmt.Errorf("node %d moved to %s", id, addr))
				}
			}
		}
		return nil
	}
	p := newPeer(t, id, addr)
	t.peers[id] = p
	p.start()
	return nil
}

// RemovePeer closes the node's connections (its calls fail with
// ErrClosed) and forgets its address.
func (t *Transport) RemovePeer(id model.NodeID) {
	t.mu.Lock()
	p := t.peers[id]
	delete(t.peers, id)
	t.mu.Unlock()
	if p != nil {
		p.close()
	}
}

func (t *Transport) peer(id model.NodeID) (*peer, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	if p := t.peers[id]; p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("%w: node %d", ErrUnknownPeer, id)
}

func (t *Transport) countersFor(id model.NodeID) *counters {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.countersLocked(id)
}

func (t *Transport) countersLocked(id model.NodeID) *counters {
	c := t.counters[id]
	if c == nil {
		c = &counters{}
		t.counters[id] = c
	}
	return c
}

func (t *Transport) maxPayload() int { return t.cfg.MaxFrameBytes - headerBytes }

func (t *Transport) checkPayload(what string, n int) error {
	if n > t.maxPayload() {
		return fmt.Errorf("%w: %s of %d bytes, limit %d", ErrFrameTooLarge, what, n, t.maxPayload())
	}
	return nil
}

// Call sends req to method m of node to and waits for the response, the
// end of ctx (its deadline travels with the request), or the failure of
// the connection. When the connection's queue is full it waits (with
// ctx). When the peer's last dial failed it fails at once with
// ErrUnavailable. The response is owned by the caller.
func (t *Transport) Call(ctx context.Context, to model.NodeID, m Method, req []byte) ([]byte, error) {
	if m < FirstUserMethod && m != MethodPing {
		return nil, fmt.Errorf("%w: %d", ErrReservedMethod, m)
	}
	if err := t.checkPayload("request", len(req)); err != nil {
		return nil, err
	}
	p, err := t.peer(to)
	if err != nil {
		return nil, err
	}
	w, err := p.pick().get(ctx)
	if err != nil {
		return nil, err
	}
	return w.call(ctx, m, req)
}

// Send queues a one-way message (no response, no delivery guarantee). It
// never blocks: a full queue is ErrQueueFull, a peer down ErrUnavailable.
func (t *Transport) Send(to model.NodeID, m Method, payload []byte) error {
	if m < FirstUserMethod {
		return fmt.Errorf("%w: %d", ErrReservedMethod, m)
	}
	if err := t.checkPayload("message", len(payload)); err != nil {
		return err
	}
	p, err := t.peer(to)
	if err != nil {
		return err
	}
	w, err := p.pick().now()
	if err != nil {
		return err
	}
	return w.send(m, payload)
}

// Close stops the listener and every connection; calls in flight fail
// with ErrClosed. It returns once every goroutine of the transport has
// ended (handlers must honour their context).
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	peers := make([]*peer, 0, len(t.peers))
	for _, p := range t.peers {
		peers = append(peers, p)
	}
	clear(t.peers)
	for c := range t.accepted {
		_ = c.Close()
	}
	t.mu.Unlock()
	close(t.done)
	if t.ln != nil {
		_ = t.ln.Close()
	}
	for _, p := range peers {
		p.close()
	}
	t.wg.Wait()
	return nil
}

// jitter returns a duration in [d/2, d].
func (t *Transport) jitter(d time.Duration) time.Duration {
	t.rngMu.Lock()
	defer t.rngMu.Unlock()
	return d/2 + time.Duration(t.rng.Int64N(int64(d/2)+1))
}
