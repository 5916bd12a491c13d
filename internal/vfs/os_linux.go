package vfs

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/petrel-streaming/petrel/internal/failpoint"
)

// NewOS returns the real file system. It holds no state: every call goes
// straight to the kernel.
//
// Files are *os.File underneath, whose ReadAt and WriteAt already loop on
// short transfers and retry on EINTR; Datasync, Allocate and Lock use
// golang.org/x/sys/unix on the descriptor.
func NewOS() FS { return osFS{} }

type osFS struct{}

const (
	filePerm = 0o644
	dirPerm  = 0o755
)

func (osFS) Create(name string, opts OpenOptions) (File, error) {
	return openOS(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, opts)
}

func (osFS) Open(name string, opts OpenOptions) (File, error) {
	return openOS(name, os.O_RDWR, opts)
}

func (osFS) OpenReadOnly(name string) (File, error) {
	return openOS(name, os.O_RDONLY, OpenOptions{})
}

// openOS opens name with flags (plus O_DIRECT if asked). The kernel refuses
// O_DIRECT with EINVAL on file systems that cannot do it (tmpfs before 6.6,
// some FUSE and overlay mounts); that becomes ErrDirectUnsupported.
func openOS(name string, flags int, opts OpenOptions) (File, error) {
	if opts.Direct {
		flags |= unix.O_DIRECT
	}
	f, err := os.OpenFile(name, flags|unix.O_CLOEXEC, filePerm)
	if err != nil {
		if opts.Direct && errors.Is(err, unix.EINVAL) {
			return nil, fmt.Errorf("%w: %w", ErrDirectUnsupported, err)
		}
		return nil, err
	}
	return &osFile{f: f, name: name}, nil
}

func (osFS) Remove(name string) error             { return os.Remove(name) }
func (osFS) RemoveAll(name string) error          { return os.RemoveAll(name) }
func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }
func (osFS) MkdirAll(name string) error           { return os.MkdirAll(name, dirPerm) }

func (osFS) List(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

func (osFS) Stat(name string) (FileInfo, error) {
	st, err := os.Stat(name)
	if err != nil {
		return FileInfo{}, err
	}
	return FileInfo{Name: st.Name(), Size: st.Size(), IsDir: st.IsDir()}, nil
}

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}

// Lock takes flock(LOCK_EX|LOCK_NB) on name. flock locks belong to the open
// file description, so a second Lock of the same file fails even within one
// process; closing the returned Closer releases the lock.
func (osFS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, filePerm)
	if err != nil {
		return nil, err
	}
	err = control(f, func(fd int) error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) })
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("vfs: lock %s: %w (is another process using this data directory?)", name, ErrLocked)
		}
		return nil, &os.PathError{Op: "flock", Path: name, Err: err}
	}
	return f, nil
}

// control runs fn on f's descriptor, which stays valid for the call.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) { opErr = fn(int(fd)) }); err != nil {
		return err
	}
	return opErr
}

// osFile is an open OS file. ReadAt is safe from any goroutine.
type osFile struct {
	f    *os.File
	name string
}

func (f *osFile) ReadAt(p []byte, off int64) (int, error)  { return f.f.ReadAt(p, off) }
func (f *osFile) WriteAt(p []byte, off int64) (int, error) { return f.f.WriteAt(p, off) }
func (f *osFile) Close() error                             { return f.f.Close() }
func (f *osFile) Truncate(size int64) error                { return f.f.Truncate(size) }
func (f *osFile) Name() string                             { return f.name }

func (f *osFile) Sync() error {
	if failpoint.Inject("storage/skip-fsync").Skip() { // failpoint: pretend to sync (negative control)
		return nil
	}
	return f.f.Sync()
}

func (f *osFile) Datasync() error {
	if failpoint.Inject("storage/skip-fsync").Skip() { // failpoint: pretend to sync (negative control)
		return nil
	}
	return f.pathErr("fdatasync", control(f.f, func(fd int) error {
		return ignoringEINTR(func() error { return unix.Fdatasync(fd) })
	}))
}

func (f *osFile) StartWriteback(off, n int64) error {
	if n <= 0 {
		return nil
	}
	err := control(f.f, func(fd int) error {
		return ignoringEINTR(func() error { return unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE) })
	})
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ESPIPE) {
		return nil
	}
	return f.pathErr("sync_file_range", err)
}

// Allocate preallocates with FALLOC_FL_KEEP_SIZE; a file system without
// fallocate (EOPNOTSUPP, ENOSYS) gets nothing, and that is fine.
func (f *osFile) Allocate(off, n int64) error {
	if n == 0 {
		return nil
	}
	err := control(f.f, func(fd int) error {
		return ignoringEINTR(func() error { return unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, off, n) })
	})
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return nil
	}
	return f.pathErr("fallocate", err)
}

func (f *osFile) Size() (int64, error) {
	st, err := f.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (f *osFile) pathErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: op, Path: f.name, Err: err}
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}
