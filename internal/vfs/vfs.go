package vfs

import (
	"errors"
	"io"
)

// FS is everything the storage engine asks of a file system, and no more.
// Implementations: OS (the real one), NewMem (in memory, with crash clones)
// and the error injector in this package. Paths are slash-separated.
//
// Safe for use by any goroutine; a File is used by its owner only, except
// ReadAt, which any goroutine may call concurrently with writes elsewhere in
// the file.
type FS interface {
	// Create creates or truncates the named file for reading and writing.
	Create(name string, opts OpenOptions) (File, error)
	// Open opens an existing file for reading and writing.
	Open(name string, opts OpenOptions) (File, error)
	// OpenReadOnly opens an existing file for reading.
	OpenReadOnly(name string) (File, error)
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// RemoveAll removes a directory tree.
	RemoveAll(name string) error
	// Rename atomically renames a file (durable once the parent is synced).
	Rename(oldname, newname string) error
	// MkdirAll creates a directory and its parents.
	MkdirAll(name string) error
	// List returns the names (not paths) in a directory, sorted.
	List(dir string) ([]string, error)
	// Stat returns the size of a file; errors wrap fs.ErrNotExist if absent.
	Stat(name string) (FileInfo, error)
	// SyncDir makes the directory's entries (creates, renames, removes) durable.
	SyncDir(dir string) error
	// Lock takes an exclusive advisory lock on the named file (creating it),
	// so that two processes never open one data directory. Close releases it.
	Lock(name string) (io.Closer, error)
}

// OpenOptions say how a file is opened.
type OpenOptions struct {
	// Direct asks for O_DIRECT. Writes and reads must then use buffers and
	// offsets aligned to Alignment and lengths that are multiples of it.
	// An implementation that cannot do direct I/O on this file system
	// returns an error wrapping ErrDirectUnsupported, and the caller falls
	// back to buffered I/O.
	Direct bool
}

// Alignment is the buffer, offset and length alignment direct I/O needs.
const Alignment = 4096

// ErrDirectUnsupported is returned (wrapped) when O_DIRECT is refused.
var ErrDirectUnsupported = errors.New("vfs: direct I/O not supported by this file system")

// FileInfo is what Stat reports.
type FileInfo struct {
	Name  string
	Size  int64
	IsDir bool
}

// File is an open file. It has no seek position: every read and write says
// where it goes, so a file can be shared by a writer and concurrent readers.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	// Sync flushes data and metadata (fsync).
	Sync() error
	// Datasync flushes data and the metadata needed to read it back
	// (fdatasync): the file size counts, timestamps do not.
	Datasync() error
	// StartWriteback asks the OS to start writing [off, off+n) to disk
	// without waiting (sync_file_range SYNC_FILE_RANGE_WRITE): written-behind
	// bytes then reach the disk as a steady stream rather than in one burst
	// at the next Datasync. It makes nothing durable; implementations
	// without it do nothing.
	StartWriteback(off, n int64) error
	// Allocate reserves [off, off+n) on disk without changing the file size
	// (fallocate with FALLOC_FL_KEEP_SIZE). Implementations that cannot
	// preallocate return nil and do nothing.
	Allocate(off, n int64) error
	// Truncate sets the file size.
	Truncate(size int64) error
	// Size is the current file size.
	Size() (int64, error)
	// Name is the path the file was opened with.
	Name() string
}
