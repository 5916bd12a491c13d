package shard

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Loop is what a shard runs after every batch. The storage engine
// implements it to run its sync round (see the package doc): AfterBatch
// starts a round with Shard.Go when none is in flight and there is work;
// the round's completion comes back as a batch of its own, after which
// AfterBatch runs again and starts the next round at once.
type Loop interface {
	// AfterBatch runs on the shard after each batch of inbox messages,
	// completions and timers. It must not block on I/O.
	AfterBatch(s *Shard)
	// Idle reports that the loop has nothing left to do. Stop waits for it.
	// A loop that is not idle must have a completion pending (Shard.Go) or
	// a timer armed, or Stop waits until its ctx ends.
	Idle() bool
}

// Stats are a shard's counters, readable from any goroutine.
type Stats struct {
	Shard         model.ShardID
	Wakeups       uint64 // times the shard goroutine woke from waiting
	Batches       uint64 // loop iterations (one per wakeup)
	Tasks         uint64 // inbox messages run
	MaxBatch      uint64 // most inbox messages drained in one iteration
	Completions   uint64 // Go/Call completions run
	TimersFired   uint64 // timer and tick callbacks run
	Rejected      uint64 // Submit/Send/Call refused for a full inbox
	InboxLen      int    // messages waiting now
	Tickers       int64  // registered tickers
	ActiveTickers int64  // tickers currently awake
}

// Shard is one shard: a goroutine that alone runs the functions sent to
// it, its timers and its Loop. Everything reachable only through a *Shard
// passed to those functions is owned by this shard's goroutine; methods
// documented "owner only" must be called from there. ID, Runtime, Logger,
// Budgets and Stats may be called from any goroutine.
type Shard struct {
	id     model.ShardID
	rt     *Runtime
	logger *slog.Logger

	// Cross-goroutine side.
	inbox  chan func(*Shard)
	done   chan func(*Shard) // completions; cap MaxPending, never full
	gate   sync.RWMutex      // enqueuers hold R; close takes W
	closed bool              // guarded by gate
	stopCh chan struct{}
	exited chan struct{}
	stats  struct {
		wakeups, tasks, maxBatch, completions, timers, rejected atomic.Uint64
		tickers, active                                         atomic.Int64
	}

	// Owner-only side.
	loop    Loop
	pending int // reserved completion slots
	timers  timerHeap
	tm      *time.Timer
	armed   bool
	armedAt time.Time
	tick    tickState
	seq     uint64
	due     []*Timer // scratch for firing timers
}

func newShard(r *Runtime, id model.ShardID) *Shard {
	tm := time.NewTimer(time.Hour)
	tm.Stop()
	return &Shard{
		id:     id,
		rt:     r,
		logger: r.logger.With("shard", id),
		inbox:  make(chan func(*Shard), r.cfg.InboxLen),
		done:   make(chan func(*Shard), r.cfg.MaxPending),
		stopCh: make(chan struct{}),
		exited: make(chan struct{}),
		tm:     tm,
	}
}

// ID is the shard's identity. Any goroutine.
func (s *Shard) ID() model.ShardID { return s.id }

// Runtime is the runtime the shard belongs to. Any goroutine.
func (s *Shard) Runtime() *Runtime { return s.rt }

// Logger is the runtime's logger with the shard's id. Any goroutine.
func (s *Shard) Logger() *slog.Logger { return s.logger }

// Budgets are the shard's memory budgets. Any goroutine.
func (s *Shard) Budgets() *ShardBudgets { return &s.rt.budgets.Shards[s.id] }

// SetLoop installs the loop run after every batch (nil removes it).
// Owner only: call it from a function sent to the shard.
func (s *Shard) SetLoop(l Loop) { s.loop = l }

// Send queues fn on shard target without waiting: Runtime.Submit for use
// inside a shard. Owner only.
func (s *Shard) Send(target model.ShardID, fn func(*Shard)) error {
	return s.rt.Submit(target, fn)
}

// Call runs fn on shard target, then then on this shard with whatever fn
// left in variables they share. It never blocks, so shards can call each
// other in any pattern without deadlock; it fails at once with
// ErrInboxFull, ErrStopped or ErrBusy (too many calls and helpers
// pending), in which case neither function runs. then may be nil. The
// reply cannot be lost: its slot in this shard's completion queue is
// reserved before fn is sent. Owner only.
func (s *Shard) Call(target model.ShardID, fn, then func(*Shard)) error {
	if err := s.reserve(); err != nil {
		return err
	}
	err := s.rt.Submit(target, func(t *Shard) {
		fn(t)
		s.done <- then
	})
	if err != nil {
		s.pending--
	}
	return err
}

// Go runs work on a helper goroutine (for blocking I/O such as a sync
// round's fdatasync) and then then on this shard, as a batch of its own
// after which the Loop runs. work must not touch shard-owned state; then
// may. At most Config.MaxPending Go and Call operations may be pending per
// shard: beyond that Go returns ErrBusy and runs nothing. Owner only.
func (s *Shard) Go(work func(), then func(*Shard)) error {
	if err := s.reserve(); err != nil {
		return err
	}
	go func() {
		work()
		s.done <- then
	}()
	return nil
}

// Pending is the number of Go and Call operations whose completion has not
// yet run. Owner only.
func (s *Shard) Pending() int { return s.pending }

func (s *Shard) reserve() error {
	if s.pending >= cap(s.done) {
		return ErrBusy
	}
	s.pending++
	return nil
}

// Stats returns a snapshot of the shard's counters. Any goroutine.
func (s *Shard) Stats() Stats {
	w := s.stats.wakeups.Load()
	return Stats{
		Shard:         s.id,
		Wakeups:       w,
		Batches:       w,
		Tasks:         s.stats.tasks.Load(),
		MaxBatch:      s.stats.maxBatch.Load(),
		Completions:   s.stats.completions.Load(),
		TimersFired:   s.stats.timers.Load(),
		Rejected:      s.stats.rejected.Load(),
		InboxLen:      len(s.inbox),
		Tickers:       s.stats.tickers.Load(),
		ActiveTickers: s.stats.active.Load(),
	}
}

// enqueue puts fn in the inbox. With ctx == nil it never blocks; otherwise
// it waits for space until ctx ends.
func (s *Shard) enqueue(ctx context.Context, fn func(*Shard)) error {
	s.gate.RLock()
	defer s.gate.RUnlock()
	if s.closed {
		return ErrStopped
	}
	select {
	case s.inbox <- fn:
		return nil
	default:
	}
	if ctx == nil {
		s.stats.rejected.Add(1)
		return ErrInboxFull
	}
	select {
	case s.inbox <- fn:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close rejects new work and tells the goroutine to drain and exit. After
// the write lock no enqueuer is mid-send, so nothing accepted is lost.
func (s *Shard) close() {
	s.gate.Lock()
	s.closed = true
	s.gate.Unlock()
	close(s.stopCh)
}

// run is the shard goroutine. Each iteration waits for anything (an inbox
// message, a completion, the timer, stop), then drains everything present
// at that moment as one batch, then runs the Loop. Nothing else wakes it:
// an idle shard costs no CPU.
func (s *Shard) run() {
	defer close(s.exited)
	if s.rt.cfg.Pin {
		if err := pin(s.id); err != nil {
			s.logger.Warn("shard pinning failed; running unpinned", "err", err)
		}
	}
	stop := s.stopCh
	stopping := false
	for {
		var first, firstDone func(*Shard)
		gotTask, gotDone := false, false
		select {
		case first = <-s.inbox:
			gotTask = true
		case firstDone = <-s.done:
			gotDone = true
		case <-s.tm.C:
			s.armed = false
		case <-stop:
			stopping, stop = true, nil
		}
		s.stats.wakeups.Add(1)
		if gotDone {
			s.complete(firstDone)
		}
		for n := len(s.done); n > 0; n-- {
			s.complete(<-s.done)
		}
		s.drainInbox(first, gotTask)
		s.fireTimers()
		if s.loop != nil {
			s.loop.AfterBatch(s)
		}
		s.rearm()
		if stopping && len(s.inbox) == 0 && s.pending == 0 && (s.loop == nil || s.loop.Idle()) {
			s.tm.Stop()
			return
		}
	}
}

func (s *Shard) complete(fn func(*Shard)) {
	s.pending--
	s.stats.completions.Add(1)
	if fn != nil {
		fn(s)
	}
}

// drainInbox runs first (if any) and every message in the inbox when it is
// called; messages arriving meanwhile wait for the next batch, so one
// busy producer cannot starve completions and timers.
func (s *Shard) drainInbox(first func(*Shard), got bool) {
	var n uint64
	if got {
		first(s)
		n++
	}
	for k := len(s.inbox); k > 0; k-- {
		(<-s.inbox)(s)
		n++
	}
	if n == 0 {
		return
	}
	s.stats.tasks.Add(n)
	if n > s.stats.maxBatch.Load() {
		s.stats.maxBatch.Store(n)
	}
}
