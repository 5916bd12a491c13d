package storage

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"

	"github.com/petrel-streaming/petrel/internal/vfs"
)

// Open opens (creating if needed) the log in dir and recovers it: segments
// wholly below Options.StartIndex are removed; the last segment's torn tail
// (and preallocated space) is cut at the first entry that fails its CRC or
// does not follow the one before; a last segment that does not continue its
// predecessor is removed; the index is repaired. Only the last segments
// and the first one are read (their index and tail); older segments open
// lazily. Everything recovered is synced before Open returns, so
// DurableIndex is LastIndex.
func Open(fsys vfs.FS, dir string, opts Options) (*Log, error) {
	opts = opts.withDefaults()
	if _, err := fsys.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		// A new directory counts once its parent's entry is durable.
		if err := fsys.MkdirAll(dir); err != nil {
			return nil, fmt.Errorf("storage: open %s: %w", dir, err)
		}
		if err := fsys.SyncDir(path.Dir(dir)); err != nil {
			return nil, fmt.Errorf("storage: open %s: %w", dir, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	names, err := fsys.List(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	var segs []*segment
	for _, n := range names {
		if base, ok := parseSegmentName(n); ok {
			segs = append(segs, newSegment(dir, base))
		}
	}
	slices.SortFunc(segs, func(a, b *segment) int { return cmp.Compare(a.base, b.base) })
	lf := &logFiles{fs: fsys, dir: dir, handles: opts.Handles, cache: opts.Cache,
		indexes: opts.Indexes, interval: int64(opts.IndexIntervalBytes), opening: true}
	if lf.cache != nil {
		lf.id = lf.cache.register()
	}
	l := &Log{lf: lf, opts: opts, logger: opts.Logger, direct: opts.Direct}
	err = l.recover(segs)
	lf.opening, lf.opened = false, nil
	if err != nil {
		for _, s := range segs {
			s.retire(lf)
			lf.handles.forget(fsys, s.logPath)
			lf.handles.forget(fsys, s.indexPath)
		}
		if lf.cache != nil {
			lf.cache.drop(lf.id, 0)
		}
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	return l, nil
}

func (l *Log) recover(segs []*segment) error {
	start, now := l.opts.StartIndex, l.opts.Now()
	for len(segs) > 1 && segs[1].base <= start {
		if err := l.removeSegment(segs[0]); err != nil {
			return err
		}
		segs = segs[1:]
	}
	var st segState
	removed, rewrite := false, false
	for len(segs) > 0 {
		last := segs[len(segs)-1]
		var fileSize int64
		var err error
		if st, fileSize, rewrite, err = l.lf.recoverSegment(last); err != nil {
			return err
		}
		ok := true
		if len(segs) > 1 {
			prev := segs[len(segs)-2]
			pst, err := prev.state(l.lf)
			if err != nil {
				return err
			}
			if ok, err = l.follows(last, st, pst); err != nil {
				return err
			}
			if ok && st.empty(last.base) {
				st = emptyState(last.base, pst.nextOffset)
				st.lastTerm = pst.lastTerm
			}
			if !ok {
				l.logger.Warn("storage: removing segment that does not follow its predecessor",
					"segment", last.logPath, "prevLast", pst.last, "prevNextOffset", pst.nextOffset)
				if err := l.removeSegment(last); err != nil {
					return err
				}
				segs = segs[:len(segs)-1]
				removed = true
				prev.mu.Lock()
				prev.loaded = false // recover it again, as the last segment
				prev.mu.Unlock()
				continue
			}
		} else if st.empty(last.base) {
			st = emptyState(last.base, l.opts.StartOffset)
		}
		if fileSize > st.size {
			if removed {
				// Removals first, durably: a cut that reached the disk
				// before them would leave a hole.
				if err := l.lf.fs.SyncDir(l.lf.dir); err != nil {
					return err
				}
			}
			if err := l.truncateFile(last.logPath, st.size); err != nil {
				return err
			}
			l.logger.Info("storage: truncated torn tail", "segment", last.logPath,
				"from", fileSize, "to", st.size, "lastIndex", st.last)
		}
		break
	}
	if len(segs) == 0 || start > st.last+1 {
		// Nothing on disk, or the persisted start lies past every entry
		// (the engine truncated the prefix beyond the log): start afresh.
		for _, s := range segs {
			if err := l.removeSegment(s); err != nil {
				return err
			}
		}
		seg := newSegment(l.lf.dir, start)
		st := emptyState(start, l.opts.StartOffset)
		l.segs, l.start = nil, start
		if err := l.createActive(seg, st, now); err != nil {
			return err
		}
		l.startOffset = l.opts.StartOffset
	} else {
		act := segs[len(segs)-1]
		act.st, act.loaded, act.indexStale = st, true, rewrite
		l.lf.opened = append(l.lf.opened, act)
		l.segs = segs[: len(segs)-1 : len(segs)-1]
		l.start = max(start, segs[0].base)
		if err := l.activate(act, now); err != nil {
			return err
		}
		if len(l.segs) > 0 {
			l.markDirty(l.segs[len(l.segs)-1])
		}
		// Older segments may hold bytes a killed process wrote and never
		// synced (doc.go, "Open and durability"): sync each back to the
		// first one the next segment's index vouches for.
		for k := len(l.segs) - 2; k >= 0 && !l.lf.vouched(l.segs[k+1]); k-- {
			l.dirty = append(l.dirty, l.segs[k])
		}
		l.dirDirty = true
		if err := l.setStartOffset(); err != nil {
			return err
		}
	}
	if l.LastIndex() >= l.start {
		l.terms = append(l.terms[:0], termStart{index: l.LastIndex(), term: l.LastTerm()})
	}
	j := l.PrepareSync()
	if j == nil {
		if err := l.usable(); err != nil {
			return err
		}
		l.finishOpen()
		return nil
	}
	err := j.Run()
	l.FinishSync(j, err)
	if err != nil {
		return err
	}
	l.durable = l.LastIndex()
	l.finishOpen()
	return nil
}

// finishOpen writes the index files recovery repaired, now that the
// entries they point at are durable, and hands the closed segments'
// points over to the IndexCache.
func (l *Log) finishOpen() {
	for _, s := range l.lf.opened {
		s.mu.Lock()
		s.writeStaleIndexLocked(l.lf)
		if s != l.act {
			s.releasePointsLocked(l.lf)
		}
		s.mu.Unlock()
	}
}

// vouched reports whether s's index file holds its first point, which says
// that every earlier segment was synced. Points are written only for
// entries made durable by a completed sync job of their log (Open defers
// its index repairs until its own sync), and a sync job syncs every
// segment written before it; an earlier segment never changes after that
// without s being removed first (TruncateSuffix), index file included.
func (lf *logFiles) vouched(s *segment) bool {
	f, err := lf.fs.OpenReadOnly(s.indexPath)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [indexPointSize]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return false
	}
	p, err := decodeIndexPoint(b[:])
	return err == nil && p.index == s.base && p.pos == 0
}

// follows reports whether the last segment (state st) continues prev.
func (l *Log) follows(last *segment, st, pst segState) (bool, error) {
	if pst.last+1 != last.base {
		return false, nil
	}
	if st.empty(last.base) {
		return true, nil
	}
	h, err := l.lf.handles.acquire(l.lf.fs, last.logPath, false)
	if err != nil {
		return false, err
	}
	defer l.lf.handles.release(h)
	r := l.lf.handles.newReader(h.f, last.logPath)
	defer r.free()
	r.reset(0, st.size)
	eh, _, _, err := r.next()
	if err != nil && err != io.EOF {
		return false, err
	}
	return eh.Term >= pst.lastTerm && eh.Offset == pst.nextOffset, nil
}

// truncateFile cuts a segment file (no sync; the caller marks it dirty).
func (l *Log) truncateFile(name string, size int64) error {
	h, err := l.lf.handles.acquire(l.lf.fs, name, false)
	if err != nil {
		return err
	}
	defer l.lf.handles.release(h)
	return h.f.Truncate(size)
}

// setStartOffset finds the Kafka offset of the first index: the first
// segment's base offset (from its index) when the log starts at a
// segment's base, else the Offset field of the first entry.
func (l *Log) setStartOffset() error {
	if len(l.segs) > 0 && l.start == l.segs[0].base {
		st, err := l.segs[0].state(l.lf)
		l.startOffset = st.baseOffset
		return err
	}
	if l.start == l.act.base {
		l.startOffset = l.act.st.baseOffset
		return nil
	}
	so, err := l.offsetOfIndex(l.start)
	l.startOffset = so
	return err
}
