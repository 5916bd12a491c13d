package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// Errors with identity (match with errors.Is).
var (
	// ErrClosed is returned by a Log after Close.
	ErrClosed = errors.New("storage: log closed")
	// ErrOffsetOutOfRange: a Kafka offset outside [StartOffset, NextOffset].
	ErrOffsetOutOfRange = errors.New("storage: offset out of range")
	// ErrIndexOutOfRange: a Raft index outside [FirstIndex, LastIndex]
	// (below it: compacted away).
	ErrIndexOutOfRange = errors.New("storage: index out of range")
	// ErrNotContiguous: an appended entry does not follow the log (index,
	// term or offset).
	ErrNotContiguous = errors.New("storage: entry does not follow the log")
	// ErrSyncInFlight: the operation needs the outstanding SyncJob finished.
	ErrSyncInFlight = errors.New("storage: sync job in flight")
)

// Defaults, as Kafka's.
const (
	DefaultSegmentBytes       = 1 << 30
	DefaultSegmentAge         = 7 * 24 * time.Hour
	DefaultIndexIntervalBytes = 4096
	DefaultPreallocStep       = 32 << 20
	firstPreallocStep         = 1 << 20
	// MaxSegmentBytes keeps positions in the 32-bit index (Kafka's limit too).
	MaxSegmentBytes = math.MaxInt32
)

// Options configure a Log. The zero value works (defaults below).
type Options struct {
	Logger             *slog.Logger  // default slog.Default()
	Direct             bool          // O_DIRECT writes, with fallback
	SegmentBytes       int64         // roll above this (segment.bytes, 1 GiB)
	SegmentAge         time.Duration // roll when the first entry is older (segment.ms, 7 d)
	IndexIntervalBytes int           // index point spacing (index.interval.bytes, 4096)
	PreallocStep       int64         // fallocate ahead, at most this far (32 MiB)
	Now                func() time.Time
	Handles            *HandleCache // shard's open files; default a private one
	Cache              *BatchCache  // shard's tail cache; nil: none
	// Indexes holds the index points of closed segments; nil: the one
	// shared by the logs of Handles (the shard's), DefaultIndexCacheBytes.
	Indexes *IndexCache
	// StartIndex is the log's first index as persisted by the engine
	// (after TruncatePrefix or Retain); 0 means 1.
	StartIndex model.Index
	// StartOffset is the next Kafka offset of a log that holds no entry
	// at all (a new partition: 0; after Reset: what the engine persisted).
	StartOffset model.Offset
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SegmentBytes <= 0 || o.SegmentBytes > MaxSegmentBytes {
		o.SegmentBytes = min(max(o.SegmentBytes, 0), MaxSegmentBytes)
		if o.SegmentBytes == 0 {
			o.SegmentBytes = DefaultSegmentBytes
		}
	}
	if o.SegmentAge <= 0 {
		o.SegmentAge = DefaultSegmentAge
	}
	if o.IndexIntervalBytes <= 0 {
		o.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if o.PreallocStep <= 0 {
		o.PreallocStep = DefaultPreallocStep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Handles == nil {
		o.Handles = NewHandleCache(8)
	}
	if o.Indexes == nil {
		o.Indexes = o.Handles.indexCache()
	}
	if o.StartIndex == 0 {
		o.StartIndex = 1
	}
	return o
}

// Log is the segmented log of one partition: its Raft log, whose data
// entries carry the partition's Kafka batches.
//
// A Log lives on its partition's shard: every method is called by that one
// goroutine, except SyncJob.Run (any goroutine) and the methods of the
// Views it hands out (any goroutine).
type Log struct {
	lf     *logFiles
	opts   Options
	logger *slog.Logger

	segs []*segment // closed segments, ascending; copy-on-write for Views
	act  *segment   // active segment; act.st is owned here

	start       model.Index
	startOffset model.Offset
	durable     model.Index

	direct    bool
	dw        directWriter
	allocEnd  int64
	allocStep int64
	wbFrom    int64     // active segment: bytes before it were handed to StartWriteback
	created   time.Time // when the active segment began (age roll)

	dirty    []*segment // written or truncated since the last PrepareSync
	dirDirty bool       // files created or removed since the last PrepareSync
	pending  []*segment // segments with index points not yet in their file
	job      SyncJob
	inflight bool
	gen      uint64 // bumped by TruncateSuffix: in-flight jobs no longer vouch for the tail

	terms []termStart // term changes over [terms[0].index, LastIndex]

	failed error
	closed bool
	ptbuf  []byte
}

// termStart: entries from index on have term (until the next termStart).
type termStart struct {
	index model.Index
	term  model.Term
}

// FirstIndex is the first index in the log (LastIndex+1 when empty).
func (l *Log) FirstIndex() model.Index { return l.start }

// LastIndex is the index of the last appended entry (FirstIndex-1 when
// empty).
func (l *Log) LastIndex() model.Index { return l.act.st.last }

// LastTerm is the term of the last entry (0 when the log never held one).
func (l *Log) LastTerm() model.Term { return l.act.st.lastTerm }

// StartOffset is the Kafka log start offset.
func (l *Log) StartOffset() model.Offset { return l.startOffset }

// NextOffset is the Kafka log end offset: the next offset to assign.
func (l *Log) NextOffset() model.Offset { return l.act.st.nextOffset }

// DurableIndex is the last index known durable (synced) on this replica.
func (l *Log) DurableIndex() model.Index { return l.durable }

// Segments is the number of segment files.
func (l *Log) Segments() int { return len(l.segs) + 1 }

// Err is the sticky error that failed the log, if any.
func (l *Log) Err() error { return l.failed }

func (l *Log) usable() error {
	if l.closed {
		return ErrClosed
	}
	return l.failed
}

// fail makes err sticky: after a write error the page cache and the file
// may disagree, so nothing more is written until the log is reopened.
func (l *Log) fail(err error) error {
	if l.failed == nil {
		l.failed = fmt.Errorf("storage: log %s failed: %w", l.lf.dir, err)
	}
	return l.failed
}

// SetSegmentLimits changes when the active segment rolls: above bytes
// (segment.bytes) or once its first entry is older than age (segment.ms),
// from the next append on. Zero keeps a value. Owner only.
func (l *Log) SetSegmentLimits(bytes int64, age time.Duration) {
	if bytes > 0 {
		l.opts.SegmentBytes = min(bytes, MaxSegmentBytes)
	}
	if age > 0 {
		l.opts.SegmentAge = age
	}
}

// Append appends one or more encoded entries (AppendEntry), without
// syncing. Every entry must pass its CRC, follow the log (index
// LastIndex+1, term ≥ LastTerm, offset NextOffset) and, for data, hold one
// batch whose base offset and length match; otherwise nothing is appended.
// The bytes are copied; the caller may reuse b. Entries become durable
// with the next completed sync job.
func (l *Log) Append(b []byte) error {
	if err := l.usable(); err != nil {
		return err
	}
	last, term, next := l.LastIndex(), l.LastTerm(), l.NextOffset()
	for rest := b; len(rest) > 0; {
		h, payload, r, err := DecodeEntry(rest)
		if err != nil {
			return fmt.Errorf("storage: append after %d: %w", last, err)
		}
		if h.Index != last+1 || h.Term < term || h.Offset != next {
			return fmt.Errorf("storage: append entry %d term %d offset %d after %d term %d offset %d: %w",
				h.Index, h.Term, h.Offset, last, term, next, ErrNotContiguous)
		}
		if _, err := checkPayload(h, payload); err != nil {
			return err
		}
		last, term, next, rest = h.Index, h.Term, h.NextOffset(), r
	}
	now := l.opts.Now()
	run := 0 // start of the entries not yet written
	size := l.act.st.size
	for at := 0; at < len(b); {
		h, _ := decodeHeader(b[at:])
		n := h.Size()
		if l.needRoll(size, n, now) {
			if err := l.writeRun(b[run:at]); err != nil {
				return err
			}
			if err := l.roll(now); err != nil {
				return err
			}
			run, size = at, 0
		}
		at += int(n)
		size += n
	}
	return l.writeRun(b[run:])
}

func (l *Log) needRoll(size, n int64, now time.Time) bool {
	return size > 0 && (size+n > l.opts.SegmentBytes || now.Sub(l.created) >= l.opts.SegmentAge)
}

// writeRun writes entries known valid at the end of the active segment and
// records them.
func (l *Log) writeRun(run []byte) error {
	if len(run) == 0 {
		return nil
	}
	st := &l.act.st
	pos := st.size
	if err := l.write(run, pos); err != nil {
		return l.fail(err)
	}
	first := st.last + 1
	firstOff := st.nextOffset
	for rest := run; len(rest) > 0; {
		h, _ := decodeHeader(rest)
		n := h.Size()
		maxTs := int64(-1)
		if h.Type == EntryData {
			maxTs = model.Batch(rest[EntryHeaderSize:n]).MaxTimestamp()
		}
		if len(l.terms) == 0 || l.terms[len(l.terms)-1].term != h.Term {
			l.terms = append(l.terms, termStart{index: h.Index, term: h.Term})
		}
		st.add(h, pos, maxTs, l.lf.interval)
		pos += n
		rest = rest[n:]
	}
	l.markDirty(l.act)
	if l.lf.cache != nil {
		l.lf.cache.put(l.lf.id, first, st.last, firstOff, st.nextOffset, run)
	}
	return nil
}

// write puts p at pos of the active segment, preallocating ahead.
func (l *Log) write(p []byte, pos int64) error {
	h, err := l.openActive()
	if err != nil {
		return err
	}
	err = l.preallocate(h.f, pos+int64(len(p)))
	if err == nil && l.direct {
		err = l.dw.write(l.lf.handles, h.f, p, pos)
		if err != nil && isDirectRefused(err) {
			l.fallBack(err)
			l.lf.handles.release(h)
			if h, err = l.openActive(); err != nil {
				return err
			}
		} else {
			l.lf.handles.release(h)
			return err
		}
	}
	if err == nil {
		_, err = h.f.WriteAt(p, pos)
	}
	l.lf.handles.release(h)
	return err
}

// StartWriteback asks the OS to start writing the active segment's bytes
// written since the last call, once there are at least atLeast of them, without
// waiting (see vfs.File.StartWriteback): written-behind bytes then reach the
// disk as a steady stream rather than in one burst when the log is synced.
// It makes nothing durable. A buffered log only (direct writes are on disk).
// An error is returned but does not fail the log: the next sync reports
// the state of the bytes.
func (l *Log) StartWriteback(atLeast int64) error {
	end := l.act.st.size
	l.wbFrom = min(l.wbFrom, end) // a suffix truncation cut below it
	if l.direct || end-l.wbFrom < atLeast {
		return nil
	}
	h, err := l.openActive()
	if err != nil {
		return err
	}
	err = h.f.StartWriteback(l.wbFrom, end-l.wbFrom)
	l.lf.handles.release(h)
	l.wbFrom = end
	return err
}

// preallocate reserves space ahead of end in bounded, growing steps.
func (l *Log) preallocate(f vfs.File, end int64) error {
	if end <= l.allocEnd {
		return nil
	}
	target := max(end, l.allocEnd) + l.allocStep
	target = min(target, max(end, l.opts.SegmentBytes))
	if err := f.Allocate(l.allocEnd, target-l.allocEnd); err != nil {
		return err
	}
	l.allocEnd = target
	l.allocStep = min(2*l.allocStep, l.opts.PreallocStep)
	return nil
}

// openActive returns a referenced write handle on the active segment.
func (l *Log) openActive() (*handle, error) {
	h, err := l.lf.handles.acquire(l.lf.fs, l.act.logPath, l.direct)
	if err != nil && l.direct && isDirectRefused(err) {
		l.fallBack(err)
		h, err = l.lf.handles.acquire(l.lf.fs, l.act.logPath, false)
	}
	return h, err
}

func (l *Log) markDirty(s *segment) {
	for _, d := range l.dirty {
		if d == s {
			return
		}
	}
	l.dirty = append(l.dirty, s)
	for _, p := range l.pending {
		if p == s {
			return
		}
	}
	l.pending = append(l.pending, s)
}

// roll closes the active segment (trimmed to its logical end) and starts
// a new one at the next index.
func (l *Log) roll(now time.Time) error {
	old := l.act
	if err := l.trimActive(); err != nil {
		return l.fail(err)
	}
	old.mu.Lock()
	old.loaded = true
	old.mu.Unlock()
	segs := make([]*segment, len(l.segs), len(l.segs)+1)
	copy(segs, l.segs)
	l.segs = append(segs, old)
	seg := newSegment(l.lf.dir, old.st.last+1)
	st := emptyState(seg.base, old.st.nextOffset)
	st.lastTerm = old.st.lastTerm
	if err := l.createActive(seg, st, now); err != nil {
		return l.fail(err)
	}
	return nil
}

// trimActive cuts the active segment's file to its logical end, dropping
// preallocated space and direct I/O padding.
func (l *Log) trimActive() error {
	if l.allocEnd <= l.act.st.size && !l.direct {
		return nil
	}
	h, err := l.lf.handles.acquire(l.lf.fs, l.act.logPath, false)
	if err != nil {
		return err
	}
	defer l.lf.handles.release(h)
	if err := h.f.Truncate(l.act.st.size); err != nil {
		return err
	}
	l.allocEnd = l.act.st.size
	l.markDirty(l.act)
	return nil
}

// createActive creates seg's files and makes it the active segment.
func (l *Log) createActive(seg *segment, st segState, now time.Time) error {
	f, err := l.lf.fs.Create(seg.logPath, vfs.OpenOptions{Direct: l.direct})
	if err != nil && l.direct && isDirectRefused(err) {
		l.fallBack(err)
		f, err = l.lf.fs.Create(seg.logPath, vfs.OpenOptions{})
	}
	if err != nil {
		return err
	}
	l.lf.handles.release(l.lf.handles.insert(l.lf.fs, f, l.direct))
	seg.st, seg.loaded, seg.written = st, true, 0
	l.dirDirty = true
	return l.activate(seg, now)
}

// activate makes seg (whose state is set) the segment appends go to.
func (l *Log) activate(seg *segment, now time.Time) error {
	l.act, l.created = seg, now
	l.allocEnd, l.allocStep = seg.st.size, min(firstPreallocStep, l.opts.PreallocStep)
	l.wbFrom = seg.st.size
	l.markDirty(seg)
	if !l.direct {
		return nil
	}
	h, err := l.openActive()
	if err != nil {
		return err
	}
	l.lf.handles.release(h)
	if !l.direct { // fell back while opening
		return nil
	}
	// The tail page is read through a buffered handle (direct reads need
	// alignment too).
	if h, err = l.lf.handles.acquire(l.lf.fs, seg.logPath, false); err != nil {
		return err
	}
	defer l.lf.handles.release(h)
	return l.dw.load(h.f, seg.st.size)
}

// fallBack switches the log to buffered I/O after the file system refused
// direct I/O, logging it once per shard.
func (l *Log) fallBack(err error) {
	l.direct = false
	l.dw = directWriter{}
	if l.lf.handles.directFallbackLogged.CompareAndSwap(false, true) {
		l.logger.Warn("storage: direct I/O refused, using buffered I/O", "dir", l.lf.dir, "err", err)
	}
}

// removeSegment deletes a segment's files (durable after the next sync).
func (l *Log) removeSegment(s *segment) error {
	s.retire(l.lf)
	l.lf.handles.forget(l.lf.fs, s.logPath)
	l.lf.handles.forget(l.lf.fs, s.indexPath)
	l.dirty = dropSeg(l.dirty, s)
	l.pending = dropSeg(l.pending, s)
	l.dirDirty = true
	if err := l.lf.fs.Remove(s.logPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := l.lf.fs.Remove(s.indexPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func dropSeg(list []*segment, s *segment) []*segment {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// Close syncs the log, trims the active segment's preallocated space and
// releases its files. Finish any SyncJob first.
func (l *Log) Close() error {
	if l.closed {
		return ErrClosed
	}
	if l.inflight {
		return ErrSyncInFlight
	}
	var err error
	if l.failed == nil {
		if err = l.trimActive(); err != nil {
			l.fail(err)
		} else if j := l.PrepareSync(); j != nil {
			err = j.Run()
			l.FinishSync(j, err)
		}
	}
	l.closed = true
	for _, s := range append(l.segs, l.act) {
		s.retire(l.lf)
		l.lf.handles.forget(l.lf.fs, s.logPath)
		l.lf.handles.forget(l.lf.fs, s.indexPath)
	}
	if l.lf.cache != nil {
		l.lf.cache.drop(l.lf.id, 0)
	}
	if err == nil {
		err = l.failed
	}
	return err
}
