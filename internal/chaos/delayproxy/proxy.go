package delayproxy

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Config's zero fields.
const (
	DefaultChunkBytes  = 32 << 10
	DefaultMaxInFlight = 64
)

// ErrClosed is returned by operations on a closed Proxy.
var ErrClosed = errors.New("delayproxy: closed")

// Config says where a Proxy listens and where it forwards.
type Config struct {
	Listen      string // e.g. "127.0.0.1:0"
	Target      string // the real address behind the proxy
	Seed        uint64 // jitter source
	ChunkBytes  int    // largest chunk read at once; DefaultChunkBytes if 0
	MaxInFlight int    // chunks queued per direction; DefaultMaxInFlight if 0
}

// Proxy forwards TCP connections from Listen to Target with a settable
// one-way delay.
type Proxy struct {
	cfg    Config
	log    *slog.Logger
	ln     net.Listener
	delay  atomic.Int64 // ns
	jitter atomic.Int64 // ns

	mu     sync.Mutex
	rng    *rand.Rand
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// New listens on cfg.Listen and starts accepting; the delay starts at 0.
func New(cfg Config, log *slog.Logger) (*Proxy, error) {
	if cfg.ChunkBytes <= 0 {
		cfg.ChunkBytes = DefaultChunkBytes
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("delayproxy: listen %s: %w", cfg.Listen, err)
	}
	p := &Proxy{cfg: cfg, log: log, ln: ln,
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address peers should dial instead of Target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetDelay sets the one-way delay and jitter for bytes read from now on.
// SetDelay(0, 0) heals.
func (p *Proxy) SetDelay(delay, jitter time.Duration) {
	p.delay.Store(int64(max(delay, 0)))
	p.jitter.Store(int64(max(jitter, 0)))
}

// Delay returns the current delay and jitter.
func (p *Proxy) Delay() (delay, jitter time.Duration) {
	return time.Duration(p.delay.Load()), time.Duration(p.jitter.Load())
}

// Close stops accepting, closes every live connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closed = true
	err := p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// track registers c for Close; false if the proxy is already closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	if !p.track(client) {
		_ = client.Close()
		return
	}
	defer p.untrack(client)
	target, err := net.DialTimeout("tcp", p.cfg.Target, 5*time.Second)
	if err != nil {
		if p.log != nil {
			p.log.Debug("delayproxy: dial target", "target", p.cfg.Target, "err", err)
		}
		return
	}
	if !p.track(target) {
		_ = target.Close()
		return
	}
	defer p.untrack(target)
	var dirs sync.WaitGroup
	dirs.Add(2)
	go func() { defer dirs.Done(); p.pipe(client, target) }()
	go func() { defer dirs.Done(); p.pipe(target, client) }()
	dirs.Wait()
}

// chunk is bytes read at one moment and due at another; data == nil marks EOF.
type chunk struct {
	data []byte
	due  time.Time
}

// due returns when bytes read now may be written, never before last.
func (p *Proxy) due(now, last time.Time) time.Time {
	d := time.Duration(p.delay.Load())
	if j := p.jitter.Load(); j > 0 {
		p.mu.Lock()
		d += time.Duration(p.rng.Int64N(j))
		p.mu.Unlock()
	}
	t := now.Add(d)
	if t.Before(last) {
		return last
	}
	return t
}

// pipe copies src to dst through a bounded delay queue. On a clean EOF it
// half-closes dst; on any error it closes both.
func (p *Proxy) pipe(src, dst net.Conn) {
	q := make(chan chunk, p.cfg.MaxInFlight)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range q {
			if wait := time.Until(c.due); wait > 0 {
				time.Sleep(wait)
			}
			if c.data == nil {
				if cw, ok := dst.(interface{ CloseWrite() error }); ok {
					_ = cw.CloseWrite()
				} else {
					_ = dst.Close()
				}
				continue
			}
			if _, err := dst.Write(c.data); err != nil {
				_ = src.Close()
				_ = dst.Close()
				for range q { // drain so the reader never blocks
				}
				return
			}
		}
	}()
	var last time.Time
	for {
		buf := make([]byte, p.cfg.ChunkBytes)
		n, err := src.Read(buf)
		if n > 0 {
			last = p.due(time.Now(), last)
			q <- chunk{data: buf[:n], due: last}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				q <- chunk{due: p.due(time.Now(), last)}
			} else {
				_ = dst.Close()
				_ = src.Close()
			}
			break
		}
	}
	close(q)
	<-done
}
