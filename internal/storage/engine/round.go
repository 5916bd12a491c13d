package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/storage"
	"github.com/petrel-streaming/petrel/internal/storage/journal"
	"github.com/petrel-streaming/petrel/internal/storage/kv"
)

// Round is one sync round: created by StartRound on the owner, waited on by
// any goroutine (Wait), completed by FinishRound on the owner.
type Round struct {
	jjob     *journal.SyncJob
	jBytes   int64
	direct   []directWrite
	wrote    []durableAt // journaled partitions and their last index
	kvOps    []kv.Op
	remove   []*part
	starts   []startMove // the log starts the round's kv record carries
	resets   []*part     // partitions whose reset the round's kv record carries
	deferred []deferredWrite

	segWrites []*part       // partitions whose staged entries go to their segments
	parts     []*part       // every partition with work in the round
	bytes     int64         // entry bytes the round writes (journal and direct)
	jdone     chan struct{} // closed when the journal's sync job has run
	jErr      error
	jTime     time.Duration
}

type directWrite struct {
	p     *part
	last  model.Index
	bytes int
	job   *storage.SyncJob
	err   error
	took  time.Duration
}

// deferredWrite is a truncation or a reset, and the entries that follow
// it, to apply to the segment once the round's journal sync made them
// durable.
type deferredWrite struct {
	p       *part
	from    model.Index // truncation: entries ≥ from go
	reset   *resetOp    // or the log is reset (from is unused)
	entries []byte
	last    model.Index
}

// startMove is a partition's new log start that a round carries: applied
// (TruncatePrefix) when the round finishes, whatever was staged since.
type startMove struct {
	p     *part
	start logStart
}

type durableAt struct {
	p    *part
	last model.Index
}

// Durable says a partition is durable up to Index.
type Durable struct {
	Key   model.PartitionKey
	Index model.Index
}

// Result is what a finished round made durable.
type Result struct {
	Durable []Durable
	// Blocked is true when the journal had no room for some staged work;
	// it stays staged, and a flush is running to free space.
	Blocked bool
	// Journaled and Direct count the partitions on each path this round.
	Journaled, Direct int
	// Started lists the partitions whose log start the round moved
	// (SetStartIndex, Retain): their segments below it are gone now, so a
	// read view of them is stale.
	Started []model.PartitionKey
}

// StartRound writes all staged work: journal records into the journal's
// round buffer, segment bytes into the logs (written behind, or for the
// direct path synced by the round). It returns with nothing synced yet.
//
// Up to MaxRoundsInFlight rounds may be in flight; they are finished in the
// order they started. A partition already in a round in flight joins a new
// one only on the journal path, which keeps its records in order: while its
// direct write or a truncation is in flight, or when its new work is a
// truncation, its work stays staged for a later round; a reset joins
// regardless (heldBack).
func (e *Engine) StartRound() (*Round, error) {
	if err := e.usable(); err != nil {
		return nil, err
	}
	if len(e.rounds) >= e.opts.MaxRoundsInFlight {
		return nil, ErrRoundInFlight
	}
	e.pollFlush()
	if err := e.usable(); err != nil {
		return nil, err
	}
	r := &Round{}
	threshold := e.lat.directThreshold()
	e.blocked = false
	keep := e.staged[:0]
	for _, p := range e.staged {
		if p.heldBack() {
			keep = append(keep, p)
			continue
		}
		done, err := e.startPartition(r, p, threshold)
		if err != nil {
			return nil, e.fail(err)
		}
		if done {
			p.queued = false
			p.rounds++
			r.parts = append(r.parts, p)
			if p.startPending != 0 {
				// A start that must wait for its entries (carryStart).
				p.queued = true
				keep = append(keep, p)
			}
		} else {
			keep = append(keep, p)
		}
	}
	clear(e.staged[len(keep):])
	e.staged = keep
	// The round's metadata is one record: atomic. Resets go last in it and
	// are effective with it (doc.go, "Reset").
	if len(e.kvOps) > 0 || len(r.kvOps) > 0 || len(r.resets) > 0 {
		ops := append(e.kvOps, r.kvOps...)
		n := len(ops)
		ops = append(ops, resetOps(r)...)
		e.scratch = kv.EncodeBatch(e.scratch[:0], ops)
		if seq, err := e.j.Add(journal.Record{Kind: kindKV, Payload: e.scratch}); err != nil {
			if !errors.Is(err, journal.ErrFull) {
				return nil, e.fail(err)
			}
			// Hard states stay capped and staged ones are restaged below.
			e.blocked = true
			e.kvOps = ops[:n]
			r.kvOps = nil
			for _, m := range r.starts {
				// Not durable yet: staged again, unless a newer one is.
				m.p.startPending = max(m.p.startPending, m.start.index)
				e.queue(m.p)
			}
			r.starts = nil
			for _, p := range r.resets {
				e.queue(p) // reset, hard state and entries stay staged, together
			}
			r.resets = nil
		} else {
			r.kvOps, e.kvOps = ops, nil
			for _, m := range r.starts {
				m.p.startFlight = m.start.index
			}
			for _, p := range r.resets {
				if err := e.startReset(r, p, seq); err != nil {
					return nil, e.fail(err)
				}
			}
		}
	}
	// The journal syncs while the segments are written: the segment bytes
	// need not be durable for the acknowledgement, so the two overlap.
	r.jjob = e.j.PrepareSync()
	r.jdone = make(chan struct{})
	go func() {
		defer close(r.jdone)
		if r.jjob != nil {
			t := time.Now()
			r.jErr = r.jjob.Run()
			r.jTime = time.Since(t)
		}
	}()
	if err := e.writeSegments(r); err != nil {
		<-r.jdone
		e.j.FinishSync(r.jjob, r.jErr)
		return nil, e.fail(err)
	}
	for i := range r.direct {
		d := &r.direct[i]
		if d.job = d.p.log.PrepareSync(); d.job == nil {
			// Only a sync job in flight on the log yields none, and a
			// direct write is chosen only when none can be: never ack
			// bytes nobody syncs.
			return nil, e.fail(fmt.Errorf("engine: direct write to %s has no sync job", d.p.key))
		}
	}
	for _, d := range r.direct {
		d.p.directIn = true
	}
	e.rounds = append(e.rounds, r)
	return r, nil
}

// heldBack: the partition's staged work must wait for its rounds in flight.
// A reset never waits: it supersedes whatever they do to the log, which
// FinishRound applies first, and joining the next round keeps it in one kv
// record with the metadata staged beside it.
func (p *part) heldBack() bool {
	return p.rounds > 0 && p.reset == nil && (p.directIn || p.inflight > 0 || p.truncFrom != 0)
}

// startPartition moves one partition's staged work into the round. It
// reports false when the journal had no room (the work stays staged).
func (e *Engine) startPartition(r *Round, p *part, threshold int) (bool, error) {
	add := func(kind uint8, payload []byte) (uint64, bool, error) {
		seq, err := e.j.Add(journal.Record{Kind: kind, Key: p.key, Payload: payload})
		if errors.Is(err, journal.ErrFull) {
			e.blocked = true
			return 0, false, nil
		}
		return seq, err == nil, err
	}
	if p.removing {
		if _, ok, err := add(kindRemove, nil); !ok {
			return false, err
		}
		r.remove = append(r.remove, p)
		r.kvOps = append(r.kvOps, kv.Op{Key: hardStateKey(p.key), Delete: true}, kv.Op{Key: startIndexKey(p.key), Delete: true},
			kv.Op{Key: resetKey(p.key), Delete: true})
		return true, nil
	}
	if p.reset != nil {
		// Its metadata goes into the round's kv record, its entries after
		// that record (startReset).
		r.resets = append(r.resets, p)
		return true, nil
	}
	truncating := p.truncFrom != 0
	if truncating {
		// A truncation reaches the segment only after its journal record
		// is durable (FinishRound), so a crash can never leave a segment cut
		// by a truncation that the journal does not know of.
		e.scratch = binary.LittleEndian.AppendUint64(e.scratch[:0], uint64(p.truncFrom))
		seq, ok, err := add(kindTruncate, e.scratch)
		if !ok {
			return false, err
		}
		p.live, p.dirty = seq, true
		p.durable = min(p.durable, p.truncFrom-1)
	}
	if p.hs != nil {
		hs := *p.hs
		hs.Commit = min(hs.Commit, p.durable)
		r.kvOps = append(r.kvOps, kv.Op{Key: hardStateKey(p.key), Value: hs.appendTo(nil)})
		p.hs = nil
	}
	if err := e.carryStart(r, p); err != nil {
		return false, err
	}
	if len(p.staged) == 0 && !truncating {
		return true, nil
	}
	last := p.stagedLast
	switch {
	case truncating:
		if len(p.staged) > 0 {
			seq, ok, err := add(kindEntries, p.staged)
			if !ok {
				return false, err // the truncate record is journaled again next round
			}
			p.live = seq
		} else {
			last = p.truncFrom - 1
		}
		// The entries follow the truncation into the segment after the
		// round; new staging goes into a fresh buffer meanwhile.
		r.deferred = append(r.deferred, deferredWrite{p: p, from: p.truncFrom, entries: p.staged, last: last})
		p.staged, p.truncFrom, p.inflightLast = nil, 0, last
		p.inflight++
		return true, nil
	case p.live == 0 && len(p.staged) >= threshold:
		first, _, _ := span(p.staged)
		e.scratch = binary.LittleEndian.AppendUint64(e.scratch[:0], uint64(first))
		e.scratch = binary.LittleEndian.AppendUint64(e.scratch, uint64(last))
		if _, ok, err := add(kindBarrier, e.scratch); !ok {
			return false, err
		}
		r.direct = append(r.direct, directWrite{p: p, last: last, bytes: len(p.staged)})
		r.bytes += int64(len(p.staged))
	default:
		if limit := e.maxEntriesRecord(); len(p.staged) > limit {
			// More than one journal record may hold (a follower catching
			// up stages many appends at once): this round takes whole
			// entries up to the limit, the rest waits for the next one.
			prefix := prefixUpTo(p.staged, limit)
			p.rest = append(p.rest[:0], p.staged[len(prefix):]...)
			p.staged = prefix
			if _, l, err := span(prefix); err == nil {
				last = l
			} else {
				return false, err
			}
		}
		seq, ok, err := add(kindEntries, p.staged)
		if !ok {
			if len(p.rest) > 0 {
				p.staged = append(p.staged, p.rest...)
				p.rest = p.rest[:0]
			}
			return false, err
		}
		p.live, p.dirty = seq, true
		r.jBytes += int64(len(p.staged))
		r.bytes += int64(len(p.staged))
		r.wrote = append(r.wrote, durableAt{p, last})
	}
	// The segment write follows once the journal sync is under way.
	r.segWrites = append(r.segWrites, p)
	return true, nil
}

// carryStart puts the partition's staged start into the round's kv record
// with the Kafka offset at it (doc.go, "Log start"); FinishRound applies
// it. The round carries it only once the log holds the entries up to it,
// so the offset comes from the log and is durable no later than the
// record: a start within entries staged now (or after a truncation staged
// now) waits for a later round. A start not above the log's or one in
// flight is dropped, as is one past every entry a truncation left.
func (e *Engine) carryStart(r *Round, p *part) error {
	s, lg := p.startPending, p.log
	switch {
	case s == 0:
		return nil
	case s <= max(lg.FirstIndex(), p.startFlight):
		p.startPending = 0
		return nil
	case s > p.lastIndex()+1:
		e.opts.Logger.Warn("dropping a start index past the partition's last entry",
			"partition", p.key, "start", s, "last", p.lastIndex())
		p.startPending = 0
		return nil
	case s > lg.LastIndex()+1 || (p.truncFrom != 0 && s >= p.truncFrom):
		return nil
	}
	off, err := lg.OffsetOfIndex(s)
	if err != nil {
		return fmt.Errorf("engine: start of %s at %d: %w", p.key, s, err)
	}
	ls := logStart{index: s, offset: off}
	r.kvOps = append(r.kvOps, kv.Op{Key: startIndexKey(p.key), Value: ls.appendTo(nil)})
	r.starts = append(r.starts, startMove{p, ls})
	p.startPending = 0
	return nil
}

// writeSegments writes the round's staged entries into their segments:
// written behind for journaled partitions, to be synced by the round for
// direct ones. It runs while the journal's fdatasync is in flight.
func (e *Engine) writeSegments(r *Round) error {
	for _, p := range r.segWrites {
		if err := p.log.Append(p.staged); err != nil {
			return fmt.Errorf("engine: append to %s: %w", p.key, err)
		}
		p.staged = p.staged[:0]
		if len(p.rest) > 0 {
			// Staged beyond this round's record: the next round's.
			p.staged = append(p.staged, p.rest...)
			p.rest = p.rest[:0]
			e.queue(p)
		}
		if p.live != 0 {
			// Written behind: start the disk on it in large chunks, so a
			// flush finds little left to write and the journal's syncs
			// do not queue behind a burst of segment writes.
			if err := p.log.StartWriteback(writebackChunk); err != nil {
				e.opts.Logger.Warn("starting writeback", "partition", p.key, "err", err)
			}
		}
	}
	return nil
}

// writebackChunk is the written-behind bytes of a partition's segment from
// which the engine asks the OS to start writing them (1 MiB): small enough
// to keep the disk streaming, large enough not to add a small write to
// every round of a lightly loaded partition.
const writebackChunk = 1 << 20

// applyDeferred brings a durable truncation or reset (and the entries
// journaled after it) into the segment.
func (e *Engine) applyDeferred(d deferredWrite) error {
	p := d.p
	p.inflight--
	switch {
	case d.reset != nil:
		if err := p.log.Reset(d.reset.index, d.reset.offset); err != nil {
			return fmt.Errorf("engine: reset %s to %d: %w", p.key, d.reset.index, err)
		}
	case d.from <= p.log.LastIndex():
		if err := p.log.TruncateSuffix(d.from); err != nil {
			return fmt.Errorf("engine: truncate %s at %d: %w", p.key, d.from, err)
		}
	}
	if len(d.entries) > 0 {
		if err := p.log.Append(d.entries); err != nil {
			return fmt.Errorf("engine: append to %s: %w", p.key, err)
		}
	}
	// Written behind: the next flush must sync them before its checkpoint
	// releases the journal records (a flush started while this round was
	// in flight has already taken the partition's earlier dirty bytes).
	p.dirty = true
	p.durable = d.last
	return nil
}

// Wait runs the direct partitions' fdatasyncs and waits for the journal's,
// which StartRound began. Safe from any goroutine; call it once.
func (r *Round) Wait() error {
	var wg sync.WaitGroup
	for i := range r.direct {
		d := &r.direct[i]
		if d.job == nil {
			continue
		}
		wg.Go(func() {
			t := time.Now()
			d.err = d.job.Run()
			d.took = time.Since(t)
		})
	}
	<-r.jdone
	wg.Wait()
	return r.err()
}

func (r *Round) err() error {
	err := r.jErr
	for _, d := range r.direct {
		err = errors.Join(err, d.err)
	}
	return err
}

// FinishRound completes a waited round on the owner, the oldest in
// flight, and reports what is durable now.
func (e *Engine) FinishRound(r *Round) Result {
	if len(e.rounds) == 0 || e.rounds[0] != r {
		e.fail(errors.New("engine: rounds finished out of order"))
		return Result{}
	}
	e.rounds = slices.Delete(e.rounds, 0, 1)
	for _, p := range r.parts {
		p.rounds--
	}
	for _, d := range r.direct {
		d.p.directIn = false
	}
	e.j.FinishSync(r.jjob, r.jErr)
	for _, d := range r.direct {
		if d.job != nil {
			d.p.log.FinishSync(d.job, d.err)
		}
	}
	res := Result{Blocked: e.blocked, Journaled: len(r.wrote) + len(r.deferred), Direct: len(r.direct)}
	if err := r.err(); err != nil {
		e.fail(fmt.Errorf("engine: sync round: %w", err))
		return res
	}
	if r.jjob != nil {
		e.lat.observe(int(r.jBytes), r.jTime)
	}
	for _, d := range r.direct {
		e.lat.observe(d.bytes, d.took)
		d.p.durable = d.last
		res.Durable = append(res.Durable, Durable{d.p.key, d.last})
	}
	for _, w := range r.wrote {
		w.p.durable = w.last
		res.Durable = append(res.Durable, Durable{w.p.key, w.last})
	}
	for _, d := range r.deferred {
		if err := e.applyDeferred(d); err != nil {
			e.fail(err)
			return res
		}
		res.Durable = append(res.Durable, Durable{d.p.key, d.last})
	}
	e.kv.Apply(r.kvOps)
	for _, m := range r.starts {
		if err := m.p.log.TruncatePrefix(m.start.index); err != nil {
			e.fail(fmt.Errorf("engine: prefix truncate %s: %w", m.p.key, err))
			return res
		}
		res.Started = append(res.Started, m.p.key)
		if m.p.startFlight == m.start.index {
			m.p.startFlight = 0 // no round in flight carries a start of p any more
		}
	}
	for _, p := range r.remove {
		if err := e.removeFiles(p); err != nil {
			e.fail(err)
			return res
		}
	}
	e.maybeFlush()
	return res
}

// Round runs StartRound, Wait and FinishRound in one call.
func (e *Engine) Round() (Result, error) {
	r, err := e.StartRound()
	if err != nil {
		return Result{}, err
	}
	_ = r.Wait()
	res := e.FinishRound(r)
	return res, e.usable()
}

// removeFiles deletes a removed partition's directory once its removal
// record is durable.
func (e *Engine) removeFiles(p *part) error {
	err := errors.Join(p.log.Close(), e.opts.FS.RemoveAll(p.dir), e.opts.FS.SyncDir(partitionsDir(e.opts.Dir)))
	delete(e.parts, p.key)
	if err != nil {
		return fmt.Errorf("engine: remove %s: %w", p.key, err)
	}
	return nil
}

// maxEntriesRecord bounds one partition's entries in one journal record:
// a quarter of a journal file, so a record always fits and one partition
// cannot take a whole file.
func (e *Engine) maxEntriesRecord() int {
	return int(max((e.opts.JournalFileBytes-journal.HeaderBlockSize)/4, 4<<10))
}

// prefixUpTo is the longest run of whole entries at the start of b within
// limit bytes, and at least the first entry.
func prefixUpTo(b []byte, limit int) []byte {
	rest := b
	for len(rest) > 0 {
		_, _, next, err := storage.DecodeEntryHeader(rest)
		if err != nil {
			break
		}
		if len(b)-len(next) > limit && len(rest) != len(b) {
			break
		}
		rest = next
	}
	return b[:len(b)-len(rest)]
}
