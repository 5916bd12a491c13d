package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

const (
	logSuffix   = ".log"
	indexSuffix = ".index"
)

// segmentName is the file name of the segment based at base, without suffix.
func segmentName(base model.Index) string {
	return fmt.Sprintf("%020d", uint64(base))
}

// parseSegmentName returns the base index of a "<20 digits>.log" name.
func parseSegmentName(name string) (model.Index, bool) {
	stem, ok := strings.CutSuffix(name, logSuffix)
	if !ok || len(stem) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(stem, 10, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	return model.Index(n), true
}

// logFiles is what a Log shares, read-only, with its Views: where the files
// are and the shard's shared caches.
type logFiles struct {
	fs       vfs.FS
	dir      string
	handles  *HandleCache
	cache    *BatchCache
	indexes  *IndexCache // shard's closed-segment index points
	id       uint64      // the log's key in cache
	interval int64       // index interval bytes

	// While Open recovers (its goroutine alone, before any View exists):
	// the segments it loaded. Their repaired index files are written only
	// once Open's sync made the entries they point at durable (doc.go,
	// "Open and durability"), and their points stay resident until then.
	opening bool
	opened  []*segment
}

// segment is one "<base>.log" file and its "<base>.index". A closed
// segment's state is loaded lazily, by its owner or by a View on any
// goroutine, under mu; once loaded it does not change (a truncation that
// reopens a closed segment for writing makes a new segment value), except
// that its points move to the shard's IndexCache once its index file holds
// them (evictable). The active segment's state is the owner's alone; Views
// copy it.
type segment struct {
	base      model.Index
	logPath   string
	indexPath string

	mu     sync.Mutex
	loaded bool
	st     segState // st.points is nil once evictable
	// evictable: the points live in the IndexCache; npts and ptsCRC
	// identify them in the index file.
	evictable  bool
	npts       int
	ptsCRC     uint32
	removed    bool // files removed or taken over by another segment value
	indexStale bool // the index file must be rewritten (Open defers it)

	// Owner only.
	written  int   // index points already in the index file
	statSize int64 // size from Stat for retention, -1 if unknown
}

// segState describes the valid entries of a segment.
type segState struct {
	last       model.Index // last entry's index; base-1 when empty
	lastTerm   model.Term  // its term (0 when empty)
	baseOffset model.Offset
	nextOffset model.Offset
	size       int64 // logical end: bytes of valid entries
	maxTs      int64 // max batch timestamp, -1 if none
	// points is the in-memory sparse index. It only ever grows in place;
	// truncation copies it, so a View's prefix is never overwritten.
	points []indexPoint
}

func newSegment(dir string, base model.Index) *segment {
	name := segmentName(base)
	return &segment{base: base, logPath: path.Join(dir, name+logSuffix),
		indexPath: path.Join(dir, name+indexSuffix), statSize: -1}
}

func emptyState(base model.Index, next model.Offset) segState {
	return segState{last: base - 1, baseOffset: next, nextOffset: next, maxTs: -1}
}

func (st *segState) empty(base model.Index) bool { return st.last < base }

// add records an entry at position pos (owner of st): extends the sparse
// index when interval bytes passed since the last point.
func (st *segState) add(h EntryHeader, pos int64, maxTs int64, interval int64) {
	if maxTs > st.maxTs {
		st.maxTs = maxTs
	}
	n := len(st.points)
	if n == 0 || pos-int64(st.points[n-1].pos) >= interval {
		st.points = append(st.points, indexPoint{index: h.Index, offset: h.Offset, pos: uint32(pos), maxTs: st.maxTs})
	}
	if st.last < h.Index && st.size == 0 {
		st.baseOffset = h.Offset
	}
	st.last, st.lastTerm, st.nextOffset, st.size = h.Index, h.Term, h.NextOffset(), pos+h.Size()
}

// accepts reports whether h may follow the entries of st in a segment
// based at base: the next index, a term that does not go down, dense
// offsets.
func (st *segState) accepts(base model.Index, h EntryHeader) bool {
	if st.empty(base) {
		return h.Index == base
	}
	return h.Index == st.last+1 && h.Term >= st.lastTerm && h.Offset == st.nextOffset
}

// state returns a closed segment's state without its points (pointsOf
// has them), loading it (and repairing its index) on first use. Safe from
// any goroutine.
func (s *segment) state(lf *logFiles) (segState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	if !s.loaded {
		var err error
		if st, err = s.loadLocked(lf); err != nil {
			return segState{}, err
		}
	}
	st.points = nil
	return st, nil
}

// loadLocked recovers s's state. Outside Open the repaired index is
// written at once and the points go to the cache; during Open both wait
// for its sync (finishOpen). Caller holds s.mu.
func (s *segment) loadLocked(lf *logFiles) (segState, error) {
	st, _, rewrite, err := lf.recoverSegment(s)
	if err != nil {
		return segState{}, err
	}
	s.st, s.loaded, s.evictable, s.indexStale = st, true, false, rewrite
	if lf.opening {
		lf.opened = append(lf.opened, s)
		return st, nil
	}
	s.writeStaleIndexLocked(lf)
	s.releasePointsLocked(lf)
	return st, nil
}

// writeStaleIndexLocked rewrites s's index file if recovery changed it.
// Best effort: a stale index only costs a longer scan next time.
func (s *segment) writeStaleIndexLocked(lf *logFiles) {
	if s.indexStale && !s.removed && !s.evictable {
		_ = lf.writeIndex(s.indexPath, s.st.points)
	}
	s.indexStale = false
}

// recoverSegment finds the valid entries of s: it validates the index
// points, verifies the entry at the last good one and scans on from there.
// It returns the state, the file size (which is larger than st.size when
// the tail is torn) and whether the index file needs rewriting (the
// caller's job). It reads only the index and the segment's tail.
func (lf *logFiles) recoverSegment(s *segment) (segState, int64, bool, error) {
	h, err := lf.handles.acquire(lf.fs, s.logPath, false)
	if err != nil {
		return segState{}, 0, false, err
	}
	defer lf.handles.release(h)
	fileSize, err := h.f.Size()
	if err != nil {
		return segState{}, 0, false, err
	}
	raw, err := lf.readIndexFile(s.indexPath)
	if err != nil {
		return segState{}, 0, false, err
	}
	onDisk := len(raw) / indexPointSize
	pts := parseIndex(raw, s.base, fileSize)
	r := lf.handles.newReader(h.f, s.logPath)
	defer r.free()
	st := emptyState(s.base, 0)
	for k := len(pts) - 1; k >= 0; k-- {
		p := pts[k]
		r.reset(int64(p.pos), fileSize)
		eh, ent, _, err := r.next()
		if err == nil && eh.Index == p.index && eh.Offset == p.offset && verifyEntry(ent) == nil {
			if _, err := checkPayload(eh, ent[EntryHeaderSize:]); err == nil {
				st = segState{last: eh.Index, lastTerm: eh.Term, baseOffset: pts[0].offset,
					nextOffset: eh.NextOffset(), size: int64(p.pos) + eh.Size(), maxTs: p.maxTs,
					points: pts[: k+1 : k+1]}
				break
			}
		} else if err != nil && !errors.Is(err, model.ErrCorrupt) && !errors.Is(err, io.EOF) {
			return segState{}, 0, false, err
		}
	}
	kept := len(st.points)
	if err := lf.scanInto(r, &st, s.base, fileSize); err != nil {
		return segState{}, 0, false, err
	}
	s.written = len(st.points)
	return st, fileSize, kept != onDisk || len(st.points) != kept, nil
}

// scanInto extends st with the valid entries that follow it, up to end:
// each must decode, pass its CRC, hold one batch consistent with its
// header (data entries) and follow the previous entry. The first one that
// does not ends the scan; st.size is then the logical end.
func (lf *logFiles) scanInto(r *segReader, st *segState, base model.Index, end int64) error {
	r.reset(st.size, end)
	for {
		h, ent, pos, err := r.next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, model.ErrCorrupt) {
				return nil
			}
			return err
		}
		if !st.accepts(base, h) || verifyEntry(ent) != nil {
			return nil
		}
		bi, err := checkPayload(h, ent[EntryHeaderSize:])
		if err != nil {
			return nil
		}
		st.add(h, pos, bi.maxTs, lf.interval)
	}
}

// readIndexFile returns the bytes of an index file; a missing one is empty.
func (lf *logFiles) readIndexFile(name string) ([]byte, error) {
	f, err := lf.fs.OpenReadOnly(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := f.Size()
	if err != nil {
		return nil, err
	}
	n -= n % indexPointSize
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b, nil
}

// writeIndex writes pts as the whole index file (truncate: drop what
// follows). The index is never synced: recovery validates it.
func (lf *logFiles) writeIndex(name string, pts []indexPoint) error {
	f, err := lf.fs.Create(name, vfs.OpenOptions{})
	if err != nil {
		return err
	}
	buf := make([]byte, 0, len(pts)*indexPointSize)
	for _, p := range pts {
		buf = p.appendTo(buf)
	}
	_, err = f.WriteAt(buf, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// corruptAt builds the error for bad bytes at pos of file name.
func corruptAt(name string, pos int64, err error) error {
	if errors.Is(err, model.ErrCorrupt) {
		return fmt.Errorf("storage: %s at %d: %w", name, pos, err)
	}
	return fmt.Errorf("storage: %s at %d: %v: %w", name, pos, err, model.ErrCorrupt)
}
