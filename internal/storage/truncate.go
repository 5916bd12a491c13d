package storage

import (
	"fmt"
	"io"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

// TruncateSuffix removes the entries ≥ from (Raft log divergence): it cuts
// the segment holding from, removes the later ones and forgets their cached
// entries. DurableIndex drops below from; the cut is durable after the
// next completed sync job. Owner only.
func (l *Log) TruncateSuffix(from model.Index) error {
	if err := l.usable(); err != nil {
		return err
	}
	if from > l.LastIndex() {
		return nil
	}
	if from < l.start {
		return fmt.Errorf("storage: truncate suffix at %d below first index %d: %w", from, l.start, ErrIndexOutOfRange)
	}
	v := l.view()
	k := v.segForIndex(from)
	seg, st, err := v.stateOf(k)
	if err != nil {
		return err
	}
	if st.points, err = v.pointsOf(k, st); err != nil {
		return err
	}
	keep := k // segments [0, keep) stay closed
	var nst segState
	switch {
	case from > seg.base:
		if nst, err = l.cutState(seg, st, from); err != nil {
			return err
		}
	case k > 0:
		keep = k - 1
		seg, nst, err = v.stateOf(keep)
		if err != nil {
			return err
		}
		if nst.points, err = v.pointsOf(keep, nst); err != nil {
			return err
		}
		nst.points = nst.points[:len(nst.points):len(nst.points)]
	default:
		nst = emptyState(seg.base, st.baseOffset)
	}
	// Later segments go first, durably: were the cut to reach the disk
	// before their removal, a crash would leave a hole in the log.
	for j := len(v.segs); j > keep; j-- {
		s, _, _ := v.stateOfNoLoad(j)
		if s == seg {
			continue
		}
		if err := l.removeSegment(s); err != nil {
			return l.fail(err)
		}
	}
	if keep < len(v.segs) {
		if err := l.lf.fs.SyncDir(l.lf.dir); err != nil {
			return l.fail(err)
		}
	}
	seg.retire(l.lf) // its files now belong to ns
	if err := l.truncateFile(seg.logPath, nst.size); err != nil {
		return l.fail(err)
	}
	ns := newSegment(l.lf.dir, seg.base)
	ns.st, ns.loaded = nst, true
	ns.written = min(seg.written, len(nst.points))
	if err := l.truncateIndexFile(ns); err != nil {
		ns.written = 0
	}
	l.dirty = dropSeg(l.dirty, seg)
	l.pending = dropSeg(l.pending, seg)
	l.lf.handles.forget(l.lf.fs, seg.logPath) // direct-mode handles see the new tail
	l.segs = append([]*segment(nil), v.segs[:keep]...)
	if err := l.activate(ns, l.opts.Now()); err != nil {
		return l.fail(err)
	}
	l.gen++
	l.durable = min(l.durable, from-1)
	for len(l.terms) > 0 && l.terms[len(l.terms)-1].index >= from {
		l.terms = l.terms[:len(l.terms)-1]
	}
	if l.lf.cache != nil {
		l.lf.cache.drop(l.lf.id, from)
	}
	return nil
}

// stateOfNoLoad returns segment j of the view without loading it.
func (v *View) stateOfNoLoad(j int) (*segment, segState, error) {
	if j == len(v.segs) {
		return v.act, v.actSt, nil
	}
	return v.segs[j], segState{}, nil
}

// cutState returns st without the entries ≥ from (base < from ≤ last): it
// rescans from the index point at or before from-1, whose maxTs is exact.
func (l *Log) cutState(seg *segment, st segState, from model.Index) (segState, error) {
	q := lookupIndex(st.points, from-1)
	if q < 0 {
		return segState{}, fmt.Errorf("storage: %s has no index point for %d: %w", seg.logPath, from-1, model.ErrCorrupt)
	}
	p := st.points[q]
	h, err := l.lf.handles.acquire(l.lf.fs, seg.logPath, false)
	if err != nil {
		return segState{}, err
	}
	defer l.lf.handles.release(h)
	r := l.lf.handles.newReader(h.f, seg.logPath)
	defer r.free()
	r.reset(int64(p.pos), st.size)
	nst := segState{baseOffset: st.baseOffset, maxTs: p.maxTs, points: st.points[: q+1 : q+1]}
	for i := p.index; i < from; i++ {
		eh, ent, pos, err := r.next()
		if err == io.EOF {
			err = fmt.Errorf("storage: %s ends before %d: %w", seg.logPath, from, model.ErrCorrupt)
		}
		if err != nil {
			return segState{}, err
		}
		if eh.Index != i {
			return segState{}, corruptAt(seg.logPath, pos, fmt.Errorf("entry index %d, want %d: %w", eh.Index, i, model.ErrCorrupt))
		}
		if err := verifyEntry(ent); err != nil {
			return segState{}, corruptAt(seg.logPath, pos, err)
		}
		if i == p.index {
			nst.last, nst.lastTerm, nst.nextOffset, nst.size = eh.Index, eh.Term, eh.NextOffset(), pos+eh.Size()
			continue
		}
		maxTs := int64(-1)
		if eh.Type == EntryData {
			maxTs = model.Batch(ent[EntryHeaderSize:]).MaxTimestamp()
		}
		nst.add(eh, pos, maxTs, l.lf.interval)
	}
	return nst, nil
}

// truncateIndexFile drops index points past the segment's (best effort:
// recovery ignores points that do not match the log).
func (l *Log) truncateIndexFile(s *segment) error {
	h, err := l.lf.handles.acquire(l.lf.fs, s.indexPath, false)
	if err != nil {
		return err
	}
	defer l.lf.handles.release(h)
	return h.f.Truncate(int64(s.written) * indexPointSize)
}

// TruncatePrefix makes start the first index (DeleteRecords, snapshots)
// and removes the closed segments wholly below it. start may be at most
// LastIndex+1. The engine persists start and passes it to Open as
// Options.StartIndex. Owner only.
func (l *Log) TruncatePrefix(start model.Index) error {
	if err := l.usable(); err != nil {
		return err
	}
	if start <= l.start {
		return nil
	}
	if start > l.LastIndex()+1 {
		return fmt.Errorf("storage: truncate prefix to %d past last index %d: %w", start, l.LastIndex(), ErrIndexOutOfRange)
	}
	so, err := l.offsetOfIndex(start)
	if err != nil {
		return err
	}
	l.start, l.startOffset = start, so
	for len(l.segs) > 0 && l.baseAfter(0) <= start {
		if err := l.removeSegment(l.segs[0]); err != nil {
			return l.fail(err)
		}
		l.segs = l.segs[1:]
	}
	for len(l.terms) > 1 && l.terms[1].index <= start {
		l.terms = l.terms[1:]
	}
	return nil
}

// baseAfter is the base of the segment after closed segment k.
func (l *Log) baseAfter(k int) model.Index {
	if k+1 < len(l.segs) {
		return l.segs[k+1].base
	}
	return l.act.base
}

// RetentionPolicy says which closed segments Retain deletes. A value ≤ 0
// means unlimited.
type RetentionPolicy struct {
	Bytes int64         // retention.bytes: keep the log at most this large
	Age   time.Duration // retention.ms: drop segments whose newest batch is older
}

// DefaultRetention is Kafka's: 7 days, unlimited bytes.
var DefaultRetention = RetentionPolicy{Bytes: -1, Age: 7 * 24 * time.Hour}

// Retain deletes whole closed segments from the front while the policy
// wants them gone: never the active segment, never one holding an index
// above limit (the committed index). It returns how many it removed; the
// first index and start offset move to the first remaining entry (persist
// FirstIndex). Removals are durable after the next sync. Owner only.
//
// Retain is RetentionStart then TruncatePrefix: a caller that must persist
// the new start before any segment goes (the engine) calls the two apart.
func (l *Log) Retain(p RetentionPolicy, limit model.Index) (int, error) {
	start, n, err := l.RetentionStart(p, limit)
	if err != nil || n == 0 {
		return 0, err
	}
	if err := l.TruncatePrefix(start); err != nil {
		return 0, err
	}
	return n, nil
}

// RetentionStart is where Retain would move the log's start: the base of
// the first closed segment the policy keeps (or of the active segment),
// and how many closed segments lie wholly below it. It changes nothing.
// Owner only.
func (l *Log) RetentionStart(p RetentionPolicy, limit model.Index) (model.Index, int, error) {
	if err := l.usable(); err != nil {
		return 0, 0, err
	}
	var total int64
	for _, s := range l.segs {
		n, err := l.segmentSize(s)
		if err != nil {
			return 0, 0, err
		}
		total += n
	}
	total += l.act.st.size
	now := l.opts.Now().UnixMilli()
	k := 0
	for ; k < len(l.segs) && l.baseAfter(k)-1 <= limit; k++ {
		s := l.segs[k]
		n, _ := l.segmentSize(s)
		drop := p.Bytes > 0 && total-n >= p.Bytes
		if !drop && p.Age > 0 {
			st, err := s.state(l.lf)
			if err != nil {
				return 0, 0, err
			}
			drop = now-st.maxTs > p.Age.Milliseconds()
		}
		if !drop {
			break
		}
		total -= n
	}
	if k == 0 {
		return l.start, 0, nil
	}
	return l.baseAfter(k - 1), k, nil
}

// segmentSize is a closed segment's size without opening it.
func (l *Log) segmentSize(s *segment) (int64, error) {
	if s.statSize < 0 {
		fi, err := l.lf.fs.Stat(s.logPath)
		if err != nil {
			return 0, err
		}
		s.statSize = fi.Size
	}
	return s.statSize, nil
}

// Reset empties the log: every segment is removed and the next entry will
// be next with Kafka offset nextOffset (installing a Raft snapshot). The
// engine persists both and passes them to Open. Owner only.
func (l *Log) Reset(next model.Index, nextOffset model.Offset) error {
	if err := l.usable(); err != nil {
		return err
	}
	if next == 0 {
		next = 1
	}
	for _, s := range append(l.segs[:len(l.segs):len(l.segs)], l.act) {
		if err := l.removeSegment(s); err != nil {
			return l.fail(err)
		}
	}
	l.segs = nil
	st := emptyState(next, nextOffset)
	if err := l.createActive(newSegment(l.lf.dir, next), st, l.opts.Now()); err != nil {
		return l.fail(err)
	}
	l.start, l.startOffset = next, nextOffset
	l.gen++
	l.durable = min(l.durable, next-1)
	l.terms = l.terms[:0]
	if l.lf.cache != nil {
		l.lf.cache.drop(l.lf.id, 0)
	}
	return nil
}
