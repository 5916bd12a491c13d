package engine

import (
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/storage"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// TestRetain deletes whole closed segments by size, never past the limit,
// once a round has made the new start durable, and the shorter log (its
// start index and offset) survives a crash and reopen.
func TestRetain(t *testing.T) {
	mem := vfs.NewMem()
	opts := crashOptions(mem)
	e, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	k := key(7)
	var buf []byte
	for i := model.Index(1); i <= 60; i++ {
		buf = dataEntry(buf[:0], i, 1, model.Offset(i-1), 1, 4000, byte(i))
		if err := e.Append(k, buf); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if _, err := e.Round(); err != nil {
				t.Fatal(err)
			}
		}
	}
	lg, _ := e.Partition(k)
	segs := lg.Segments()
	if segs < 3 {
		t.Fatalf("want several segments to retain from, have %d", segs)
	}
	if n, err := e.Retain(k, storage.RetentionPolicy{Bytes: 1, Age: -1}, 5); err != nil || n != 0 {
		t.Fatalf("retain below the first segment's end removed %d (%v): the limit was ignored", n, err)
	}
	n, err := e.Retain(k, storage.RetentionPolicy{Bytes: 70 << 10, Age: -1}, 60)
	if err != nil || n == 0 {
		t.Fatalf("retain by bytes removed %d segments: %v", n, err)
	}
	// The segments go once a round has made the new start durable.
	if lg.FirstIndex() != 1 || lg.Segments() != segs {
		t.Fatalf("before the round: first %d segments %d, want 1 and %d", lg.FirstIndex(), lg.Segments(), segs)
	}
	if res, err := e.Round(); err != nil || len(res.Started) != 1 || res.Started[0] != k {
		t.Fatalf("the round moving the start reports started %v (%v)", res.Started, err)
	}
	first := lg.FirstIndex()
	if first <= 1 || lg.LastIndex() != 60 || lg.Segments() != segs-n {
		t.Fatalf("after retention: first %d last %d segments %d (had %d, removed %d)", first, lg.LastIndex(), lg.Segments(), segs, n)
	}
	opts.FS = mem.CrashClone()
	e2, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	lg2, _ := e2.Partition(k)
	if lg2.LastIndex() != 60 || lg2.FirstIndex() != first || lg2.StartOffset() != lg.StartOffset() {
		t.Fatalf("reopened: first %d (offset %d) last %d, want first %d (offset %d) and last 60",
			lg2.FirstIndex(), lg2.StartOffset(), lg2.LastIndex(), first, lg.StartOffset())
	}
	if _, err := readAll(lg2, lg2.FirstIndex()); err != nil {
		t.Fatal(err)
	}
}
