package vfs

import (
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned (wrapped) by Lock when the file is already locked,
// by this process or another one.
var ErrLocked = errors.New("vfs: file is locked by another holder")

// MemFS is an in-memory FS that remembers, for every file, what the last
// Sync or Datasync made durable and, for every directory, which entries the
// last SyncDir made durable, so that CrashClone can produce the state a power
// loss would leave (see the package doc).
//
// Any goroutine: one mutex guards the whole tree (it is a test FS).
type MemFS struct {
	mu          sync.Mutex
	root        *memNode
	noDirect    bool            // Direct opens fail with ErrDirectUnsupported
	locks       map[string]bool // cleaned names held by Lock
	directCount int             // Direct opens so far, for tests
}

// memNode is an inode: a file or a directory. Directory entries map names to
// inodes, so a rename moves the inode and an unsynced rename that reverts
// still finds the file's durable data under the old name.
type memNode struct {
	dir bool

	// File state: the current bytes, the bytes the last Sync/Datasync left,
	// and a conservative range [dirtyLo, dirtyHi) of current bytes written
	// since then (so Sync copies only what changed).
	data             []byte
	durable          []byte
	dirtyLo, dirtyHi int64

	// Directory state: current entries and the entries the last SyncDir left.
	kids        map[string]*memNode
	durableKids map[string]*memNode
}

func newDirNode() *memNode {
	return &memNode{dir: true, kids: map[string]*memNode{}, durableKids: map[string]*memNode{}}
}

// markDirty widens the dirty range to include [lo, hi).
func (n *memNode) markDirty(lo, hi int64) {
	if lo >= hi {
		return
	}
	if n.dirtyLo >= n.dirtyHi {
		n.dirtyLo, n.dirtyHi = lo, hi
		return
	}
	n.dirtyLo, n.dirtyHi = min(n.dirtyLo, lo), max(n.dirtyHi, hi)
}

// sync makes the current data durable.
func (n *memNode) sync() {
	n.durable = resize(n.durable, int64(len(n.data)))
	if hi := min(n.dirtyHi, int64(len(n.data))); n.dirtyLo < hi {
		copy(n.durable[n.dirtyLo:hi], n.data[n.dirtyLo:hi])
	}
	n.dirtyLo, n.dirtyHi = 0, 0
}

// resize returns b with length size, zero-filling any growth.
func resize(b []byte, size int64) []byte {
	if size <= int64(len(b)) {
		return b[:size]
	}
	if size <= int64(cap(b)) {
		old := len(b)
		b = b[:size]
		clear(b[old:])
		return b
	}
	return append(b, make([]byte, size-int64(len(b)))...)
}

// NewMem returns an empty in-memory FS whose root is "/" (relative names are
// resolved from the root too). Direct opens are accepted and alignment is
// enforced on them.
func NewMem() *MemFS {
	return &MemFS{root: newDirNode(), locks: map[string]bool{}}
}

// SetDirectSupported controls whether Direct opens succeed (the default) or
// fail with an error wrapping ErrDirectUnsupported, as on tmpfs.
func (m *MemFS) SetDirectSupported(ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.noDirect = !ok
}

// DirectOpens reports how many files were opened with Direct so far (tests
// check that a fallback really went buffered).
func (m *MemFS) DirectOpens() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.directCount
}

// split cleans name into its path elements; the root is the empty slice.
func split(name string) []string {
	c := strings.Trim(path.Clean("/"+name), "/")
	if c == "" {
		return nil
	}
	return strings.Split(c, "/")
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// walk returns the node at elems, or an error for op on name.
func (m *MemFS) walk(op, name string, elems []string) (*memNode, error) {
	n := m.root
	for _, e := range elems {
		if !n.dir {
			return nil, pathErr(op, name, unix.ENOTDIR)
		}
		k, ok := n.kids[e]
		if !ok {
			return nil, pathErr(op, name, unix.ENOENT)
		}
		n = k
	}
	return n, nil
}

// parent returns the directory holding the last element of name and that
// element; the root itself has no parent (EINVAL-like: "/" cannot be made).
func (m *MemFS) parent(op, name string) (*memNode, string, error) {
	elems := split(name)
	if len(elems) == 0 {
		return nil, "", pathErr(op, name, unix.EINVAL)
	}
	dir, err := m.walk(op, name, elems[:len(elems)-1])
	if err != nil {
		return nil, "", err
	}
	if !dir.dir {
		return nil, "", pathErr(op, name, unix.ENOTDIR)
	}
	return dir, elems[len(elems)-1], nil
}

// Create implements FS.
func (m *MemFS) Create(name string, opts OpenOptions) (File, error) {
	return m.open("create", name, opts, true, true)
}

// Open implements FS.
func (m *MemFS) Open(name string, opts OpenOptions) (File, error) {
	return m.open("open", name, opts, false, true)
}

// OpenReadOnly implements FS.
func (m *MemFS) OpenReadOnly(name string) (File, error) {
	return m.open("open", name, OpenOptions{}, false, false)
}

func (m *MemFS) open(op, name string, opts OpenOptions, create, writable bool) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if opts.Direct && m.noDirect {
		return nil, pathErr(op, name, ErrDirectUnsupported)
	}
	n, err := m.openNode(op, name, create)
	if err != nil {
		return nil, err
	}
	if create {
		n.data = n.data[:0]
		n.markDirty(0, 0)
	}
	if opts.Direct {
		m.directCount++
	}
	return &memFile{fs: m, node: n, name: name, writable: writable, direct: opts.Direct}, nil
}

// openNode finds (or, with create, makes) the file node for name.
func (m *MemFS) openNode(op, name string, create bool) (*memNode, error) {
	dir, base, err := m.parent(op, name)
	if err != nil {
		if len(split(name)) == 0 && !create {
			return nil, pathErr(op, name, unix.EISDIR)
		}
		return nil, err
	}
	n, ok := dir.kids[base]
	switch {
	case !ok && !create:
		return nil, pathErr(op, name, unix.ENOENT)
	case !ok:
		n = &memNode{}
		dir.kids[base] = n
	case n.dir:
		return nil, pathErr(op, name, unix.EISDIR)
	}
	return n, nil
}

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parent("remove", name)
	if err != nil {
		return err
	}
	n, ok := dir.kids[base]
	if !ok {
		return pathErr("remove", name, unix.ENOENT)
	}
	if n.dir && len(n.kids) > 0 {
		return pathErr("remove", name, unix.ENOTEMPTY)
	}
	delete(dir.kids, base)
	return nil
}

// RemoveAll implements FS: removing what does not exist is not an error.
func (m *MemFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parent("removeall", name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	delete(dir.kids, base)
	return nil
}

// Rename implements FS. The new name's old inode, if any, is replaced; a
// directory may replace only an empty directory.
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	odir, obase, err := m.parent("rename", oldname)
	if err != nil {
		return err
	}
	n, ok := odir.kids[obase]
	if !ok {
		return pathErr("rename", oldname, unix.ENOENT)
	}
	ndir, nbase, err := m.parent("rename", newname)
	if err != nil {
		return err
	}
	if to, from := split(newname), split(oldname); n.dir && len(to) > len(from) && isWithin(to, from) {
		return pathErr("rename", newname, unix.EINVAL) // a directory into itself
	}
	if dst, ok := ndir.kids[nbase]; ok && dst != n {
		switch {
		case dst.dir && !n.dir:
			return pathErr("rename", newname, unix.EISDIR)
		case !dst.dir && n.dir:
			return pathErr("rename", newname, unix.ENOTDIR)
		case dst.dir && len(dst.kids) > 0:
			return pathErr("rename", newname, unix.ENOTEMPTY)
		}
	}
	delete(odir.kids, obase)
	ndir.kids[nbase] = n
	return nil
}

// isWithin reports whether path elems start with prefix elems.
func isWithin(elems, prefix []string) bool {
	return len(elems) >= len(prefix) && slices.Equal(elems[:len(prefix)], prefix)
}

// MkdirAll implements FS. New directories, like files, are durable only once
// their parent is synced.
func (m *MemFS) MkdirAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.root
	for _, e := range split(name) {
		k, ok := n.kids[e]
		if !ok {
			k = newDirNode()
			n.kids[e] = k
		} else if !k.dir {
			return pathErr("mkdir", name, unix.ENOTDIR)
		}
		n = k
	}
	return nil
}

// List implements FS.
func (m *MemFS) List(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walk("open", dir, split(dir))
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, pathErr("readdirent", dir, unix.ENOTDIR)
	}
	names := make([]string, 0, len(n.kids))
	for k := range n.kids {
		names = append(names, k)
	}
	slices.Sort(names)
	return names, nil
}

// Stat implements FS.
func (m *MemFS) Stat(name string) (FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	elems := split(name)
	n, err := m.walk("stat", name, elems)
	if err != nil {
		return FileInfo{}, err
	}
	base := "/"
	if len(elems) > 0 {
		base = elems[len(elems)-1]
	}
	return FileInfo{Name: base, Size: int64(len(n.data)), IsDir: n.dir}, nil
}

// SyncDir implements FS: the directory's current entries become durable.
func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walk("open", dir, split(dir))
	if err != nil {
		return err
	}
	if !n.dir {
		return pathErr("sync", dir, unix.ENOTDIR)
	}
	n.durableKids = make(map[string]*memNode, len(n.kids))
	for k, v := range n.kids {
		n.durableKids[k] = v
	}
	return nil
}

// Lock implements FS: an exclusive lock per cleaned name within this MemFS.
// The file is created if absent (and, like any new file, needs SyncDir to
// survive a crash).
func (m *MemFS) Lock(name string) (io.Closer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := strings.Join(split(name), "/")
	if m.locks[key] {
		return nil, pathErr("lock", name, ErrLocked)
	}
	if _, err := m.openNode("lock", name, true); err != nil {
		return nil, err
	}
	m.locks[key] = true
	return &memLock{fs: m, key: key}, nil
}

type memLock struct {
	fs     *MemFS
	key    string
	closed bool
}

func (l *memLock) Close() error {
	l.fs.mu.Lock()
	defer l.fs.mu.Unlock()
	if l.closed {
		return fs.ErrClosed
	}
	l.closed = true
	delete(l.fs.locks, l.key)
	return nil
}

// memFile is an open MemFS file. All methods take the FS mutex, so ReadAt
// is safe concurrently with writes.
type memFile struct {
	fs       *MemFS
	node     *memNode
	name     string
	writable bool
	direct   bool
	closed   bool
}

// check validates a file operation under the FS mutex.
func (f *memFile) check(op string, write bool) error {
	switch {
	case f.closed:
		return pathErr(op, f.name, fs.ErrClosed)
	case write && !f.writable:
		return pathErr(op, f.name, unix.EBADF)
	}
	return nil
}

// checkIO validates a read or write of p at off: open, writable for a
// write, off ≥ 0 and, on a Direct file, buffer address, offset and length
// multiples of Alignment (stricter than ext4's 512, so that code which passes
// here passes on any device).
func (f *memFile) checkIO(op string, write bool, p []byte, off int64) error {
	if err := f.check(op, write); err != nil {
		return err
	}
	if off < 0 || (f.direct && !isAligned(p, off)) {
		return pathErr(op, f.name, unix.EINVAL)
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkIO("read", false, p, off); err != nil {
		return 0, err
	}
	if off >= int64(len(f.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.node.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkIO("write", true, p, off); err != nil {
		return 0, err
	}
	n := f.node
	end := off + int64(len(p))
	lo := min(off, int64(len(n.data))) // a gap past the end becomes zeros, also dirty
	if end > int64(len(n.data)) {
		n.data = resize(n.data, end)
	}
	copy(n.data[off:], p)
	n.markDirty(lo, end)
	return len(p), nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("close", false); err != nil {
		return err
	}
	f.closed = true
	return nil
}

func (f *memFile) Sync() error { return f.Datasync() }

func (f *memFile) Datasync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("sync", false); err != nil {
		return err
	}
	f.node.sync()
	return nil
}

// StartWriteback does nothing: in memory, only Sync and Datasync decide
// what a crash keeps.
func (f *memFile) StartWriteback(off, n int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return f.check("sync_file_range", false)
}

func (f *memFile) Allocate(off, n int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("fallocate", true); err != nil {
		return err
	}
	if off < 0 || n < 0 {
		return pathErr("fallocate", f.name, unix.EINVAL)
	}
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("truncate", false); err != nil {
		return err
	}
	if !f.writable || size < 0 {
		return pathErr("truncate", f.name, unix.EINVAL)
	}
	n := f.node
	old := int64(len(n.data))
	n.data = resize(n.data, size)
	n.markDirty(old, size) // growth reads as zeros; a shrink is carried by the size
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("stat", false); err != nil {
		return 0, err
	}
	return int64(len(f.node.data)), nil
}

func (f *memFile) Name() string { return f.name }
