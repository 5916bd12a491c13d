package vfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"sync"
	"syscall"
	"testing"
)

// One behavioural suite, run against every implementation (MemFS, OS, and
// ErrorFS wrapping each with an injector that never fires): the same test
// functions, so the implementations cannot drift apart.

// fsMaker returns a fresh FS and an existing, empty directory in it.
type fsMaker func(t *testing.T) (FS, string)

var suite = []struct {
	name string
	fn   func(t *testing.T, fsys FS, dir string)
}{
	{"CreateWriteRead", testCreateWriteRead},
	{"Truncate", testTruncate},
	{"CreateTruncates", testCreateTruncates},
	{"OpenModes", testOpenModes},
	{"Rename", testRename},
	{"Remove", testRemove},
	{"ListSorted", testListSorted},
	{"StatMkdir", testStatMkdir},
	{"Lock", testLock},
	{"Closed", testClosed},
	{"SyncAllocate", testSyncAllocate},
	{"Direct", testDirect},
	{"ConcurrentRead", testConcurrentRead},
}

func runSuite(t *testing.T, mk fsMaker) {
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) {
			fsys, dir := mk(t)
			tc.fn(t, fsys, dir)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeFile creates name with data and returns the open file.
func writeFile(t *testing.T, fsys FS, name string, data []byte) File {
	t.Helper()
	f, err := fsys.Create(name, OpenOptions{})
	must(t, err)
	if n, err := f.WriteAt(data, 0); err != nil || n != len(data) {
		t.Fatalf("WriteAt = %d, %v", n, err)
	}
	return f
}

// readAll reads the whole of name through a fresh read-only handle.
func readAll(t *testing.T, fsys FS, name string) []byte {
	t.Helper()
	f, err := fsys.OpenReadOnly(name)
	must(t, err)
	defer f.Close()
	size, err := f.Size()
	must(t, err)
	buf := make([]byte, size)
	if n, err := f.ReadAt(buf, 0); n != len(buf) || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt = %d, %v", n, err)
	}
	return buf
}

func wantSize(t *testing.T, f File, want int64) {
	t.Helper()
	got, err := f.Size()
	must(t, err)
	if got != want {
		t.Fatalf("%s: Size = %d, want %d", f.Name(), got, want)
	}
}

func testCreateWriteRead(t *testing.T, fsys FS, dir string) {
	name := path.Join(dir, "a")
	f := writeFile(t, fsys, name, []byte("hello"))
	defer f.Close()
	if f.Name() != name {
		t.Fatalf("Name = %q, want %q", f.Name(), name)
	}
	// A write past the end leaves a hole of zeros.
	if _, err := f.WriteAt([]byte("xy"), 8); err != nil {
		t.Fatal(err)
	}
	wantSize(t, f, 10)
	if got, want := readAll(t, fsys, name), []byte("hello\x00\x00\x00xy"); !bytes.Equal(got, want) {
		t.Fatalf("content %q, want %q", got, want)
	}
	buf := make([]byte, 4)
	if n, err := f.ReadAt(buf, 8); n != 2 || err != io.EOF {
		t.Fatalf("ReadAt across end = %d, %v; want 2, EOF", n, err)
	}
	if n, err := f.ReadAt(buf, 10); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt at end = %d, %v; want 0, EOF", n, err)
	}
	if n, err := f.ReadAt(buf, 1); n != 4 || err != nil || string(buf) != "ello" {
		t.Fatalf("ReadAt = %d, %v, %q", n, err, buf)
	}
	st, err := fsys.Stat(name)
	must(t, err)
	if st != (FileInfo{Name: "a", Size: 10}) {
		t.Fatalf("Stat = %+v", st)
	}
}

func testTruncate(t *testing.T, fsys FS, dir string) {
	name := path.Join(dir, "t")
	f := writeFile(t, fsys, name, []byte("0123456789"))
	defer f.Close()
	must(t, f.Truncate(4))
	wantSize(t, f, 4)
	must(t, f.Truncate(8)) // growth reads as zeros, not as the old bytes
	if got := readAll(t, fsys, name); !bytes.Equal(got, []byte("0123\x00\x00\x00\x00")) {
		t.Fatalf("after truncate: %q", got)
	}
}

func testCreateTruncates(t *testing.T, fsys FS, dir string) {
	name := path.Join(dir, "c")
	must(t, writeFile(t, fsys, name, []byte("old content")).Close())
	f, err := fsys.Create(name, OpenOptions{})
	must(t, err)
	defer f.Close()
	wantSize(t, f, 0)
	f2, err := fsys.Open(name, OpenOptions{})
	must(t, err)
	defer f2.Close()
	if _, err := f2.WriteAt([]byte("new"), 0); err != nil {
		t.Fatal(err)
	}
	wantSize(t, f, 3) // both handles see one file
}

func testOpenModes(t *testing.T, fsys FS, dir string) {
	name := path.Join(dir, "o")
	if _, err := fsys.Open(name, OpenOptions{}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open missing: %v, want ErrNotExist", err)
	}
	if _, err := fsys.OpenReadOnly(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenReadOnly missing: %v, want ErrNotExist", err)
	}
	if _, err := fsys.Create(path.Join(dir, "nodir", "x"), OpenOptions{}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Create in missing dir: %v, want ErrNotExist", err)
	}
	must(t, writeFile(t, fsys, name, []byte("abc")).Close())
	r, err := fsys.OpenReadOnly(name)
	must(t, err)
	defer r.Close()
	if _, err := r.WriteAt([]byte("z"), 0); err == nil {
		t.Fatal("WriteAt on a read-only file succeeded")
	}
	if _, err := fsys.Open(dir, OpenOptions{}); err == nil {
		t.Fatal("Open of a directory for writing succeeded")
	}
	if got := readAll(t, fsys, name); string(got) != "abc" {
		t.Fatalf("content %q", got)
	}
}

func testRename(t *testing.T, fsys FS, dir string) {
	a, b := path.Join(dir, "a"), path.Join(dir, "b")
	must(t, writeFile(t, fsys, a, []byte("A")).Close())
	must(t, writeFile(t, fsys, b, []byte("BB")).Close())
	must(t, fsys.Rename(a, b)) // replaces b atomically
	if _, err := fsys.Stat(a); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old name after rename: %v", err)
	}
	if got := readAll(t, fsys, b); string(got) != "A" {
		t.Fatalf("renamed content %q", got)
	}
	if err := fsys.Rename(a, b); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Rename missing: %v, want ErrNotExist", err)
	}
	// Across directories.
	sub := path.Join(dir, "sub")
	must(t, fsys.MkdirAll(sub))
	must(t, fsys.Rename(b, path.Join(sub, "c")))
	if got := readAll(t, fsys, path.Join(sub, "c")); string(got) != "A" {
		t.Fatalf("moved content %q", got)
	}
	must(t, fsys.MkdirAll(path.Join(sub, "x")))
	if err := fsys.Rename(sub, path.Join(sub, "x", "sub")); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Rename of a directory into itself: %v, want EINVAL", err)
	}
	must(t, fsys.Rename(path.Join(sub, "x"), path.Join(dir, "x"))) // directories move too
	if st, err := fsys.Stat(path.Join(dir, "x")); err != nil || !st.IsDir {
		t.Fatalf("moved directory: %+v, %v", st, err)
	}
}

func testRemove(t *testing.T, fsys FS, dir string) {
	a := path.Join(dir, "a")
	must(t, writeFile(t, fsys, a, []byte("x")).Close())
	must(t, fsys.Remove(a))
	if err := fsys.Remove(a); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Remove missing: %v, want ErrNotExist", err)
	}
	tree := path.Join(dir, "tree")
	must(t, fsys.MkdirAll(path.Join(tree, "x", "y")))
	must(t, writeFile(t, fsys, path.Join(tree, "x", "f"), []byte("f")).Close())
	if err := fsys.Remove(tree); err == nil {
		t.Fatal("Remove of a non-empty directory succeeded")
	}
	must(t, fsys.Remove(path.Join(tree, "x", "y"))) // empty directory
	must(t, fsys.RemoveAll(tree))
	must(t, fsys.RemoveAll(tree)) // absent is fine
	if _, err := fsys.Stat(tree); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("tree after RemoveAll: %v", err)
	}
}

func testListSorted(t *testing.T, fsys FS, dir string) {
	for _, n := range []string{"c", "a", "b10", "b2"} {
		must(t, writeFile(t, fsys, path.Join(dir, n), nil).Close())
	}
	must(t, fsys.MkdirAll(path.Join(dir, "d")))
	got, err := fsys.List(dir)
	must(t, err)
	if want := []string{"a", "b10", "b2", "c", "d"}; !slices.Equal(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
	if _, err := fsys.List(path.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("List missing: %v, want ErrNotExist", err)
	}
	if _, err := fsys.List(path.Join(dir, "a")); err == nil {
		t.Fatal("List of a file succeeded")
	}
}

func testStatMkdir(t *testing.T, fsys FS, dir string) {
	if _, err := fsys.Stat(path.Join(dir, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat missing: %v, want ErrNotExist", err)
	}
	deep := path.Join(dir, "x", "y", "z")
	must(t, fsys.MkdirAll(deep))
	must(t, fsys.MkdirAll(deep)) // idempotent
	st, err := fsys.Stat(deep)
	must(t, err)
	if !st.IsDir || st.Name != "z" {
		t.Fatalf("Stat dir = %+v", st)
	}
	file := path.Join(dir, "file")
	must(t, writeFile(t, fsys, file, []byte("1")).Close())
	if err := fsys.MkdirAll(path.Join(file, "sub")); err == nil {
		t.Fatal("MkdirAll under a file succeeded")
	}
}

func testLock(t *testing.T, fsys FS, dir string) {
	name := path.Join(dir, "LOCK")
	l, err := fsys.Lock(name)
	must(t, err)
	if _, err := fsys.Stat(name); err != nil {
		t.Fatalf("Lock did not create its file: %v", err)
	}
	if l2, err := fsys.Lock(name); !errors.Is(err, ErrLocked) {
		if l2 != nil {
			l2.Close()
		}
		t.Fatalf("second Lock: %v, want ErrLocked", err)
	}
	must(t, l.Close())
	l3, err := fsys.Lock(name)
	must(t, err)
	must(t, l3.Close())
}

func testClosed(t *testing.T, fsys FS, dir string) {
	f := writeFile(t, fsys, path.Join(dir, "f"), []byte("x"))
	must(t, f.Close())
	if _, err := f.ReadAt(make([]byte, 1), 0); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("ReadAt after Close: %v, want ErrClosed", err)
	}
	if _, err := f.WriteAt([]byte("y"), 0); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("WriteAt after Close: %v, want ErrClosed", err)
	}
	if err := f.Close(); err == nil {
		t.Fatal("second Close succeeded")
	}
}

func testSyncAllocate(t *testing.T, fsys FS, dir string) {
	f := writeFile(t, fsys, path.Join(dir, "s"), []byte("data"))
	defer f.Close()
	must(t, f.Allocate(0, 1<<20))
	wantSize(t, f, 4) // KEEP_SIZE
	must(t, f.Datasync())
	must(t, f.Sync())
	must(t, fsys.SyncDir(dir))
	if err := fsys.SyncDir(path.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("SyncDir missing: %v, want ErrNotExist", err)
	}
}

func testDirect(t *testing.T, fsys FS, dir string) {
	name := path.Join(dir, "d")
	f, err := fsys.Create(name, OpenOptions{Direct: true})
	if errors.Is(err, ErrDirectUnsupported) {
		t.Skipf("direct I/O unsupported here: %v", err)
	}
	must(t, err)
	defer f.Close()
	buf := AlignedBuffer(2 * Alignment)
	for i := range buf {
		buf[i] = byte(i % 251)
	}
	if n, err := f.WriteAt(buf, Alignment); err != nil || n != len(buf) {
		t.Fatalf("aligned WriteAt = %d, %v", n, err)
	}
	must(t, f.Datasync())
	got := AlignedBuffer(2 * Alignment)
	if n, err := f.ReadAt(got, Alignment); n != len(got) || (err != nil && err != io.EOF) {
		t.Fatalf("aligned ReadAt = %d, %v", n, err)
	}
	if !bytes.Equal(got, buf) {
		t.Fatal("direct read differs from direct write")
	}
	// Misaligned offset and length are refused (EINVAL). A misaligned buffer
	// address is refused by MemFS (TestMemDirectBufferAlignment) but not by
	// every kernel and device, so it is not part of the shared contract.
	if _, err := f.WriteAt(buf, 100); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("misaligned offset: %v, want EINVAL", err)
	}
	if _, err := f.WriteAt(buf[:100], 0); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("misaligned length: %v, want EINVAL", err)
	}
	wantSize(t, f, 3*Alignment)
}

func testConcurrentRead(t *testing.T, fsys FS, dir string) {
	name := path.Join(dir, "c")
	w := writeFile(t, fsys, name, make([]byte, 4096))
	defer w.Close()
	r, err := fsys.OpenReadOnly(name)
	must(t, err)
	defer r.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 64)
		for i := range 200 {
			if _, err := r.ReadAt(buf, int64(i%64)*64); err != nil && err != io.EOF {
				t.Error(err)
				return
			}
		}
	}()
	chunk := bytes.Repeat([]byte{7}, 64)
	for i := range 200 {
		if _, err := w.WriteAt(chunk, 4096+int64(i)*64); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	wantSize(t, w, 4096+200*64)
}
