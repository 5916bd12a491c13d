package vfs

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// OpKind classifies the operations ErrorFS can fail.
type OpKind uint8

// The operation kinds. OpOpen covers Open and OpenReadOnly, OpSync covers
// Sync and Datasync, OpRemove covers Remove and RemoveAll, OpStat covers
// FS.Stat and File.Size, OpClose covers File.Close and the Lock closer.
const (
	OpCreate OpKind = iota + 1
	OpOpen
	OpRead
	OpWrite
	OpSync
	OpAllocate
	OpTruncate
	OpRename
	OpRemove
	OpMkdir
	OpList
	OpStat
	OpSyncDir
	OpLock
	OpClose
)

var opNames = [...]string{"?", "create", "open", "read", "write", "sync", "allocate", "truncate",
	"rename", "remove", "mkdir", "list", "stat", "syncdir", "lock", "close"}

func (k OpKind) String() string {
	if int(k) < len(opNames) {
		return opNames[k]
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// Op is one operation as an Injector sees it.
type Op struct {
	Kind OpKind
	Path string // the file or directory (Rename: the old name)
	New  string // Rename: the new name
	Off  int64  // Read, Write, Allocate: offset; Truncate: size
	Len  int64  // Read, Write, Allocate: length
}

// ErrInjected marks every error an injector made: errors.Is(err,
// ErrInjected) tells an injected failure from a real one.
var ErrInjected = errors.New("vfs: injected error")

// InjectedError is the error Nth injects. It matches ErrInjected and Err
// with errors.Is, so a test can inject ENOSPC and the code under test sees
// ENOSPC (or ErrDirectUnsupported, or anything else).
type InjectedError struct {
	Op  Op
	Err error
}

func (e *InjectedError) Error() string {
	return fmt.Sprintf("vfs: injected error on %s %s: %v", e.Op.Kind, e.Op.Path, e.Err)
}

// Is matches ErrInjected.
func (e *InjectedError) Is(target error) bool { return target == ErrInjected }

// Unwrap returns Err, so errors.Is(err, syscall.EIO) and, for ENOENT,
// errors.Is(err, fs.ErrNotExist) hold.
func (e *InjectedError) Unwrap() error { return e.Err }

// Injector decides, before each operation, whether it fails. It must be safe
// for concurrent use. A nil result lets the operation through.
type Injector interface {
	MaybeError(op Op) error
}

// InjectorFunc adapts a function (a probability, a latency, a condition on
// the op) to Injector.
type InjectorFunc func(Op) error

// MaybeError implements Injector.
func (f InjectorFunc) MaybeError(op Op) error { return f(op) }

// Nth fails the n-th (0-based) operation that matches its filter, and with
// Sticky every matching operation after it. Configure it (Errno, Sticky,
// Paths) before use; then it is safe for concurrent use.
//
// The "fail at every step" loop:
//
//	for n := 0; ; n++ {
//		inj := vfs.FailNth(n, vfs.OpWrite, vfs.OpSync)
//		err := run(vfs.NewErrorFS(mem, inj))
//		if !inj.Fired() { break } // op n never happened: all steps covered
//		… check err wraps ErrInjected, crash-clone, recover, verify …
//	}
type Nth struct {
	n              int
	kinds          []OpKind
	sticky         bool
	err            error
	prefix, suffix string

	mu    sync.Mutex
	count int // matching operations seen
	fired int // errors injected
}

// FailNth returns an injector failing the n-th operation of the given kinds
// (all kinds if none), with EIO unless Errno says otherwise.
func FailNth(n int, kinds ...OpKind) *Nth {
	return &Nth{n: n, kinds: kinds, err: syscall.EIO}
}

// Errno sets the errno the injected error wraps (ENOSPC, EIO, EINVAL…).
func (i *Nth) Errno(e syscall.Errno) *Nth { i.err = e; return i }

// With sets any error for the injected error to wrap, such as
// ErrDirectUnsupported on an OpCreate.
func (i *Nth) With(err error) *Nth { i.err = err; return i }

// Sticky makes every matching operation after the n-th fail too, as a disk
// that went bad stays bad.
func (i *Nth) Sticky() *Nth { i.sticky = true; return i }

// Paths restricts the injector to operations on names with the given prefix
// and suffix (either may be empty); a Rename matches if either name does.
func (i *Nth) Paths(prefix, suffix string) *Nth { i.prefix, i.suffix = prefix, suffix; return i }

// Count reports how many matching operations were seen, failed ones included.
func (i *Nth) Count() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.count
}

// Fired reports whether an error was injected.
func (i *Nth) Fired() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.fired > 0
}

func (i *Nth) matches(op Op) bool {
	if len(i.kinds) > 0 && !slices.Contains(i.kinds, op.Kind) {
		return false
	}
	name := func(p string) bool {
		return p != "" && strings.HasPrefix(p, i.prefix) && strings.HasSuffix(p, i.suffix)
	}
	return name(op.Path) || name(op.New)
}

// MaybeError implements Injector.
func (i *Nth) MaybeError(op Op) error {
	if !i.matches(op) {
		return nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	seq := i.count
	i.count++
	if seq == i.n || (i.sticky && seq > i.n) {
		i.fired++
		return &InjectedError{Op: op, Err: i.err}
	}
	return nil
}

// NewErrorFS wraps inner so that inj is consulted before every operation;
// an operation it fails is not performed, except Close, which closes the
// inner file and then reports the injected error (a failed close still
// releases the descriptor, as on Linux). Files opened through it are wrapped
// too. Safe for concurrent use if inner and inj are.
func NewErrorFS(inner FS, inj Injector) FS { return &errorFS{inner: inner, inj: inj} }

type errorFS struct {
	inner FS
	inj   Injector
}

func (e *errorFS) maybe(k OpKind, name string) error {
	return e.inj.MaybeError(Op{Kind: k, Path: name})
}

func (e *errorFS) wrap(f File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	return &errorFile{inner: f, inj: e.inj}, nil
}

func (e *errorFS) Create(name string, opts OpenOptions) (File, error) {
	if err := e.maybe(OpCreate, name); err != nil {
		return nil, err
	}
	return e.wrap(e.inner.Create(name, opts))
}

func (e *errorFS) Open(name string, opts OpenOptions) (File, error) {
	if err := e.maybe(OpOpen, name); err != nil {
		return nil, err
	}
	return e.wrap(e.inner.Open(name, opts))
}

func (e *errorFS) OpenReadOnly(name string) (File, error) {
	if err := e.maybe(OpOpen, name); err != nil {
		return nil, err
	}
	return e.wrap(e.inner.OpenReadOnly(name))
}

func (e *errorFS) Remove(name string) error {
	if err := e.maybe(OpRemove, name); err != nil {
		return err
	}
	return e.inner.Remove(name)
}

func (e *errorFS) RemoveAll(name string) error {
	if err := e.maybe(OpRemove, name); err != nil {
		return err
	}
	return e.inner.RemoveAll(name)
}

func (e *errorFS) Rename(oldname, newname string) error {
	if err := e.inj.MaybeError(Op{Kind: OpRename, Path: oldname, New: newname}); err != nil {
		return err
	}
	return e.inner.Rename(oldname, newname)
}

func (e *errorFS) MkdirAll(name string) error {
	if err := e.maybe(OpMkdir, name); err != nil {
		return err
	}
	return e.inner.MkdirAll(name)
}

func (e *errorFS) List(dir string) ([]string, error) {
	if err := e.maybe(OpList, dir); err != nil {
		return nil, err
	}
	return e.inner.List(dir)
}

func (e *errorFS) Stat(name string) (FileInfo, error) {
	if err := e.maybe(OpStat, name); err != nil {
		return FileInfo{}, err
	}
	return e.inner.Stat(name)
}

func (e *errorFS) SyncDir(dir string) error {
	if err := e.maybe(OpSyncDir, dir); err != nil {
		return err
	}
	return e.inner.SyncDir(dir)
}

func (e *errorFS) Lock(name string) (io.Closer, error) {
	if err := e.maybe(OpLock, name); err != nil {
		return nil, err
	}
	c, err := e.inner.Lock(name)
	if err != nil {
		return nil, err
	}
	return &errorCloser{inner: c, inj: e.inj, name: name}, nil
}

// closeWith closes c, then lets inj fail the close of name.
func closeWith(c io.Closer, inj Injector, name string) error {
	err := c.Close()
	if ierr := inj.MaybeError(Op{Kind: OpClose, Path: name}); ierr != nil {
		return ierr
	}
	return err
}

type errorCloser struct {
	inner io.Closer
	inj   Injector
	name  string
}

func (c *errorCloser) Close() error { return closeWith(c.inner, c.inj, c.name) }

type errorFile struct {
	inner File
	inj   Injector
}

func (f *errorFile) maybe(k OpKind, off, n int64) error {
	return f.inj.MaybeError(Op{Kind: k, Path: f.inner.Name(), Off: off, Len: n})
}

func (f *errorFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.maybe(OpRead, off, int64(len(p))); err != nil {
		return 0, err
	}
	return f.inner.ReadAt(p, off)
}

func (f *errorFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.maybe(OpWrite, off, int64(len(p))); err != nil {
		return 0, err
	}
	return f.inner.WriteAt(p, off)
}

func (f *errorFile) Close() error { return closeWith(f.inner, f.inj, f.inner.Name()) }

func (f *errorFile) Sync() error {
	if err := f.maybe(OpSync, 0, 0); err != nil {
		return err
	}
	return f.inner.Sync()
}

func (f *errorFile) Datasync() error {
	if err := f.maybe(OpSync, 0, 0); err != nil {
		return err
	}
	return f.inner.Datasync()
}

func (f *errorFile) StartWriteback(off, n int64) error {
	if err := f.maybe(OpWrite, off, n); err != nil {
		return err
	}
	return f.inner.StartWriteback(off, n)
}

func (f *errorFile) Allocate(off, n int64) error {
	if err := f.maybe(OpAllocate, off, n); err != nil {
		return err
	}
	return f.inner.Allocate(off, n)
}

func (f *errorFile) Truncate(size int64) error {
	if err := f.maybe(OpTruncate, size, 0); err != nil {
		return err
	}
	return f.inner.Truncate(size)
}

func (f *errorFile) Size() (int64, error) {
	if err := f.maybe(OpStat, 0, 0); err != nil {
		return 0, err
	}
	return f.inner.Size()
}

func (f *errorFile) Name() string { return f.inner.Name() }
