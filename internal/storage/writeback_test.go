package storage

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/vfs"
)

// wbFS records the StartWriteback calls made on its files.
type wbFS struct {
	vfs.FS
	calls *[]string
}

type wbFile struct {
	vfs.File
	calls *[]string
}

func (f wbFS) Create(name string, o vfs.OpenOptions) (vfs.File, error) {
	file, err := f.FS.Create(name, o)
	if err != nil {
		return nil, err
	}
	return wbFile{file, f.calls}, nil
}

func (f wbFS) Open(name string, o vfs.OpenOptions) (vfs.File, error) {
	file, err := f.FS.Open(name, o)
	if err != nil {
		return nil, err
	}
	return wbFile{file, f.calls}, nil
}

func (f wbFile) StartWriteback(off, n int64) error {
	*f.calls = append(*f.calls, fmt.Sprintf("%s [%d,+%d)", f.Name()[strings.LastIndex(f.Name(), "/")+1:], off, n))
	return f.File.StartWriteback(off, n)
}

// TestStartWriteback: the active segment's bytes go to writeback once at
// least the asked amount is new, each byte once; a roll starts over in the
// new segment; a suffix truncation restarts from the cut.
func TestStartWriteback(t *testing.T) {
	var calls []string
	clk := &testClock{t: time.Unix(1_700_000_000, 0)}
	o := testOpts(clk)
	o.SegmentBytes = 1 << 20
	l := mustOpen(t, wbFS{vfs.NewMem(), &calls}, "/p", o)
	defer l.Close()
	g := newGen()
	size := len(g.data(nil, 1, 1000))
	g = newGen()
	for i := range 3 {
		mustAppend(t, l, g.data(nil, 1, 1000))
		if err := l.StartWriteback(int64(2*size + 1)); err != nil {
			t.Fatal(err)
		}
		if want := i / 2; len(calls) != want {
			t.Fatalf("after %d appends: calls %q", i+1, calls)
		}
	}
	if !strings.HasSuffix(calls[0], fmt.Sprintf("[0,+%d)", 3*size)) {
		t.Fatalf("first writeback %q, want [0,+%d)", calls[0], 3*size)
	}
	// Cut the last entry: the next writeback starts at the cut.
	if err := l.TruncateSuffix(3); err != nil {
		t.Fatal(err)
	}
	g = &gen{idx: 3, term: 2, off: 2, ts: 5000}
	mustAppend(t, l, g.data(nil, 1, 1000))
	if err := l.StartWriteback(1); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || !strings.HasSuffix(calls[1], fmt.Sprintf("[%d,+%d)", 2*size, size)) {
		t.Fatalf("after a truncation: %q", calls)
	}
	// A roll: the new segment starts from 0.
	mustSync(t, l)
	if err := l.roll(clk.now()); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, g.data(nil, 1, 1000))
	if err := l.StartWriteback(1); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 3 || !strings.HasSuffix(calls[2], fmt.Sprintf("[0,+%d)", size)) || strings.Fields(calls[2])[0] == strings.Fields(calls[0])[0] {
		t.Fatalf("after a roll: %q", calls)
	}
}
