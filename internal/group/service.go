package group

import (
	"context"
	"crypto/rand"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Log is where a Service persists its records: in the broker, one
// partition of __consumer_offsets. Append returns once every record is
// durable, or an error (then none may be assumed durable, and the Service
// stops). It is only called from the Service goroutine.
type Log interface {
	Append(ctx context.Context, records []Record) error
}

// Service runs one Coordinator on its own goroutine: requests arrive
// through a bounded inbox, one timer serves every deadline, and each round
// handles everything waiting, appends the round's records with one Append,
// then answers. Do and Close are safe from any goroutine; Load must come
// before Start.
type Service struct {
	c      *Coordinator
	log    Log
	logger *slog.Logger
	now    func() time.Time

	inbox     chan call
	stop      chan struct{}
	done      chan struct{}
	appendCtx context.Context
	abort     context.CancelFunc
	startOnce sync.Once
	closeOnce sync.Once
	exitErr   error // set before done closes
}

// Bounds of the shell: requests waiting to be handled (Do blocks beyond,
// which is backpressure), and requests handled per round.
const (
	inboxSize     = 1024
	roundRequests = 256
)

type call struct {
	client Client
	req    kmsg.Request
	reply  chan result   // buffered 1: the loop never blocks on it
	taken  chan struct{} // closed once Handle has copied what it keeps of req
}

type result struct {
	resp kmsg.Response
	err  error
}

// NewService returns a Service for one coordinator partition. now is the
// clock (time.Now in production).
func NewService(cfg Config, log Log, logger *slog.Logger, now func() time.Time) (*Service, error) {
	c, err := New(cfg, rand.Reader)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{
		c: c, log: log, logger: logger, now: now,
		inbox: make(chan call, inboxSize), stop: make(chan struct{}), done: make(chan struct{}),
		appendCtx: ctx, abort: cancel,
	}, nil
}

// Load replays the partition's records, oldest first. Call it before
// Start; on error the Service must not be started.
func (s *Service) Load(records iter.Seq2[Record, error]) error {
	for r, err := range records {
		if err != nil {
			return fmt.Errorf("group: load: %w", err)
		}
		if err := s.c.Replay(r.Key, r.Value); err != nil {
			return err
		}
	}
	return nil
}

// Start starts the Service goroutine (once; not after Close).
func (s *Service) Start() { s.startOnce.Do(func() { go s.run() }) }

// Do hands req to the coordinator and waits for its response: a JoinGroup
// waits for its rebalance, an OffsetCommit for its records to be durable.
// When ctx ends first Do returns ctx.Err(), once the coordinator has
// copied what it keeps of req (req's bytes may then be reused); the request
// still takes effect and its answer is dropped. After Close it returns ErrClosed; after
// a failed append, an error wrapping ErrLogFailed.
func (s *Service) Do(ctx context.Context, client Client, req kmsg.Request) (kmsg.Response, error) {
	cl := call{client: client, req: req, reply: make(chan result, 1), taken: make(chan struct{})}
	select {
	case s.inbox <- cl:
	case <-s.done:
		return nil, s.exitErr
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-cl.reply:
		return r.resp, r.err
	case <-s.done:
		select { // answered on the way out?
		case r := <-cl.reply:
			return r.resp, r.err
		default:
			return nil, s.exitErr
		}
	case <-ctx.Done():
		// req may alias the caller's buffer, reused once Do returns:
		// wait until the coordinator has taken its copy (one round at
		// most; the loop never blocks on anything but the log).
		select {
		case <-cl.taken:
		case <-s.done:
		}
		return nil, ctx.Err()
	}
}

// Close stops the Service: requests still parked get ErrClosed. It waits
// for the goroutine until ctx ends, then aborts a pending Append. A
// Service that was never started is closed at once.
func (s *Service) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.stop) })
	s.startOnce.Do(func() { // never started: nothing runs, done at once
		s.exitErr = ErrClosed
		s.abort()
		close(s.done)
	})
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.abort()
		<-s.done
		return ctx.Err()
	}
}

// Done is closed once the Service has stopped: after Close, or on its own
// when an append failed (Do then answers ErrLogFailed). Its owner watches
// it to rebuild the coordinator from the log.
func (s *Service) Done() <-chan struct{} { return s.done }

func (s *Service) run() {
	waiting := map[RequestID]chan result{}
	var nextID RequestID
	exit := func(err error) {
		for _, ch := range waiting {
			ch <- result{err: err}
		}
		for len(s.inbox) > 0 { // never handled: release their callers
			cl := <-s.inbox
			close(cl.taken)
			cl.reply <- result{err: err}
		}
		s.exitErr = err
		s.abort()
		close(s.done)
	}
	handle := func(cl call) {
		nextID++
		err := s.c.Handle(s.now(), nextID, cl.client, cl.req)
		close(cl.taken)
		if err != nil {
			cl.reply <- result{err: err}
			return
		}
		waiting[nextID] = cl.reply
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case cl := <-s.inbox:
			handle(cl)
			for i := 1; i < roundRequests && len(s.inbox) > 0; i++ {
				handle(<-s.inbox)
			}
		case <-timer.C:
		case <-s.stop:
			exit(ErrClosed)
			return
		}
		now := s.now()
		s.c.Tick(now)
		for s.c.HasReady() {
			rd := s.c.Ready()
			if len(rd.Records) > 0 {
				if err := s.log.Append(s.appendCtx, rd.Records); err != nil {
					s.logger.Error("group coordinator stops: log append failed", "records", len(rd.Records), "err", err)
					exit(fmt.Errorf("%w: %w", ErrLogFailed, err))
					return
				}
				s.c.Persisted(rd.Through)
			}
			for _, r := range rd.Responses {
				if ch, ok := waiting[r.ID]; ok {
					ch <- result{resp: r.Msg}
					delete(waiting, r.ID)
				}
			}
		}
		if d, ok := s.c.NextDeadline(); ok {
			timer.Reset(max(d.Sub(now), 0))
		} else {
			timer.Stop()
		}
	}
}
