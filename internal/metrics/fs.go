package metrics

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/petrel-streaming/petrel/internal/vfs"
)

// InstrumentFS wraps fs so that every Sync and Datasync of a file is
// timed (petrel_storage_fsync_latency_seconds) and, for Datasync, the
// bytes written to the file since its previous sync are recorded
// (petrel_storage_round_bytes), by file kind: "journal" (*.jnl, one sync
// per group-commit round of a shard), "segment" (*.log: direct writes
// and write-behind flushes) or "other" (indexes, key-value store). The
// storage engine is not touched: what is measured is what the device is
// asked to do.
func (m *Metrics) InstrumentFS(fs vfs.FS) vfs.FS { return &instrumentedFS{FS: fs, m: m} }

type instrumentedFS struct {
	vfs.FS
	m *Metrics
}

func (f *instrumentedFS) wrap(file vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &instrumentedFile{File: file, m: f.m, kind: fileKind(file.Name())}, nil
}

func (f *instrumentedFS) Create(name string, opts vfs.OpenOptions) (vfs.File, error) {
	return f.wrap(f.FS.Create(name, opts))
}

func (f *instrumentedFS) Open(name string, opts vfs.OpenOptions) (vfs.File, error) {
	return f.wrap(f.FS.Open(name, opts))
}

// SyncDir is timed as kind "dir".
func (f *instrumentedFS) SyncDir(dir string) error {
	t := time.Now()
	err := f.FS.SyncDir(dir)
	if err == nil {
		f.m.fsync.WithLabelValues("dir").Observe(time.Since(t).Seconds())
	}
	return err
}

func fileKind(name string) string {
	switch {
	case strings.HasSuffix(name, ".jnl"):
		return "journal"
	case strings.HasSuffix(name, ".log"):
		return "segment"
	}
	return "other"
}

// instrumentedFile counts bytes written since the last sync. Writes and
// syncs of one file come from its owner, but a sync may run on a helper
// goroutine while the owner has moved on: the count is atomic.
type instrumentedFile struct {
	vfs.File
	m       *Metrics
	kind    string
	written atomic.Int64
}

func (f *instrumentedFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	f.written.Add(int64(n))
	return n, err
}

// Sync (fsync) is how files are initialised (a new journal file's
// zero fill, the key-value store's snapshot): timed, but its bytes are
// not a round's.
func (f *instrumentedFile) Sync() error { return f.timed(f.File.Sync, false) }

// Datasync (fdatasync) is the data path's sync: a journal round, a direct
// write, a write-behind flush.
func (f *instrumentedFile) Datasync() error { return f.timed(f.File.Datasync, true) }

func (f *instrumentedFile) timed(sync func() error, round bool) error {
	bytes := f.written.Swap(0)
	t := time.Now()
	err := sync()
	if err != nil {
		f.written.Add(bytes) // not durable: still pending
		return err
	}
	took := time.Since(t)
	f.m.fsync.WithLabelValues(f.kind).Observe(took.Seconds())
	if round {
		f.m.roundBytes.WithLabelValues(f.kind).Observe(float64(bytes))
	}
	return nil
}
