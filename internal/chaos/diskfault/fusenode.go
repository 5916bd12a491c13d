package diskfault

import (
	"context"
	"path/filepath"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// node is a go-fuse loopback node whose changes go through the layer:
// directory changes are recorded (lazy) before they happen, and opened
// files are wrapped so that writes and fsyncs are too. Used by the FUSE
// server's goroutines; the state lives in the Layer.
type node struct {
	fs.LoopbackNode
	l *Layer
}

var (
	_ fs.NodeOpener         = (*node)(nil)
	_ fs.NodeCreater        = (*node)(nil)
	_ fs.NodeMkdirer        = (*node)(nil)
	_ fs.NodeMknoder        = (*node)(nil)
	_ fs.NodeSymlinker      = (*node)(nil)
	_ fs.NodeLinker         = (*node)(nil)
	_ fs.NodeUnlinker       = (*node)(nil)
	_ fs.NodeRmdirer        = (*node)(nil)
	_ fs.NodeRenamer        = (*node)(nil)
	_ fs.NodeSetattrer      = (*node)(nil)
	_ fs.NodeOpendirHandler = (*node)(nil)
	_ fs.NodeCopyFileRanger = (*node)(nil)
	_ fs.FileFsyncdirer     = (*dirHandle)(nil)
	_ fs.FileReaddirenter   = (*dirHandle)(nil)
	_ fs.FileReleasedirer   = (*dirHandle)(nil)
	_ fs.FileSeekdirer      = (*dirHandle)(nil)
	_ fs.FileWriter         = (*file)(nil)
	_ fs.FileReader         = (*file)(nil)
	_ fs.FileFsyncer        = (*file)(nil)
	_ fs.FileAllocater      = (*file)(nil)
	_ fs.FileReleaser       = (*file)(nil)
	_ fs.FileFlusher        = (*file)(nil)
	_ fs.FileLseeker        = (*file)(nil)
)

// backingPath is the node's path in the backing directory.
func (n *node) backingPath() string {
	return filepath.Join(n.RootData.Path, n.Path(nil))
}

func (n *node) child(name string) string { return filepath.Join(n.backingPath(), name) }

// change records, before a directory change, what PowerFail needs to undo
// it: the directory's synced entries and the inode name had.
func (n *node) change(name string) syscall.Errno {
	return n.l.lazy(func(tr *tracker) error { return tr.changeEntry(n.backingPath(), name) })
}

// noDirect: the layer is the page cache; the backing file is buffered
// (FUSE hands over unaligned buffers).
const noDirect = syscall.O_DIRECT

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	flags &^= noDirect
	if flags&syscall.O_TRUNC != 0 && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		p := n.backingPath()
		if errno := n.l.lazy(func(tr *tracker) error { return tr.beforeTruncate(p, 0) }); errno != 0 {
			return nil, 0, errno
		}
	}
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	return n.wrap(fh), fl, 0
}

// wrap makes fh, a handle opened on n, go through the layer.
func (n *node) wrap(fh fs.FileHandle) fs.FileHandle {
	lf, ok := fh.(*fs.LoopbackFile)
	if !ok {
		return fh
	}
	return &file{lf: lf, n: n}
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if errno := n.change(name); errno != 0 {
		return nil, nil, 0, errno
	}
	ch, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags&^noDirect, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	if cn, ok := ch.Operations().(*node); ok {
		return ch, cn.wrap(fh), fl, 0
	}
	fh.(fs.FileReleaser).Release(ctx)
	return nil, nil, 0, syscall.EIO
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := n.change(name); errno != 0 {
		return nil, errno
	}
	return n.LoopbackNode.Mkdir(ctx, name, mode, out)
}

func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := n.change(name); errno != 0 {
		return nil, errno
	}
	return n.LoopbackNode.Mknod(ctx, name, mode, rdev, out)
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := n.change(name); errno != 0 {
		return nil, errno
	}
	return n.LoopbackNode.Symlink(ctx, target, name, out)
}

func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := n.change(name); errno != 0 {
		return nil, errno
	}
	return n.LoopbackNode.Link(ctx, target, name, out)
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	if errno := n.change(name); errno != 0 {
		return errno
	}
	p := n.child(name)
	ino, _ := inoOf(p)
	if errno := n.LoopbackNode.Unlink(ctx, name); errno != 0 {
		return errno
	}
	return n.l.lazy(func(tr *tracker) error { return tr.afterRemove(ino) })
}

// Rmdir of a synced directory moves it to the attic instead, so that a
// power failure before its parent is synced can bring it back.
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	if errno := n.change(name); errno != 0 {
		return errno
	}
	var moved bool
	errno := n.l.lazy(func(tr *tracker) (err error) {
		moved, err = tr.rmdirDurable(n.backingPath(), name)
		return err
	})
	if errno != 0 || moved {
		return errno
	}
	return n.LoopbackNode.Rmdir(ctx, name)
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	if errno := n.change(name); errno != 0 {
		return errno
	}
	if errno := np.change(newName); errno != 0 {
		return errno
	}
	dst := np.child(newName)
	replaced, _ := inoOf(dst)
	if errno := n.LoopbackNode.Rename(ctx, name, newParent, newName, flags); errno != 0 {
		return errno
	}
	if replaced == 0 || flags&renameExchange != 0 {
		return 0
	}
	return n.l.lazy(func(tr *tracker) error { return tr.afterRemove(replaced) })
}

const renameExchange = 1 << 1 // RENAME_EXCHANGE

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if sz, ok := in.GetSize(); ok {
		if errno := n.l.gate(false); errno != 0 {
			return errno
		}
		p := n.backingPath()
		if errno := n.l.lazy(func(tr *tracker) error { return tr.beforeTruncate(p, int64(sz)) }); errno != 0 {
			return errno
		}
	}
	// Our file handles do not implement FileSetattrer: the loopback
	// applies the change by path.
	return n.LoopbackNode.Setattr(ctx, f, in, out)
}

// CopyFileRange is refused: the kernel falls back to reads and writes,
// which the layer sees.
func (n *node) CopyFileRange(context.Context, fs.FileHandle, uint64, *fs.Inode, fs.FileHandle, uint64, uint64, uint64) (uint32, syscall.Errno) {
	return 0, syscall.EOPNOTSUPP
}

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	return &dirHandle{fh: fh, n: n}, fl, 0
}

// dirHandle wraps a loopback directory stream so that fsync of a
// directory goes through the layer.
type dirHandle struct {
	fh fs.FileHandle
	n  *node
}

func (d *dirHandle) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	if errno := d.n.l.gate(true); errno != 0 {
		return errno
	}
	if s, ok := d.fh.(fs.FileFsyncdirer); ok {
		if errno := s.Fsyncdir(ctx, flags); errno != 0 {
			return errno
		}
	}
	p := d.n.backingPath()
	return d.n.l.lazy(func(tr *tracker) error { return tr.dirSynced(p) })
}

func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	return d.fh.(fs.FileReaddirenter).Readdirent(ctx)
}

func (d *dirHandle) Releasedir(ctx context.Context, flags uint32) {
	if r, ok := d.fh.(fs.FileReleasedirer); ok {
		r.Releasedir(ctx, flags)
	}
}

func (d *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if s, ok := d.fh.(fs.FileSeekdirer); ok {
		return s.Seekdir(ctx, off)
	}
	return syscall.ENOTSUP
}

// file wraps a loopback file: writes, truncating allocations and fsyncs
// go through the layer. It deliberately implements neither
// FilePassthroughFder (the kernel would bypass the layer) nor
// FileSetattrer (node.Setattr sees truncates).
type file struct {
	lf *fs.LoopbackFile
	n  *node
}

func (f *file) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return f.lf.Read(ctx, dest, off)
}

func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if errno := f.n.l.gate(false); errno != 0 {
		return 0, errno
	}
	p := f.n.backingPath()
	if errno := f.n.l.lazy(func(tr *tracker) error { return tr.beforeWrite(p, off, int64(len(data))) }); errno != 0 {
		return 0, errno
	}
	return f.lf.Write(ctx, data, off)
}

func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if errno := f.n.l.gate(true); errno != 0 {
		return errno
	}
	if errno := f.lf.Fsync(ctx, flags); errno != 0 {
		return errno
	}
	p := f.n.backingPath()
	return f.n.l.lazy(func(tr *tracker) error { return tr.fileSynced(p) })
}

// fallocate modes that change data or shift it.
const (
	fallocPunchHole    = 0x02
	fallocCollapse     = 0x08
	fallocZeroRange    = 0x10
	fallocInsertRange  = 0x20
	fallocChangesData  = fallocPunchHole | fallocZeroRange
	fallocShiftsData   = fallocCollapse | fallocInsertRange
	fallocAllowedModes = 0x01 | fallocChangesData // KEEP_SIZE and the data-changing ones
)

func (f *file) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	if mode&fallocShiftsData != 0 || mode&^fallocAllowedModes != 0 {
		return syscall.EOPNOTSUPP
	}
	if errno := f.n.l.gate(false); errno != 0 {
		return errno
	}
	if mode&fallocChangesData != 0 {
		p := f.n.backingPath()
		if errno := f.n.l.lazy(func(tr *tracker) error { return tr.beforeWrite(p, int64(off), int64(size)) }); errno != 0 {
			return errno
		}
	}
	return f.lf.Allocate(ctx, off, size, mode)
}

func (f *file) Release(ctx context.Context) syscall.Errno { return f.lf.Release(ctx) }
func (f *file) Flush(ctx context.Context) syscall.Errno   { return f.lf.Flush(ctx) }
func (f *file) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	return f.lf.Lseek(ctx, off, whence)
}
