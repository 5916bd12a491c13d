package vfs

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

func newMemDir(t *testing.T) (FS, string) {
	m := NewMem()
	must(t, m.MkdirAll("/data"))
	return m, "/data"
}

func TestMemFS(t *testing.T) { runSuite(t, newMemDir) }

// exists reports whether name is present in fsys, failing on other errors.
func exists(t *testing.T, fsys FS, name string) bool {
	t.Helper()
	_, err := fsys.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	must(t, err)
	return true
}

func wantContent(t *testing.T, fsys FS, name, want string) {
	t.Helper()
	if got := readAll(t, fsys, name); string(got) != want {
		t.Fatalf("%s = %q, want %q", name, got, want)
	}
}

func TestCrashUnsyncedDataLost(t *testing.T) {
	m := NewMem()
	f := writeFile(t, m, "/f", []byte("abc"))
	must(t, m.SyncDir("/"))
	wantContent(t, m.CrashClone(), "/f", "") // entry durable, data not

	must(t, f.Datasync())
	if _, err := f.WriteAt([]byte("XYZW"), 1); err != nil {
		t.Fatal(err)
	}
	wantContent(t, m.CrashClone(), "/f", "abc") // only what the sync covered
	wantContent(t, m, "/f", "aXYZW")            // the original is untouched
	must(t, f.Sync())
	wantContent(t, m.CrashClone(), "/f", "aXYZW")
}

func TestCrashCreateNeedsSyncDir(t *testing.T) {
	m := NewMem()
	f := writeFile(t, m, "/f", []byte("abc"))
	must(t, f.Sync())
	if exists(t, m.CrashClone(), "/f") {
		t.Fatal("file survived a crash although its directory was never synced")
	}
	must(t, m.MkdirAll("/a/b"))
	must(t, m.SyncDir("/"))
	c := m.CrashClone()
	if !exists(t, c, "/a") || exists(t, c, "/a/b") {
		t.Fatal("want /a (root synced) but not /a/b (/a not synced)")
	}
	wantContent(t, c, "/f", "abc")
}

func TestCrashRename(t *testing.T) {
	m := NewMem()
	f := writeFile(t, m, "/a", []byte("v1"))
	must(t, f.Sync())
	must(t, m.SyncDir("/"))
	must(t, m.Rename("/a", "/b"))
	if _, err := f.WriteAt([]byte("v2"), 0); err != nil { // unsynced
		t.Fatal(err)
	}
	c := m.CrashClone()
	if exists(t, c, "/b") {
		t.Fatal("unsynced rename survived")
	}
	wantContent(t, c, "/a", "v1")

	must(t, m.SyncDir("/"))
	c = m.CrashClone()
	if exists(t, c, "/a") {
		t.Fatal("old name survived a synced rename")
	}
	wantContent(t, c, "/b", "v1")

	// The atomic replace pattern: tmp written+synced, renamed over, dir synced.
	g := writeFile(t, m, "/b.tmp", []byte("v3"))
	must(t, g.Sync())
	must(t, m.Rename("/b.tmp", "/b"))
	wantContent(t, m.CrashClone(), "/b", "v1")
	must(t, m.SyncDir("/"))
	wantContent(t, m.CrashClone(), "/b", "v3")
}

func TestCrashRemoveComesBack(t *testing.T) {
	m := NewMem()
	must(t, m.MkdirAll("/d"))
	must(t, m.SyncDir("/"))
	f := writeFile(t, m, "/d/f", []byte("kept"))
	must(t, f.Sync())
	must(t, m.SyncDir("/d"))
	if _, err := f.WriteAt([]byte("lost!"), 0); err != nil {
		t.Fatal(err)
	}
	must(t, m.Remove("/d/f"))
	wantContent(t, m.CrashClone(), "/d/f", "kept")
	must(t, m.SyncDir("/d"))
	if exists(t, m.CrashClone(), "/d/f") {
		t.Fatal("synced remove came back")
	}
	// RemoveAll of an unsynced parent: the tree comes back as it was durable.
	must(t, m.RemoveAll("/d"))
	if !exists(t, m.CrashClone(), "/d") {
		t.Fatal("unsynced RemoveAll survived")
	}
}

func TestCrashSizeChanges(t *testing.T) {
	m := NewMem()
	f := writeFile(t, m, "/f", []byte("0123456789"))
	must(t, f.Sync())
	must(t, m.SyncDir("/"))
	must(t, f.Truncate(3))
	wantContent(t, m.CrashClone(), "/f", "0123456789")
	must(t, f.Datasync())
	wantContent(t, m.CrashClone(), "/f", "012")
	must(t, f.Truncate(5)) // regrowth must read zeros after sync, not old bytes
	must(t, f.Datasync())
	wantContent(t, m.CrashClone(), "/f", "012\x00\x00")
	// Create truncates; unsynced, the old content survives.
	g, err := m.Create("/f", OpenOptions{})
	must(t, err)
	wantContent(t, m.CrashClone(), "/f", "012\x00\x00")
	must(t, g.Sync())
	wantContent(t, m.CrashClone(), "/f", "")
}

// TestCrashRandomOps checks the incremental sync (dirty ranges) against a
// model that copies the whole file at every sync.
func TestCrashRandomOps(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	m := NewMem()
	f := writeFile(t, m, "/f", nil)
	must(t, m.SyncDir("/"))
	var cur, durable []byte
	for i := range 400 {
		switch rng.IntN(4) {
		case 0, 1:
			off := rng.IntN(3 * Alignment)
			p := make([]byte, rng.IntN(300))
			for j := range p {
				p[j] = byte(rng.Uint32())
			}
			if _, err := f.WriteAt(p, int64(off)); err != nil {
				t.Fatal(err)
			}
			if off+len(p) > len(cur) {
				cur = append(cur, make([]byte, off+len(p)-len(cur))...)
			}
			copy(cur[off:], p)
		case 2:
			size := rng.IntN(3 * Alignment)
			must(t, f.Truncate(int64(size)))
			if size < len(cur) {
				cur = cur[:size]
			} else {
				cur = append(cur, make([]byte, size-len(cur))...)
			}
		case 3:
			must(t, f.Datasync())
			durable = bytes.Clone(cur)
		}
		if got := readAll(t, m.CrashClone(), "/f"); !bytes.Equal(got, durable) {
			t.Fatalf("op %d: crash clone has %d bytes, model durable %d (seed %d)", i, len(got), len(durable), seed)
		}
	}
}

func TestCrashCloneIndependent(t *testing.T) {
	m := NewMem()
	f := writeFile(t, m, "/f", []byte("one"))
	must(t, f.Sync())
	must(t, m.SyncDir("/"))
	l, err := m.Lock("/LOCK")
	must(t, err)
	defer l.Close()
	c := m.CrashClone()
	g, err := c.Open("/f", OpenOptions{})
	must(t, err)
	if _, err := g.WriteAt([]byte("TWO"), 0); err != nil {
		t.Fatal(err)
	}
	must(t, g.Sync())
	wantContent(t, m, "/f", "one")
	wantContent(t, c.CrashClone(), "/f", "TWO") // a clone is itself durable and crashable
	l2, err := c.Lock("/LOCK")                  // locks are not carried into the clone
	must(t, err)
	must(t, l2.Close())
}

func TestCrashKeepUnsyncedPages(t *testing.T) {
	const pages = 16
	build := func() *MemFS {
		m := NewMem()
		f := writeFile(t, m, "/f", bytes.Repeat([]byte{1}, 8*Alignment))
		must(t, f.Sync())
		must(t, m.SyncDir("/"))
		if _, err := f.WriteAt(bytes.Repeat([]byte{2}, pages*Alignment), 0); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := build()
	sawSize := map[int]bool{}
	sawPage := map[byte]bool{}
	for seed := range uint64(20) {
		got := readAll(t, m.CrashClone(CrashCloneOptions{KeepUnsyncedPages: rand.New(rand.NewPCG(seed, 1))}), "/f")
		if len(got) != 8*Alignment && len(got) != pages*Alignment {
			t.Fatalf("seed %d: size %d is neither durable nor current", seed, len(got))
		}
		sawSize[len(got)] = true
		for p := 0; p < len(got); p += Alignment {
			page := got[p : p+Alignment]
			if !bytes.Equal(page, bytes.Repeat(page[:1], Alignment)) {
				t.Fatalf("seed %d: page %d is torn inside", seed, p/Alignment)
			}
			old := byte(1)
			if p >= 8*Alignment {
				old = 0 // a hole past the durable size
			}
			if page[0] != old && page[0] != 2 {
				t.Fatalf("seed %d: page %d holds %d", seed, p/Alignment, page[0])
			}
			sawPage[page[0]] = true
		}
		again := readAll(t, build().CrashClone(CrashCloneOptions{KeepUnsyncedPages: rand.New(rand.NewPCG(seed, 1))}), "/f")
		if !bytes.Equal(got, again) {
			t.Fatalf("seed %d: same seed, different clone", seed)
		}
	}
	if len(sawSize) != 2 || !sawPage[0] || !sawPage[1] || !sawPage[2] {
		t.Fatalf("20 seeds never produced some outcome: sizes %v pages %v", sawSize, sawPage)
	}
	// Unsynced entries are never kept, whatever the rng.
	writeFile(t, m, "/new", []byte("x"))
	if exists(t, m.CrashClone(CrashCloneOptions{KeepUnsyncedPages: rand.New(rand.NewPCG(1, 1))}), "/new") {
		t.Fatal("unsynced create kept")
	}
}

func TestMemDirectUnsupported(t *testing.T) {
	m := NewMem()
	m.SetDirectSupported(false)
	if _, err := m.Create("/f", OpenOptions{Direct: true}); !errors.Is(err, ErrDirectUnsupported) {
		t.Fatalf("Direct create: %v, want ErrDirectUnsupported", err)
	}
	if _, err := m.CrashClone().Create("/f", OpenOptions{Direct: true}); !errors.Is(err, ErrDirectUnsupported) {
		t.Fatalf("clone lost the direct setting: %v", err)
	}
	f, err := m.Create("/f", OpenOptions{})
	must(t, err)
	must(t, f.Close())
	if m.DirectOpens() != 0 {
		t.Fatalf("DirectOpens = %d", m.DirectOpens())
	}
	m.SetDirectSupported(true)
	f, err = m.Open("/f", OpenOptions{Direct: true})
	must(t, err)
	must(t, f.Close())
	if m.DirectOpens() != 1 {
		t.Fatalf("DirectOpens = %d, want 1", m.DirectOpens())
	}
}

func TestMemDirectBufferAlignment(t *testing.T) {
	m := NewMem()
	f, err := m.Create("/f", OpenOptions{Direct: true})
	must(t, err)
	buf := AlignedBuffer(2 * Alignment)
	if _, err := f.WriteAt(buf[:Alignment], 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(buf[1:Alignment+1], 0); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("misaligned buffer write: %v, want EINVAL", err)
	}
	if _, err := f.ReadAt(buf[512:512+Alignment], 0); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("512-aligned buffer read: %v, want EINVAL (MemFS demands %d)", err, Alignment)
	}
	if _, err := f.ReadAt(buf[:Alignment], 512); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("512-aligned offset read: %v, want EINVAL", err)
	}
	_, err = f.WriteAt(buf[:100], 0)
	if !DirectRefused(err) || DirectRefused(nil) || DirectRefused(fs.ErrNotExist) {
		t.Fatalf("DirectRefused(%v) = false, or true for nil/ErrNotExist", err)
	}
	if _, err := NewErrorFS(m, FailNth(0).With(ErrDirectUnsupported)).Create("/g", OpenOptions{Direct: true}); !DirectRefused(err) {
		t.Fatalf("DirectRefused(%v) = false", err)
	}
	g, err := m.Open("/f", OpenOptions{}) // buffered handles are not checked
	must(t, err)
	if _, err := g.WriteAt(buf[1:100], 7); err != nil {
		t.Fatal(err)
	}
}
