package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"

	"github.com/petrel-streaming/petrel/internal/model"
)

// View is an immutable snapshot of a Log's bounds and segments, for
// readers on other goroutines (fetch from connection goroutines). Its
// methods are safe from any goroutine while the owner appends, rolls and
// syncs. A View never reads past the entries it captured. It holds no file
// open: each read references the files it uses for its duration, so a
// concurrent roll or eviction never closes a file under it; a segment that
// retention or TruncatePrefix deleted after the View was taken reads as
// ErrOffsetOutOfRange / ErrIndexOutOfRange, as Kafka reports it.
type View struct {
	lf          *logFiles
	segs        []*segment
	act         *segment
	actSt       segState
	start       model.Index
	startOffset model.Offset
}

// View returns a snapshot for concurrent readers. Owner only; the View
// itself may then go to any goroutine.
func (l *Log) View() *View {
	v := l.view()
	return &v
}

func (l *Log) view() View {
	return View{lf: l.lf, segs: l.segs, act: l.act, actSt: l.act.st, start: l.start, startOffset: l.startOffset}
}

// FirstIndex, LastIndex, StartOffset and NextOffset are the bounds the
// View captured.
func (v *View) FirstIndex() model.Index   { return v.start }
func (v *View) LastIndex() model.Index    { return v.actSt.last }
func (v *View) StartOffset() model.Offset { return v.startOffset }
func (v *View) NextOffset() model.Offset  { return v.actSt.nextOffset }

// stateOf returns segment k (k == len(segs) is the active one) and its
// state, loading a closed segment on first use.
func (v *View) stateOf(k int) (*segment, segState, error) {
	if k == len(v.segs) {
		return v.act, v.actSt, nil
	}
	s := v.segs[k]
	st, err := s.state(v.lf)
	if err != nil {
		return s, st, v.gone(err)
	}
	return s, st, nil
}

// pointsOf returns the index points of segment k, whose state is st.
func (v *View) pointsOf(k int, st segState) ([]indexPoint, error) {
	if k == len(v.segs) {
		return st.points, nil
	}
	pts, err := v.segs[k].pointsOf(v.lf)
	if err != nil {
		return nil, v.gone(err)
	}
	return pts, nil
}

// gone maps the error of a read of a segment removed since the View was
// taken to ErrOffsetOutOfRange.
func (v *View) gone(err error) error {
	if errors.Is(err, errNotExist) {
		return fmt.Errorf("storage: segment removed: %w (%w)", ErrOffsetOutOfRange, err)
	}
	return err
}

func (v *View) baseOf(k int) model.Index {
	if k == len(v.segs) {
		return v.act.base
	}
	return v.segs[k].base
}

// segForIndex returns the segment holding index i (within bounds).
func (v *View) segForIndex(i model.Index) int {
	return sort.Search(len(v.segs)+1, func(k int) bool { return v.baseOf(k) > i }) - 1
}

// segForOffset returns the last segment whose first offset is ≤ o: the one
// holding the data entry covering o. Closed segments probed are loaded.
func (v *View) segForOffset(o model.Offset) (int, error) {
	if o >= v.actSt.baseOffset || len(v.segs) == 0 {
		return len(v.segs), nil
	}
	lo, hi := 0, len(v.segs) // answer in [lo, hi)
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		_, st, err := v.stateOf(m)
		if err != nil {
			return 0, err
		}
		if st.baseOffset <= o {
			lo = m
		} else {
			hi = m
		}
	}
	return lo, nil
}

// action is what a walk does with one entry.
type action uint8

const (
	skip     action = iota // go on
	take                   // verify and use, go on
	takeStop               // verify and use, then stop
	stop                   // stop before it
)

// walker visits entries in log order; decide sees the header and raw
// bytes, use gets the entries decide took, after their CRC passed.
type walker struct {
	decide func(h EntryHeader, ent []byte) action
	use    func(h EntryHeader, ent []byte)
	want   int // bytes the caller may take: bounds what the cache copies
}

// walkFrom visits the entries from the index point at or before i (by
// index) or o (by offset) to the end of the view, from the batch cache when
// it holds the start, else from disk.
func (v *View) walkFrom(byIndex bool, i model.Index, o model.Offset, w walker) error {
	if done, err := v.walkCache(byIndex, i, o, w); done || err != nil {
		return err
	}
	var k int
	if byIndex {
		k = v.segForIndex(i)
	} else {
		var err error
		if k, err = v.segForOffset(o); err != nil {
			return err
		}
	}
	_, st, err := v.stateOf(k)
	if err != nil {
		return err
	}
	pts, err := v.pointsOf(k, st)
	if err != nil {
		return err
	}
	p := lookupOffset(pts, o)
	if byIndex {
		p = lookupIndex(pts, i)
	}
	if p < 0 {
		return v.walkDisk(k, 0, v.baseOf(k), w)
	}
	return v.walkDisk(k, int64(pts[p].pos), pts[p].index, w)
}

// walkDisk reads entries from position pos of segment k, whose index there
// is expect, to the end of the view, checking every header and the CRC of
// every entry used.
func (v *View) walkDisk(k int, pos int64, expect model.Index, w walker) error {
	for ; k <= len(v.segs); k, pos = k+1, 0 {
		seg, st, err := v.stateOf(k)
		if err != nil {
			return err
		}
		if pos == 0 && expect != seg.base {
			return fmt.Errorf("storage: %s begins at %d, want %d: %w", seg.logPath, seg.base, expect, model.ErrCorrupt)
		}
		stopped, err := v.walkSegment(seg, st, pos, &expect, w)
		if stopped || err != nil {
			return err
		}
		if k < len(v.segs) && expect != v.baseOf(k+1) {
			return fmt.Errorf("storage: %s ends at %d, next segment begins at %d: %w",
				seg.logPath, expect-1, v.baseOf(k+1), model.ErrCorrupt)
		}
	}
	return nil
}

func (v *View) walkSegment(seg *segment, st segState, pos int64, expect *model.Index, w walker) (bool, error) {
	h, err := v.lf.handles.acquire(v.lf.fs, seg.logPath, false)
	if err != nil {
		return false, v.gone(err)
	}
	defer v.lf.handles.release(h)
	r := segReader{c: v.lf.handles, f: h.f, name: seg.logPath}
	defer r.free()
	r.reset(pos, st.size)
	for {
		eh, ent, epos, err := r.next()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if eh.Index != *expect {
			return false, corruptAt(seg.logPath, epos, fmt.Errorf("entry index %d, want %d: %w", eh.Index, *expect, model.ErrCorrupt))
		}
		*expect++
		a := w.decide(eh, ent)
		if a == stop {
			return true, nil
		}
		if a == take || a == takeStop {
			if err := verifyEntry(ent); err != nil {
				return false, corruptAt(seg.logPath, epos, err)
			}
			w.use(eh, ent)
		}
		if a == takeStop {
			return true, nil
		}
	}
}

// walkCache serves the walk from the shard's batch cache if it holds the
// starting entry. done is false when the caller must read the disk.
func (v *View) walkCache(byIndex bool, i model.Index, o model.Offset, w walker) (bool, error) {
	c := v.lf.cache
	if c == nil {
		return false, nil
	}
	buf := v.lf.handles.getBuf(0)
	defer func() { v.lf.handles.putBuf(buf) }()
	var ok bool
	buf, ok = c.copyFrom(v.lf.id, byIndex, i, o, buf[:0], max(w.want, 1))
	if !ok {
		return false, nil
	}
	took := false
	for rest := buf; len(rest) >= EntryHeaderSize; {
		h, err := decodeHeader(rest)
		if err != nil {
			return false, err // cannot happen: the cache holds validated entries
		}
		ent := rest[:h.Size()]
		rest = rest[h.Size():]
		if h.Index > v.actSt.last {
			return true, nil
		}
		a := w.decide(h, ent)
		if a == stop {
			return true, nil
		}
		if a == take || a == takeStop {
			w.use(h, ent)
			took = true
		}
		if a == takeStop {
			return true, nil
		}
	}
	return took, nil
}

// ReadBatches appends to dst the Kafka batches (payloads of data entries)
// whose last offset is ≥ from and whose base offset is < upTo (the high
// watermark): whole batches, at least one even if larger than maxBytes,
// then as many as fit in maxBytes. It never reads past upTo or the View's
// end. from outside [StartOffset, NextOffset] is ErrOffsetOutOfRange.
func (v *View) ReadBatches(from model.Offset, maxBytes int, upTo model.Offset, dst []byte) ([]byte, error) {
	if from < v.startOffset || from > v.actSt.nextOffset {
		return dst, fmt.Errorf("storage: offset %d not in [%d, %d]: %w", from, v.startOffset, v.actSt.nextOffset, ErrOffsetOutOfRange)
	}
	upTo = min(upTo, v.actSt.nextOffset)
	if from >= upTo {
		return dst, nil
	}
	n := 0
	w := walker{
		decide: func(h EntryHeader, _ []byte) action {
			switch {
			case h.Index < v.start || h.Type != EntryData || h.NextOffset() <= from:
				return skip
			case h.Offset >= upTo || (n > 0 && n+int(h.Len) > maxBytes):
				return stop
			case h.NextOffset() >= upTo || n+int(h.Len) >= maxBytes:
				return takeStop
			}
			return take
		},
		use: func(h EntryHeader, ent []byte) {
			dst = append(dst, ent[EntryHeaderSize:]...)
			n += int(h.Len)
		},
		want: maxBytes,
	}
	err := v.walkFrom(false, 0, from, w)
	return dst, err
}

// Entries returns the entries [lo, hi): at least one if lo < hi, then as
// many as fit in maxBytes (header+payload). Payloads share one new buffer.
func (v *View) Entries(lo, hi model.Index, maxBytes uint64) ([]Entry, error) {
	if lo < v.start || hi > v.actSt.last+1 {
		return nil, fmt.Errorf("storage: entries [%d, %d) not in [%d, %d]: %w", lo, hi, v.start, v.actSt.last+1, ErrIndexOutOfRange)
	}
	if lo >= hi {
		return nil, nil
	}
	var (
		hdrs  []EntryHeader
		arena []byte
		size  uint64
	)
	w := walker{
		decide: func(h EntryHeader, _ []byte) action {
			switch {
			case h.Index < lo:
				return skip
			case h.Index >= hi || (len(hdrs) > 0 && size+uint64(h.Size()) > maxBytes):
				return stop
			case h.Index == hi-1:
				return takeStop
			}
			return take
		},
		use: func(h EntryHeader, ent []byte) {
			hdrs = append(hdrs, h)
			arena = append(arena, ent[EntryHeaderSize:]...)
			size += uint64(h.Size())
		},
		want: int(min(maxBytes, readBufferBytes)),
	}
	if err := v.walkFrom(true, lo, 0, w); err != nil {
		return nil, err
	}
	out := make([]Entry, len(hdrs))
	at := 0
	for k, h := range hdrs {
		out[k] = Entry{EntryHeader: h, Payload: arena[at : at+int(h.Len) : at+int(h.Len)]}
		at += int(h.Len)
	}
	return out, nil
}

// header returns the header of entry i (CRC verified).
func (v *View) header(i model.Index) (EntryHeader, error) {
	if i < v.start || i > v.actSt.last {
		return EntryHeader{}, fmt.Errorf("storage: index %d not in [%d, %d]: %w", i, v.start, v.actSt.last, ErrIndexOutOfRange)
	}
	var found EntryHeader
	ok := false
	w := walker{
		decide: func(h EntryHeader, _ []byte) action {
			if h.Index < i {
				return skip
			}
			return takeStop
		},
		use: func(h EntryHeader, _ []byte) { found, ok = h, h.Index == i },
	}
	if err := v.walkFrom(true, i, 0, w); err != nil {
		return EntryHeader{}, err
	}
	if !ok {
		return EntryHeader{}, fmt.Errorf("storage: entry %d not found: %w", i, model.ErrCorrupt)
	}
	return found, nil
}

// Term returns the term of entry i.
func (v *View) Term(i model.Index) (model.Term, error) {
	h, err := v.header(i)
	return h.Term, err
}

// IndexForOffset returns the index of the data entry holding offset o.
func (v *View) IndexForOffset(o model.Offset) (model.Index, error) {
	if o < v.startOffset || o >= v.actSt.nextOffset {
		return 0, fmt.Errorf("storage: offset %d not in [%d, %d): %w", o, v.startOffset, v.actSt.nextOffset, ErrOffsetOutOfRange)
	}
	var idx model.Index
	w := walker{
		decide: func(h EntryHeader, _ []byte) action {
			if h.Index < v.start || h.NextOffset() <= o || h.Type != EntryData {
				return skip
			}
			return takeStop
		},
		use: func(h EntryHeader, _ []byte) { idx = h.Index },
	}
	if err := v.walkFrom(false, 0, o, w); err != nil {
		return 0, err
	}
	if idx == 0 {
		return 0, fmt.Errorf("storage: offset %d: no entry holds it: %w", o, model.ErrCorrupt)
	}
	return idx, nil
}

// OffsetForTimestamp returns the base offset of the first batch whose max
// timestamp is ≥ ts (Kafka ListOffsets by time, at batch granularity), or
// false if there is none.
func (v *View) OffsetForTimestamp(ts int64) (model.Offset, bool, error) {
	for k := 0; k <= len(v.segs); k++ {
		_, st, err := v.stateOf(k)
		if err != nil {
			return 0, false, err
		}
		if st.maxTs < ts || st.last < v.start {
			continue
		}
		var found model.Offset
		ok := false
		w := walker{
			decide: func(h EntryHeader, ent []byte) action {
				if h.Index < v.start || h.Type != EntryData ||
					model.Batch(ent[EntryHeaderSize:]).MaxTimestamp() < ts {
					return skip
				}
				return takeStop
			},
			use: func(h EntryHeader, _ []byte) { found, ok = h.Offset, true },
		}
		pts, err := v.pointsOf(k, st)
		if err != nil {
			return 0, false, err
		}
		pos, expect := int64(0), v.baseOf(k)
		if p := lookupTime(pts, ts); p >= 0 {
			pos, expect = int64(pts[p].pos), pts[p].index
		}
		if err := v.walkDisk(k, pos, expect, w); err != nil {
			return 0, false, err
		}
		return found, ok, nil
	}
	return 0, false, nil
}

// OffsetOfIndex is the Kafka offset of index i (in [FirstIndex,
// LastIndex+1]): the Offset field of entry i, or NextOffset when i is
// LastIndex+1. The engine persists it with a moved start index.
func (l *Log) OffsetOfIndex(i model.Index) (model.Offset, error) {
	if err := l.usableRead(); err != nil {
		return 0, err
	}
	if i < l.start || i > l.LastIndex()+1 {
		return 0, fmt.Errorf("storage: offset of index %d outside [%d, %d]: %w", i, l.start, l.LastIndex()+1, ErrIndexOutOfRange)
	}
	return l.offsetOfIndex(i)
}

// offsetOfIndex returns the Offset field of entry i, or NextOffset when i
// is LastIndex+1.
func (l *Log) offsetOfIndex(i model.Index) (model.Offset, error) {
	if i == l.LastIndex()+1 {
		return l.NextOffset(), nil
	}
	v := l.view()
	v.start = min(v.start, i)
	h, err := v.header(i)
	return h.Offset, err
}

// The Log's read methods read through a View of its current state.

// ReadBatches: see View.ReadBatches.
func (l *Log) ReadBatches(from model.Offset, maxBytes int, upTo model.Offset, dst []byte) ([]byte, error) {
	if err := l.usableRead(); err != nil {
		return dst, err
	}
	v := l.view()
	return v.ReadBatches(from, maxBytes, upTo, dst)
}

// Entries: see View.Entries.
func (l *Log) Entries(lo, hi model.Index, maxBytes uint64) ([]Entry, error) {
	if err := l.usableRead(); err != nil {
		return nil, err
	}
	v := l.view()
	return v.Entries(lo, hi, maxBytes)
}

// Term returns the term of entry i (recent ones from memory).
func (l *Log) Term(i model.Index) (model.Term, error) {
	if err := l.usableRead(); err != nil {
		return 0, err
	}
	if n := len(l.terms); n > 0 && i >= l.terms[0].index && i >= l.start && i <= l.LastIndex() {
		k := sort.Search(n, func(k int) bool { return l.terms[k].index > i }) - 1
		return l.terms[k].term, nil
	}
	v := l.view()
	return v.Term(i)
}

// IndexForOffset: see View.IndexForOffset.
func (l *Log) IndexForOffset(o model.Offset) (model.Index, error) {
	if err := l.usableRead(); err != nil {
		return 0, err
	}
	v := l.view()
	return v.IndexForOffset(o)
}

// OffsetForTimestamp: see View.OffsetForTimestamp.
func (l *Log) OffsetForTimestamp(ts int64) (model.Offset, bool, error) {
	if err := l.usableRead(); err != nil {
		return 0, false, err
	}
	v := l.view()
	return v.OffsetForTimestamp(ts)
}

// usableRead: reads stay possible on a failed log (what is on disk is
// checked by CRC), not on a closed one.
func (l *Log) usableRead() error {
	if l.closed {
		return ErrClosed
	}
	return nil
}

var errNotExist = fs.ErrNotExist
