package storage

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/vfs"
)

// lockedBuffer collects log output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) count(s string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Count(w.b.String(), s)
}

// directWorkload appends, rolls, truncates, reopens a direct-I/O log and
// checks every read against what was appended.
func directWorkload(t *testing.T, fsys vfs.FS, o Options) {
	t.Helper()
	l := mustOpen(t, fsys, "/d", o)
	g := newGen()
	var all []byte
	for i := 0; i < 50; i++ {
		b := g.data(nil, 1+i%3, 1+i*61%900) // sizes not multiples of a page
		mustAppend(t, l, b)
		all = append(all, b...)
		if i%4 == 0 {
			mustSync(t, l)
		}
	}
	if got := entriesOf(t, l); !bytes.Equal(got, all) {
		t.Fatal("entries differ")
	}
	if err := l.TruncateSuffix(45); err != nil {
		t.Fatal(err)
	}
	all = prefixEntries(all, 44)
	g.idx, g.off, g.term = 45, l.NextOffset(), 3
	for i := 0; i < 5; i++ {
		b := g.data(nil, 2, 123)
		mustAppend(t, l, b)
		all = append(all, b...)
	}
	if got := entriesOf(t, l); !bytes.Equal(got, all) {
		t.Fatal("entries differ after truncate and append")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, fsys, "/d", o)
	if got := entriesOf(t, l); !bytes.Equal(got, all) {
		t.Fatalf("entries differ after reopen: %s", describe(l))
	}
	b := g.data(nil, 1, 10)
	mustAppend(t, l, b)
	all = append(all, b...)
	mustSync(t, l)
	if got := entriesOf(t, l); !bytes.Equal(got, all) {
		t.Fatal("entries differ after reopen and append")
	}
	l.Close()
}

func TestDirectIO(t *testing.T) {
	mem := vfs.NewMem() // checks alignment of direct writes
	clk := &testClock{t: time.Unix(1000, 0)}
	o := testOpts(clk)
	o.Direct = true
	directWorkload(t, mem, o)
	if mem.DirectOpens() == 0 {
		t.Fatal("no direct open")
	}
}

func TestDirectIOOnOS(t *testing.T) {
	clk := &testClock{t: time.Unix(1000, 0)}
	var logs lockedBuffer
	o := testOpts(clk)
	o.Direct = true
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	dir := t.TempDir()
	fsys := vfs.NewOS()
	l := mustOpen(t, fsys, dir+"/d", o)
	g := newGen()
	var all []byte
	for i := 0; i < 30; i++ {
		b := g.data(nil, 1, 1+i*97%1500)
		mustAppend(t, l, b)
		all = append(all, b...)
	}
	mustSync(t, l)
	if got := entriesOf(t, l); !bytes.Equal(got, all) {
		t.Fatal("entries differ")
	}
	t.Logf("direct on %s: fell back %v", dir, logs.count("direct I/O refused") > 0)
	l.Close()
}

func TestDirectFallback(t *testing.T) {
	clk := &testClock{t: time.Unix(1000, 0)}
	cases := map[string]func() vfs.FS{
		"unsupported": func() vfs.FS {
			m := vfs.NewMem()
			m.SetDirectSupported(false)
			return m
		},
		"EINVAL on create": func() vfs.FS {
			return vfs.NewErrorFS(vfs.NewMem(), vfs.FailNth(0, vfs.OpCreate).Errno(syscall.EINVAL).Paths("", logSuffix))
		},
		"EINVAL on write": func() vfs.FS {
			return vfs.NewErrorFS(vfs.NewMem(), vfs.FailNth(0, vfs.OpWrite).Errno(syscall.EINVAL).Paths("", logSuffix))
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			var logs lockedBuffer
			o := testOpts(clk)
			o.Direct = true
			o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			directWorkload(t, mk(), o)
			if n := logs.count("direct I/O refused"); n != 1 {
				t.Fatalf("%d fallback log lines, want 1:\n%s", n, logs.b.String())
			}
		})
	}
}
