package storage

import (
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// SyncJob makes a Log's appends, rolls and truncations up to a point
// durable. The owner prepares it (PrepareSync) and finishes it
// (FinishSync); Run, the slow part, may run on any goroutine, concurrently
// with the owner's appends.
type SyncJob struct {
	fs      vfs.FS
	dir     string
	files   []*handle
	syncDir bool
	index   model.Index
	gen     uint64
	err     error
}

// Index is the last index the job makes durable.
func (j *SyncJob) Index() model.Index { return j.index }

// PrepareSync captures what must be synced for everything appended so far.
// It returns nil when nothing is dirty, when the log has failed, or while
// a previous job is in flight (one at a time). Owner only.
func (l *Log) PrepareSync() *SyncJob {
	if l.usable() != nil || l.inflight || (len(l.dirty) == 0 && !l.dirDirty) {
		return nil
	}
	j := &l.job
	*j = SyncJob{fs: l.lf.fs, dir: l.lf.dir, files: j.files[:0], syncDir: l.dirDirty,
		index: l.LastIndex(), gen: l.gen}
	for _, s := range l.dirty {
		h, err := l.lf.handles.acquire(l.lf.fs, s.logPath, false)
		if err != nil {
			j.err = err
			break
		}
		j.files = append(j.files, h)
	}
	l.dirty = l.dirty[:0]
	l.dirDirty = false
	l.inflight = true
	return j
}

// Run syncs the job's files (fdatasync) and, if files were created or
// removed, their directory. Any goroutine.
func (j *SyncJob) Run() error {
	if j.err != nil {
		return j.err
	}
	for _, h := range j.files {
		if err := h.f.Datasync(); err != nil {
			return err
		}
	}
	if j.syncDir {
		return j.fs.SyncDir(j.dir)
	}
	return nil
}

// FinishSync completes j with Run's result. On success DurableIndex
// advances to what j covered and the index points of now durable entries
// are written (not synced: recovery validates them). A failed sync fails
// the log (sticky): the kernel may have dropped the dirty pages. Owner only.
func (l *Log) FinishSync(j *SyncJob, err error) {
	for _, h := range j.files {
		l.lf.handles.release(h)
	}
	clear(j.files)
	j.files = j.files[:0]
	l.inflight = false
	if err != nil {
		l.fail(err)
		return
	}
	if j.gen == l.gen && j.index > l.durable {
		l.durable = j.index
	}
	l.writePoints()
}

// writePoints appends to the index files the points of durable entries not
// yet written. An index write error is not fatal: the points are retried
// after the next sync, and recovery rebuilds what is missing.
func (l *Log) writePoints() {
	keep := l.pending[:0]
	for _, s := range l.pending {
		pts := s.st.points
		n := s.written
		for n < len(pts) && pts[n].index <= l.durable {
			n++
		}
		if n > s.written {
			buf := l.ptbuf[:0]
			for _, p := range pts[s.written:n] {
				buf = p.appendTo(buf)
			}
			l.ptbuf = buf
			if l.writeIndexAt(s, buf, int64(s.written)*indexPointSize) == nil {
				s.written = n
			}
		}
		if s == l.act || s.written < len(pts) || s.st.last > l.durable {
			keep = append(keep, s)
		} else if !l.lf.opening {
			s.releasePoints(l.lf) // all in the index file now
		}
	}
	clear(l.pending[len(keep):])
	l.pending = keep
}

func (l *Log) writeIndexAt(s *segment, b []byte, off int64) error {
	h, err := l.lf.handles.acquire(l.lf.fs, s.indexPath, false)
	if err != nil {
		f, cerr := l.lf.fs.Create(s.indexPath, vfs.OpenOptions{})
		if cerr != nil {
			return cerr
		}
		h = l.lf.handles.insert(l.lf.fs, f, false)
	}
	defer l.lf.handles.release(h)
	_, err = h.f.WriteAt(b, off)
	return err
}
