package shard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Errors with identity; check them with errors.Is.
var (
	// ErrInboxFull is returned by Submit, Send and Call when the target
	// shard's inbox is at its bound: the caller must back off (or turn it
	// into a retriable error for its client), never queue elsewhere.
	ErrInboxFull = errors.New("shard: inbox full")
	// ErrStopped is returned once Stop has begun: no new work is accepted.
	ErrStopped = errors.New("shard: runtime stopped")
	// ErrNoShard is returned for a ShardID outside [0, Len()).
	ErrNoShard = errors.New("shard: no such shard")
	// ErrBusy is returned by Shard.Go and Shard.Call when the shard already
	// has Config.MaxPending operations whose completion has not come back.
	ErrBusy = errors.New("shard: too many pending completions")
)

// Config sizes the runtime. The zero value is valid: every field has a
// default.
type Config struct {
	// Shards is the number of shards; 0 means runtime.GOMAXPROCS(0).
	Shards int
	// InboxLen bounds each shard's inbox in messages; 0 means 4096.
	InboxLen int
	// MaxPending bounds, per shard, the helper goroutines (Shard.Go) and
	// cross-shard calls (Shard.Call) whose completion has not yet come
	// back; 0 means 64.
	MaxPending int
	// TickInterval is the period of every Ticker; 0 means 100ms.
	TickInterval time.Duration
	// MemoryBytes is the node's memory setting, split into per-shard
	// budgets by SplitMemory; 0 means DefaultMemoryBytes.
	MemoryBytes int64
	// Pin locks each shard goroutine to an OS thread bound to one CPU of the
	// process's affinity mask. Off by default: in Go a shard's value is
	// ownership and batching; pinning is an optimisation to measure.
	Pin bool
}

// Defaults applied by New to zero fields.
const (
	DefaultInboxLen     = 4096
	DefaultMaxPending   = 64
	DefaultTickInterval = 100 * time.Millisecond
	DefaultMemoryBytes  = 1 << 30
)

func (c Config) withDefaults() Config {
	if c.Shards <= 0 {
		c.Shards = runtime.GOMAXPROCS(0)
	}
	if c.InboxLen <= 0 {
		c.InboxLen = DefaultInboxLen
	}
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.TickInterval <= 0 {
		c.TickInterval = DefaultTickInterval
	}
	if c.MemoryBytes <= 0 {
		c.MemoryBytes = DefaultMemoryBytes
	}
	return c
}

// Runtime is a fixed set of shards. Its methods may be called from any
// goroutine; see the package doc for the one rule about calling InvokeOn
// from inside a shard.
type Runtime struct {
	cfg     Config
	logger  *slog.Logger
	shards  []*Shard
	budgets Budgets

	mu      sync.Mutex // guards started, stopped
	started bool
	stopped bool
}

// New builds a runtime with cfg.Shards shards; their goroutines start with
// Start. Work submitted before Start waits in the inboxes. New fails only
// when the memory setting is too small to give every subsystem of every
// shard its minimum (see SplitMemory).
func New(cfg Config, logger *slog.Logger) (*Runtime, error) {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b, err := SplitMemory(cfg.MemoryBytes, cfg.Shards)
	if err != nil {
		return nil, err
	}
	r := &Runtime{cfg: cfg, logger: logger, budgets: b}
	r.shards = make([]*Shard, cfg.Shards)
	for i := range r.shards {
		r.shards[i] = newShard(r, model.ShardID(i))
	}
	return r, nil
}

// Len is the number of shards.
func (r *Runtime) Len() int { return len(r.shards) }

// Config returns the configuration with defaults applied.
func (r *Runtime) Config() Config { return r.cfg }

// Budgets returns the memory split the runtime was built with. The Budget
// values of each shard are shared: acquire from any goroutine.
func (r *Runtime) Budgets() Budgets { return r.budgets }

// Start launches one goroutine per shard. It is an error to start twice or
// after Stop.
func (r *Runtime) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return ErrStopped
	}
	if r.started {
		return errors.New("shard: runtime already started")
	}
	r.started = true
	for _, s := range r.shards {
		go s.run()
	}
	r.logger.Info("shard runtime started", "shards", len(r.shards), "pin", r.cfg.Pin,
		"inbox_len", r.cfg.InboxLen, "tick", r.cfg.TickInterval)
	return nil
}

// Stop closes every inbox to new work, then lets each shard drain what it
// had accepted (inbox messages, pending completions, until its Loop is
// Idle) and exit. It waits for that at most until ctx ends and then returns
// an error wrapping ctx.Err(); the shards keep draining in the background.
// Stop on a runtime that was never started discards queued work.
func (r *Runtime) Stop(ctx context.Context) error {
	r.mu.Lock()
	first := !r.stopped
	r.stopped = true
	started := r.started
	r.mu.Unlock()
	if first {
		for _, s := range r.shards {
			s.close()
		}
	}
	if !started {
		return nil
	}
	for _, s := range r.shards {
		select {
		case <-s.exited:
		case <-ctx.Done():
			return fmt.Errorf("shard: stop: shard %d still draining: %w", s.id, ctx.Err())
		}
	}
	r.logger.Info("shard runtime stopped")
	return nil
}

func (r *Runtime) shard(id model.ShardID) (*Shard, error) {
	if int(id) >= len(r.shards) {
		return nil, fmt.Errorf("%w: %d of %d", ErrNoShard, id, len(r.shards))
	}
	return r.shards[id], nil
}

// Submit queues fn to run on shard id and returns at once. It never
// blocks: a full inbox returns ErrInboxFull (backpressure), a stopping
// runtime ErrStopped. Messages submitted by one goroutine to one shard run
// in submission order.
func (r *Runtime) Submit(id model.ShardID, fn func(*Shard)) error {
	s, err := r.shard(id)
	if err != nil {
		return err
	}
	return s.enqueue(nil, fn)
}

// InvokeOn runs fn on shard id's goroutine and waits for it to finish. It
// waits for inbox space rather than failing, bounded by ctx. If ctx ends
// after fn was queued, InvokeOn returns ctx.Err() and fn may still run.
//
// Never call InvokeOn from inside a shard (from a fn, a timer or a Loop):
// the calling shard would stall all its partitions for the wait, and two
// shards invoking each other deadlock. Inside a shard use Shard.Call,
// which never blocks.
func (r *Runtime) InvokeOn(ctx context.Context, id model.ShardID, fn func(*Shard)) error {
	s, err := r.shard(id)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	if err := s.enqueue(ctx, func(s *Shard) { fn(s); close(done) }); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ShardFor maps a key hash to its owning shard (see ShardFor).
func (r *Runtime) ShardFor(hash uint64) model.ShardID { return ShardFor(hash, len(r.shards)) }

// Stats returns a snapshot of every shard's counters. Any goroutine.
func (r *Runtime) Stats() []Stats {
	out := make([]Stats, len(r.shards))
	for i, s := range r.shards {
		out[i] = s.Stats()
	}
	return out
}
