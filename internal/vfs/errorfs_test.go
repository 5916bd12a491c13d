package vfs

import (
	"errors"
	"io/fs"
	"sync"
	"syscall"
	"testing"
)

// never is an injector that counts but never fires within a test's reach.
func never() *Nth { return FailNth(1 << 40) }

func TestErrorFSPassThroughMem(t *testing.T) {
	runSuite(t, func(t *testing.T) (FS, string) {
		m, dir := newMemDir(t)
		return NewErrorFS(m, never()), dir
	})
}

func TestErrorFSPassThroughOS(t *testing.T) {
	runSuite(t, func(t *testing.T) (FS, string) {
		o, dir := newOSDir(t)
		return NewErrorFS(o, never()), dir
	})
}

func TestNthFailsOneOp(t *testing.T) {
	m := NewMem()
	inj := FailNth(1, OpWrite)
	e := NewErrorFS(m, inj)
	f, err := e.Create("/f", OpenOptions{})
	must(t, err)
	if _, err := f.WriteAt([]byte("a"), 0); err != nil {
		t.Fatalf("write 0: %v", err)
	}
	if _, err := f.ReadAt(make([]byte, 1), 0); err != nil { // not a write: not counted
		t.Fatalf("read: %v", err)
	}
	_, err = f.WriteAt([]byte("b"), 1)
	var ie *InjectedError
	if !errors.Is(err, ErrInjected) || !errors.Is(err, syscall.EIO) || !errors.As(err, &ie) {
		t.Fatalf("write 1: %v, want injected EIO", err)
	}
	if ie.Op != (Op{Kind: OpWrite, Path: "/f", Off: 1, Len: 1}) {
		t.Fatalf("injected op %+v", ie.Op)
	}
	if _, err := f.WriteAt([]byte("c"), 2); err != nil {
		t.Fatalf("write 2 (not sticky): %v", err)
	}
	// The failed write was not performed.
	wantContent(t, m, "/f", "a\x00c")
	if inj.Count() != 3 || !inj.Fired() {
		t.Fatalf("Count %d Fired %v, want 3 true", inj.Count(), inj.Fired())
	}
}

func TestNthSticky(t *testing.T) {
	inj := FailNth(1, OpSync, OpSyncDir).Sticky().Errno(syscall.ENOSPC)
	e := NewErrorFS(NewMem(), inj)
	f, err := e.Create("/f", OpenOptions{})
	must(t, err)
	must(t, f.Sync())
	for i := range 3 {
		var err error
		if i == 1 {
			err = e.SyncDir("/")
		} else {
			err = f.Datasync()
		}
		if !errors.Is(err, ErrInjected) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("sync %d after the failure: %v, want injected ENOSPC", i, err)
		}
	}
	if inj.Count() != 4 {
		t.Fatalf("Count = %d, want 4", inj.Count())
	}
}

func TestNthWithError(t *testing.T) {
	inj := FailNth(0, OpCreate).With(ErrDirectUnsupported)
	e := NewErrorFS(NewMem(), inj)
	if _, err := e.Create("/f", OpenOptions{Direct: true}); !errors.Is(err, ErrDirectUnsupported) || !errors.Is(err, ErrInjected) {
		t.Fatalf("Create: %v", err)
	}
	if _, err := e.Stat("/f"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a failed Create made the file: %v", err)
	}
	notExist := FailNth(0, OpStat).Errno(syscall.ENOENT)
	if _, err := NewErrorFS(NewMem(), notExist).Stat("/"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("injected ENOENT: %v, want fs.ErrNotExist", err)
	}
}

func TestNthAllKindsAndPaths(t *testing.T) {
	m := NewMem()
	must(t, m.MkdirAll("/d"))
	all := FailNth(1 << 40)
	logs := FailNth(1<<40).Paths("/d/", ".log")
	counted := func(inj *Nth) FS { return NewErrorFS(m, inj) }
	for _, e := range []FS{counted(all), counted(logs)} {
		f, err := e.Create("/d/1.log", OpenOptions{}) // create: both
		must(t, err)
		if _, err := f.WriteAt([]byte("x"), 0); err != nil { // write: both
			t.Fatal(err)
		}
		must(t, f.Close())                                                   // close: both
		must(t, e.Rename("/d/1.log", "/d/1.old"))                            // rename: both (old name matches)
		must(t, e.Rename("/d/1.old", "/d/2.log"))                            // rename: both (new name matches)
		must(t, e.SyncDir("/d"))                                             // all only
		if _, err := e.Stat("/d/2.index"); !errors.Is(err, fs.ErrNotExist) { // all only
			t.Fatal(err)
		}
		must(t, e.Remove("/d/2.log")) // remove: both
	}
	if all.Count() != 8 || logs.Count() != 6 {
		t.Fatalf("Count: all %d (want 8), filtered %d (want 6)", all.Count(), logs.Count())
	}
	// The filter decides what fails, too.
	inj := FailNth(0).Paths("", ".index")
	e := NewErrorFS(m, inj)
	must(t, e.MkdirAll("/d/x"))
	if _, err := e.Create("/d/9.index", OpenOptions{}); !errors.Is(err, ErrInjected) {
		t.Fatalf("filtered create: %v", err)
	}
}

func TestErrorFSCloseStillCloses(t *testing.T) {
	m := NewMem()
	inj := FailNth(0, OpClose)
	e := NewErrorFS(m, inj)
	l, err := e.Lock("/LOCK")
	must(t, err)
	if err := l.Close(); !errors.Is(err, ErrInjected) {
		t.Fatalf("Close: %v, want injected", err)
	}
	l2, err := m.Lock("/LOCK") // released despite the error
	must(t, err)
	must(t, l2.Close())
}

func TestNthConcurrent(t *testing.T) {
	inj := FailNth(50, OpRead)
	e := NewErrorFS(NewMem(), inj)
	f, err := e.Create("/f", OpenOptions{})
	must(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if _, err := f.ReadAt(make([]byte, 1), 0); errors.Is(err, ErrInjected) {
					mu.Lock()
					failures++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if failures != 1 || inj.Count() != 200 {
		t.Fatalf("failures %d count %d, want 1 and 200", failures, inj.Count())
	}
}

// atomicReplace is the write-tmp-sync-rename-syncdir pattern kv.Save uses.
func atomicReplace(fsys FS, name string, data []byte) error {
	f, err := fsys.Create(name+".tmp", OpenOptions{})
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fsys.Rename(name+".tmp", name); err != nil {
		return err
	}
	return fsys.SyncDir("/")
}

// TestFailEveryStep is the loop STYLE 13 asks of every storage operation:
// fail operation 0, 1, 2, … until one run goes through, crash after each,
// and check the result is the old or the new content, never anything else.
func TestFailEveryStep(t *testing.T) {
	steps := 0
	for n := 0; n < 100; n++ {
		m := NewMem()
		must(t, atomicReplace(m, "/kv", []byte("old")))
		inj := FailNth(n)
		err := atomicReplace(NewErrorFS(m, inj), "/kv", []byte("new"))
		if !inj.Fired() {
			must(t, err)
			steps = n
			break
		}
		if !errors.Is(err, ErrInjected) {
			t.Fatalf("step %d: %v, want injected", n, err)
		}
		if got := string(readAll(t, m.CrashClone(), "/kv")); got != "old" && got != "new" {
			t.Fatalf("step %d: after crash %q", n, got)
		}
	}
	if steps != 6 { // create, write, sync, close, rename, syncdir
		t.Fatalf("the loop ended after %d steps, want 6", steps)
	}
}

func TestOpKindString(t *testing.T) {
	if OpSyncDir.String() != "syncdir" || OpClose.String() != "close" || OpKind(99).String() != "OpKind(99)" {
		t.Fatal(OpSyncDir, OpClose, OpKind(99))
	}
}
