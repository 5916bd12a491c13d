package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/shard"
)

// Server serves the Kafka protocol on any number of listeners. Any
// goroutine; the registry must not change once Serve has been called.
type Server struct {
	cfg    Config
	reg    *Registry
	log    *slog.Logger
	budget *shard.Budget // decode memory, node-wide
	pool   *bufPool
	nextID atomic.Uint64

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	connWG    sync.WaitGroup
	done      chan struct{}
}

// Stats is a snapshot of the server's load.
type Stats struct {
	Connections      int
	InFlight         int64 // requests read and not yet answered
	DecodeBytesInUse int64 // decode budget held
	DecodeBytesMax   int64
}

// NewServer validates cfg (zero fields take defaults) and returns a server
// that serves the keys of reg.
func NewServer(cfg Config, reg *Registry, log *slog.Logger) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if reg == nil || log == nil {
		return nil, errors.New("kafka: NewServer needs a registry and a logger")
	}
	return &Server{
		cfg:       cfg,
		reg:       reg,
		log:       log,
		budget:    shard.NewBudget("kafka decode", cfg.DecodeBudgetBytes),
		pool:      newBufPool(),
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
		done:      make(chan struct{}),
	}, nil
}

// Serve accepts connections on ln until Close; it returns ErrServerClosed
// then, or the listener's error. It closes ln.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		_ = ln.Close()
	}()

	backoff := time.Duration(0)
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return ErrServerClosed
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: back off, bounded.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept", "err", err, "retry_in", backoff)
				t := time.NewTimer(backoff)
				select {
				case <-t.C:
				case <-s.done:
					t.Stop()
					return ErrServerClosed
				}
				continue
			}
			return err
		}
		backoff = 0
		s.startConn(nc)
	}
}

func (s *Server) startConn(nc net.Conn) {
	c := newConn(s, nc, s.nextID.Add(1))
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	s.mu.Unlock()

	go c.readLoop()
	go func() {
		defer s.connWG.Done()
		c.writeLoop()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// admit checks a frame's fixed header against the registry before anything
// is allocated for it. undecoded marks an ApiVersions request above our
// range: it is answered without decoding its body (KIP-511).
func (s *Server) admit(h fixedHeader) (api *registered, undecoded bool, err error) {
	api, ok := s.reg.apis[h.key]
	if !ok {
		return nil, false, fmt.Errorf("%w: %d", ErrUnknownKey, h.key)
	}
	if h.version < api.MinVersion || h.version > api.MaxVersion {
		if h.key != apiVersionsKey || h.version < 0 {
			return nil, false, fmt.Errorf("%w: %s v%d not in [%d, %d]", ErrUnsupportedVersion, kmsg.NameForKey(h.key), h.version, api.MinVersion, api.MaxVersion)
		}
		undecoded = true
	}
	if limit := api.maxBody(&s.cfg); h.size > limit {
		return nil, false, fmt.Errorf("%w: %s frame of %d bytes, cap %d", ErrBodyTooLarge, kmsg.NameForKey(h.key), h.size, limit)
	}
	if charge := api.charge(h.size); charge > s.cfg.DecodeBudgetBytes {
		return nil, false, fmt.Errorf("%w: %s frame of %d bytes could decode to %d, budget %d", ErrBodyTooLarge, kmsg.NameForKey(h.key), h.size, charge, s.cfg.DecodeBudgetBytes)
	}
	return api, undecoded, nil
}

// Close stops accepting, stops reading, answers the requests already read
// and closes every connection. When ctx ends first, connections are closed
// at once (handlers see their context end) and ctx's error is returned.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	for ln := range s.listeners {
		_ = ln.Close()
	}
	for c := range s.conns {
		c.stop()
	}
	s.mu.Unlock()

	waited := make(chan struct{})
	go func() {
		s.connWG.Wait()
		close(waited)
	}()
	select {
	case <-waited:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for c := range s.conns {
		c.abort(ErrServerClosed)
	}
	s.mu.Unlock()
	return ctx.Err()
}

// Stats returns a snapshot of the server's load.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	st := Stats{Connections: len(s.conns), DecodeBytesMax: s.cfg.DecodeBudgetBytes}
	for c := range s.conns {
		st.InFlight += c.inFlight.Load()
	}
	s.mu.Unlock()
	st.DecodeBytesInUse = s.budget.Used()
	return st
}
