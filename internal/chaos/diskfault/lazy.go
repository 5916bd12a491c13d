package diskfault

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// pageBytes is the granularity at which overwritten synced bytes are saved.
const pageBytes = 4096

// tracker is the lazy mode's memory of what is not durable yet, kept as an
// undo log over the backing directory (which always holds the current
// state). Owned by its Layer, under Layer.mu.
//
//	files  ino → the file's synced size and the synced bytes of every page
//	       overwritten since its last fsync (zero pages are not stored: a
//	       hole in the undo file reads as zeros)
//	dirs   ino → the directory's entries as of its last fsync (or the
//	       mount), taken just before its first change since
//	attic  f<ino>  a hard link keeping a file reachable while PowerFail may
//	               need it (dirty data, or a synced name removed/replaced)
//	       u<ino>  the saved pages, at their own offsets (sparse)
//	       d<ino>  a synced directory removed since its parent's fsync
//	       trash/  PowerFail's scratch space
type tracker struct {
	attic string
	files map[uint64]*fileUndo
	dirs  map[uint64]map[string]entry
}

type fileUndo struct {
	size  int64              // synced size
	saved map[int64]struct{} // page indexes whose synced bytes are saved
	src   *os.File           // attic/f<ino>, to read the bytes about to be overwritten
	undo  *os.File           // attic/u<ino>, nil until a non-zero page is saved
}

// entry is one synced directory entry.
type entry struct {
	ino uint64
	dir bool
}

func newTracker(attic string) (*tracker, error) {
	tr := &tracker{attic: attic}
	return tr, tr.reset()
}

// reset forgets everything: the backing state is durable as it is.
func (tr *tracker) reset() error {
	for _, fu := range tr.files {
		fu.close()
	}
	tr.files, tr.dirs = map[uint64]*fileUndo{}, map[uint64]map[string]entry{}
	if err := os.RemoveAll(tr.attic); err != nil {
		return err
	}
	return os.MkdirAll(tr.attic, 0o755)
}

// commit makes everything durable (lazy mode is being turned off).
func (tr *tracker) commit() error { return tr.reset() }

func (fu *fileUndo) close() {
	fu.src.Close()
	if fu.undo != nil {
		fu.undo.Close()
	}
}

func (tr *tracker) atticPath(kind byte, ino uint64) string {
	return filepath.Join(tr.attic, string(kind)+strconv.FormatUint(ino, 10))
}

func inoOf(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// listEntries reads a directory's entries with their inodes.
func listEntries(dir string) (map[string]entry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]entry, len(des))
	for _, de := range des {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, de.Name()), &st); err != nil {
			return nil, err
		}
		out[de.Name()] = entry{ino: st.Ino, dir: st.Mode&unix.S_IFMT == unix.S_IFDIR}
	}
	return out, nil
}

// link makes attic/f<ino> a name of the file at path (kept if present).
func (tr *tracker) link(path string, ino uint64) error {
	err := os.Link(path, tr.atticPath('f', ino))
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	return err
}

// changeEntry is called before name in dir is created, removed, replaced
// or renamed: it snapshots the directory's synced entries if this is its
// first change since its fsync, and keeps the synced inode under name
// reachable.
func (tr *tracker) changeEntry(dir, name string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return err
	}
	snap, ok := tr.dirs[st.Ino]
	if !ok {
		var err error
		if snap, err = listEntries(dir); err != nil {
			return err
		}
		tr.dirs[st.Ino] = snap
	}
	e, ok := snap[name]
	if !ok || e.dir {
		return nil
	}
	cur, err := inoOf(filepath.Join(dir, name))
	if err != nil || cur != e.ino {
		return nil // already gone or replaced: saved at that change
	}
	return tr.link(filepath.Join(dir, name), e.ino)
}

// afterRemove drops the tracking of a removed inode that no synced entry
// names and nothing else links (it can never come back).
func (tr *tracker) afterRemove(ino uint64) error {
	if ino == 0 || tr.referenced(ino) {
		return nil
	}
	var st unix.Stat_t
	p := tr.atticPath('f', ino)
	if err := unix.Lstat(p, &st); err != nil || st.Nlink > 1 {
		return nil
	}
	if fu := tr.files[ino]; fu != nil {
		fu.close()
		delete(tr.files, ino)
		_ = os.Remove(tr.atticPath('u', ino))
	}
	return os.Remove(p)
}

// rmdirDurable moves the synced empty directory dir/name to the attic
// instead of removing it, and reports whether it did; an unsynced one is
// left to the caller's rmdir.
func (tr *tracker) rmdirDurable(dir, name string) (bool, error) {
	dirIno, err := inoOf(dir)
	if err != nil {
		return false, err
	}
	p := filepath.Join(dir, name)
	cur, err := inoOf(p)
	if err != nil {
		return false, err
	}
	if e, ok := tr.dirs[dirIno][name]; !ok || e.ino != cur || !e.dir {
		delete(tr.dirs, cur)
		return false, nil
	}
	des, err := os.ReadDir(p)
	if err != nil {
		return false, err
	}
	if len(des) > 0 {
		return false, syscall.ENOTEMPTY
	}
	return true, os.Rename(p, tr.atticPath('d', cur))
}

// ensureFile starts tracking the file at path at its first change since
// its fsync: its current size is its synced size.
func (tr *tracker) ensureFile(path string) (*fileUndo, uint64, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return nil, 0, err
	}
	if fu := tr.files[st.Ino]; fu != nil {
		return fu, st.Ino, nil
	}
	if err := tr.link(path, st.Ino); err != nil {
		return nil, 0, err
	}
	src, err := os.Open(tr.atticPath('f', st.Ino))
	if err != nil {
		return nil, 0, err
	}
	fu := &fileUndo{size: st.Size, saved: map[int64]struct{}{}, src: src}
	tr.files[st.Ino] = fu
	return fu, st.Ino, nil
}

// beforeWrite saves the synced bytes of the pages [off, off+n) is about to
// change.
func (tr *tracker) beforeWrite(path string, off, n int64) error {
	if n <= 0 {
		return nil
	}
	fu, ino, err := tr.ensureFile(path)
	if err != nil {
		return err
	}
	return tr.savePages(fu, ino, off/pageBytes, (off+n-1)/pageBytes)
}

// beforeTruncate saves the synced bytes a shrink to size is about to cut.
func (tr *tracker) beforeTruncate(path string, size int64) error {
	fu, ino, err := tr.ensureFile(path)
	if err != nil {
		return err
	}
	if size >= fu.size {
		return nil
	}
	return tr.savePages(fu, ino, size/pageBytes, (fu.size-1)/pageBytes)
}

// savePages saves pages first..last that lie below the synced size and
// are not saved yet.
func (tr *tracker) savePages(fu *fileUndo, ino uint64, first, last int64) error {
	last = min(last, (fu.size-1)/pageBytes)
	buf := make([]byte, pageBytes)
	for p := first; p <= last; p++ {
		if _, ok := fu.saved[p]; ok {
			continue
		}
		b := buf[:min(pageBytes, fu.size-p*pageBytes)]
		n, err := fu.src.ReadAt(b, p*pageBytes)
		if err != nil && err != io.EOF {
			return err
		}
		clear(b[n:])
		if !allZero(b) {
			if fu.undo == nil {
				if fu.undo, err = os.OpenFile(tr.atticPath('u', ino), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
					return err
				}
			}
			if _, err := fu.undo.WriteAt(b, p*pageBytes); err != nil {
				return err
			}
		}
		fu.saved[p] = struct{}{}
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// fileSynced: the file at path is durable as it is now.
func (tr *tracker) fileSynced(path string) error {
	ino, err := inoOf(path)
	if err != nil {
		return err
	}
	fu := tr.files[ino]
	if fu == nil {
		return nil
	}
	fu.close()
	delete(tr.files, ino)
	if err := os.Remove(tr.atticPath('u', ino)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return tr.gc(ino, false)
}

// dirSynced: the directory at path has its current entries durably.
func (tr *tracker) dirSynced(path string) error {
	ino, err := inoOf(path)
	if err != nil {
		return err
	}
	snap, ok := tr.dirs[ino]
	if !ok {
		return nil
	}
	delete(tr.dirs, ino)
	for _, e := range snap {
		if err := tr.gc(e.ino, e.dir); err != nil {
			return err
		}
	}
	return nil
}

// referenced reports whether some directory's synced entries name ino.
func (tr *tracker) referenced(ino uint64) bool {
	for _, snap := range tr.dirs {
		for _, e := range snap {
			if e.ino == ino {
				return true
			}
		}
	}
	return false
}

// gc removes the attic's hold on ino once nothing may need it back.
func (tr *tracker) gc(ino uint64, dir bool) error {
	if tr.referenced(ino) {
		return nil
	}
	if dir {
		p := tr.atticPath('d', ino)
		if _, err := os.Lstat(p); err != nil {
			return nil
		}
		delete(tr.dirs, ino)
		return os.RemoveAll(p)
	}
	if tr.files[ino] != nil {
		return nil
	}
	if err := os.Remove(tr.atticPath('f', ino)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// revert drops everything not durable from the backing directory: file
// data back to the synced pages and size, then every tracked directory
// back to its synced entries. The mount must be gone.
func (tr *tracker) revert(backing string) (Loss, error) {
	var loss Loss
	var errs []error
	for _, ino := range slices.Sorted(maps.Keys(tr.files)) {
		if err := tr.revertFile(ino, tr.files[ino], &loss); err != nil {
			errs = append(errs, err)
		}
	}
	if err := tr.revertDirs(backing, &loss); err != nil {
		errs = append(errs, err)
	}
	if err := tr.reset(); err != nil {
		errs = append(errs, err)
	}
	return loss, errors.Join(errs...)
}

func (tr *tracker) revertFile(ino uint64, fu *fileUndo, loss *Loss) error {
	f, err := os.OpenFile(tr.atticPath('f', ino), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	buf := make([]byte, pageBytes)
	for _, p := range slices.Sorted(maps.Keys(fu.saved)) {
		b := buf[:min(pageBytes, fu.size-p*pageBytes)]
		clear(b)
		if fu.undo != nil {
			if _, err := fu.undo.ReadAt(b, p*pageBytes); err != nil && err != io.EOF {
				return err
			}
		}
		if _, err := f.WriteAt(b, p*pageBytes); err != nil {
			return err
		}
		loss.PagesRestore++
	}
	loss.Files++
	loss.BytesCut += max(0, st.Size()-fu.size)
	return f.Truncate(fu.size)
}

// revertDirs: phase A moves every entry a tracked directory did not have
// at its fsync to the trash (deepest directories first, so that paths
// found before stay valid); phase B walks the tree from the root and
// brings every synced entry back (files from their attic links,
// directories from wherever they are now).
func (tr *tracker) revertDirs(backing string, loss *Loss) error {
	trash := filepath.Join(tr.attic, "trash")
	if err := os.MkdirAll(trash, 0o755); err != nil {
		return err
	}
	where := map[uint64]string{}
	for _, root := range []string{backing, tr.attic} {
		if err := dirsByIno(root, where); err != nil {
			return err
		}
	}
	var tracked []string
	for ino := range tr.dirs {
		if p, ok := where[ino]; ok {
			tracked = append(tracked, p)
		}
	}
	slices.SortFunc(tracked, func(a, b string) int {
		if c := strings.Count(b, "/") - strings.Count(a, "/"); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	seq := 0
	for _, dir := range tracked {
		ino, err := inoOf(dir)
		if err != nil {
			return err
		}
		cur, err := listEntries(dir)
		if err != nil {
			return err
		}
		snap := tr.dirs[ino]
		for _, name := range slices.Sorted(maps.Keys(cur)) {
			if e, ok := snap[name]; ok && e.ino == cur[name].ino {
				continue
			}
			seq++
			if err := os.Rename(filepath.Join(dir, name), filepath.Join(trash, strconv.Itoa(seq))); err != nil {
				return err
			}
			loss.EntriesGone++
		}
	}
	return tr.restoreDir(backing, loss, 0)
}

// restoreDir brings back dir's synced entries, then recurses.
func (tr *tracker) restoreDir(dir string, loss *Loss, depth int) error {
	if depth > 64 {
		return fmt.Errorf("diskfault: %s: directory tree deeper than 64", dir)
	}
	ino, err := inoOf(dir)
	if err != nil {
		return err
	}
	snap := tr.dirs[ino]
	for _, name := range slices.Sorted(maps.Keys(snap)) {
		e := snap[name]
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		if !e.dir {
			if err := os.Link(tr.atticPath('f', e.ino), p); err != nil {
				return fmt.Errorf("diskfault: synced entry %s (inode %d) not kept: %w", p, e.ino, err)
			}
		} else {
			where := map[uint64]string{}
			if err := dirsByIno(tr.attic, where); err != nil {
				return err
			}
			from, ok := where[e.ino]
			if !ok {
				return fmt.Errorf("diskfault: synced directory %s (inode %d) not kept", p, e.ino)
			}
			if err := os.Rename(from, p); err != nil {
				return err
			}
		}
		loss.EntriesBack++
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, de := range des {
		if de.IsDir() {
			if err := tr.restoreDir(filepath.Join(dir, de.Name()), loss, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// dirsByIno adds every directory at or under root to where, by inode.
func dirsByIno(root string, where map[uint64]string) error {
	return filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			ino, err := inoOf(p)
			if err != nil {
				return err
			}
			where[ino] = p
		}
		return nil
	})
}
