package vfs

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func newOSDir(t *testing.T) (FS, string) { return NewOS(), t.TempDir() }

func TestOS(t *testing.T) { runSuite(t, newOSDir) }

// TestOSDirectDetection opens with Direct where the file system may refuse
// it: /dev/shm is tmpfs (O_DIRECT only since Linux 6.6). Whichever it is,
// the outcome must be a working direct file or ErrDirectUnsupported, never a
// bare EINVAL.
func TestOSDirectDetection(t *testing.T) {
	for _, dir := range []string{t.TempDir(), "/dev/shm"} {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil {
			t.Logf("%s: %v, skipped", dir, err)
			continue
		}
		name := filepath.Join(dir, "petrel-vfs-direct-"+filepath.Base(t.TempDir()))
		f, err := NewOS().Create(name, OpenOptions{Direct: true})
		switch {
		case errors.Is(err, ErrDirectUnsupported):
			t.Logf("%s (fs type %#x): direct unsupported: %v", dir, st.Type, err)
		case err != nil:
			t.Fatalf("%s: %v", dir, err)
		default:
			t.Logf("%s (fs type %#x): direct supported", dir, st.Type)
			buf := AlignedBuffer(Alignment)
			if _, err := f.WriteAt(buf, 0); err != nil {
				t.Fatal(err)
			}
			must(t, f.Close())
			must(t, NewOS().Remove(name))
		}
	}
}

func TestAlignedBuffer(t *testing.T) {
	for _, n := range []int{0, 1, Alignment, 3 * Alignment} {
		b := AlignedBuffer(n)
		if len(b) != n || cap(b) != n {
			t.Fatalf("AlignedBuffer(%d): len %d cap %d", n, len(b), cap(b))
		}
		if n > 0 && !isAligned(b[:0:0], 0) || n >= Alignment && !isAligned(b[:Alignment], 0) {
			t.Fatalf("AlignedBuffer(%d) not aligned", n)
		}
	}
}

// TestOSStartWriteback: sync_file_range on a written file succeeds and
// changes nothing; on a closed file it fails with the path named.
func TestOSStartWriteback(t *testing.T) {
	fs := NewOS()
	name := t.TempDir() + "/f"
	f, err := fs.Create(name, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 1<<20), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.StartWriteback(0, 1<<20); err != nil {
		t.Fatalf("start writeback: %v", err)
	}
	if n, err := f.Size(); err != nil || n != 1<<20 {
		t.Fatalf("size %d %v", n, err)
	}
	f.Close()
	if err := f.StartWriteback(0, 1); err == nil || !strings.Contains(err.Error(), name) {
		t.Fatalf("on a closed file: %v", err)
	}
}
