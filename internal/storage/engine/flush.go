package engine

import (
	"errors"
	"fmt"
	"sync"

	"github.com/petrel-streaming/petrel/internal/storage"
	"github.com/petrel-streaming/petrel/internal/storage/kv"
)

// flushParallel bounds the concurrent segment fdatasyncs of one flush.
const flushParallel = 8

// flushJob is one write-behind flush: fdatasync every dirty segment, save
// the metadata snapshot with the checkpoint, then (on the owner) release
// the journal below it.
type flushJob struct {
	ckpt  uint64
	parts []*part
	jobs  []*storage.SyncJob
	snap  []byte // encoded kv snapshot
	err   error
	done  chan struct{}
}

// Flushing reports whether a flush is running; FlushDone is closed when it
// ends, so an idle shard can wait for it.
func (e *Engine) FlushDone() <-chan struct{} {
	if e.flush == nil {
		return nil
	}
	return e.flush.done
}

// Idle tells the engine its shard has nothing staged: a good moment to
// write behind whatever is dirty, so the journal drains while load is low.
func (e *Engine) Idle() {
	if e.usable() != nil || len(e.rounds) > 0 {
		return
	}
	e.pollFlush()
	// Write behind only once there is something worth a flush: a flush of
	// many partitions costs as many fdatasyncs, which would slow the next
	// journal sync if done for every idle moment.
	if e.flush == nil && float64(e.j.Used()) >= e.opts.FlushFraction/4*float64(e.j.Capacity()) && e.hasDirty() {
		e.startFlush()
	}
}

func (e *Engine) hasDirty() bool {
	for _, p := range e.parts {
		if p.dirty || p.live != 0 {
			return true
		}
	}
	return false
}

// maybeFlush starts a flush when the journal is filling up or refused work.
func (e *Engine) maybeFlush() {
	e.pollFlush()
	if e.flush != nil || e.failed != nil {
		return
	}
	if e.blocked || float64(e.j.Used()) >= e.opts.FlushFraction*float64(e.j.Capacity()) {
		e.startFlush()
	}
}

// startFlush captures the checkpoint and every dirty partition's sync job.
// Journal records are added only by StartRound, so every record of a
// finished round has had its segment bytes written and its metadata
// applied: the checkpoint is the first record of the oldest round in
// flight, or the next sequence number when none is. The records of rounds
// in flight stay in the journal: their metadata and deferred truncations
// reach the kv map and the segments only when they finish.
func (e *Engine) startFlush() bool {
	ckpt := e.j.LastSeq() + 1
	if len(e.rounds) > 0 {
		ckpt = e.j.DurableSeq() + 1
	}
	f := &flushJob{ckpt: ckpt, done: make(chan struct{})}
	for _, p := range e.parts {
		if !p.dirty {
			continue
		}
		p.dirty = false
		job := p.log.PrepareSync()
		if job == nil {
			if p.log.DurableIndex() < p.log.LastIndex() {
				// A checkpoint past bytes nobody syncs would lose them.
				e.fail(fmt.Errorf("engine: flush of %s: no sync job with entries %d..%d not durable",
					p.key, p.log.DurableIndex()+1, p.log.LastIndex()))
				return false
			}
			continue
		}
		f.parts = append(f.parts, p)
		f.jobs = append(f.jobs, job)
	}
	f.snap = e.kv.Encode(nil, f.ckpt)
	fs, dir := e.opts.FS, kvDir(e.opts.Dir)
	e.flush = f
	go func() {
		defer close(f.done)
		f.err = runParallel(f.jobs, flushParallel)
		if f.err == nil {
			f.err = kv.WriteSnapshot(fs, dir, f.snap)
		}
	}()
	return true
}

// pollFlush completes a finished flush on the owner.
func (e *Engine) pollFlush() {
	f := e.flush
	if f == nil {
		return
	}
	select {
	case <-f.done:
	default:
		return
	}
	e.finishFlush(f)
}

func (e *Engine) finishFlush(f *flushJob) {
	e.flush = nil
	for i, p := range f.parts {
		p.log.FinishSync(f.jobs[i], f.err)
	}
	if f.err != nil {
		e.fail(fmt.Errorf("engine: write-behind flush: %w", f.err))
		return
	}
	for _, p := range e.parts {
		if p.live != 0 && p.live < f.ckpt {
			p.live = 0
		}
	}
	e.j.Release(f.ckpt)
}

// Flush synchronously writes behind everything dirty and empties the
// journal up to now: on Close, at the end of recovery, and in tests.
func (e *Engine) Flush() error {
	if err := e.usable(); err != nil {
		return err
	}
	if len(e.rounds) > 0 {
		return ErrRoundInFlight
	}
	if e.flush != nil {
		<-e.flush.done
		e.finishFlush(e.flush)
	}
	if !e.startFlush() {
		return e.usable()
	}
	<-e.flush.done
	e.finishFlush(e.flush)
	return e.usable()
}

func runParallel(jobs []*storage.SyncJob, parallel int) error {
	var (
		mu   sync.Mutex
		errs error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, parallel)
	)
	for _, job := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := job.Run(); err != nil {
				mu.Lock()
				errs = errors.Join(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errs
}
