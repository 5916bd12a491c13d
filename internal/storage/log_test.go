package storage

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

func TestLogAppendReadReopen(t *testing.T) {
	forEachFS(t, func(t *testing.T, c fsCase) {
		clk := &testClock{t: time.Unix(1000, 0)}
		l := mustOpen(t, c.fs, c.dir, testOpts(clk))
		g := newGen()
		var all []byte
		for i := 0; i < 60; i++ {
			var b []byte
			if i%7 == 3 {
				b = g.internal(b, 10)
			} else {
				b = g.data(b, 1+i%4, 50+i*13%200)
			}
			if i%5 == 0 {
				g.term++
			}
			mustAppend(t, l, b)
			all = append(all, b...)
			if i%9 == 0 {
				mustSync(t, l)
			}
		}
		if l.LastIndex() != g.idx-1 || l.NextOffset() != g.off {
			t.Fatalf("bounds: %s, want last %d next %d", describe(l), g.idx-1, g.off)
		}
		if l.Segments() < 3 {
			t.Fatalf("expected rolls with 4 KiB segments: %s", describe(l))
		}
		check := func(l *Log) {
			t.Helper()
			got := readAll(t, l, 0, l.NextOffset(), 300)
			if want := batchesOf(t, all, 0); !bytes.Equal(got, want) {
				t.Fatalf("batches differ: got %d bytes, want %d", len(got), len(want))
			}
			ents, err := l.Entries(1, l.LastIndex()+1, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			var re []byte
			for _, e := range ents {
				re = AppendEntry(re, e.EntryHeader, e.Payload)
			}
			if !bytes.Equal(re, all) {
				t.Fatalf("entries differ")
			}
			for i := l.FirstIndex(); i <= l.LastIndex(); i++ {
				tm, err := l.Term(i)
				if err != nil || tm != ents[i-1].Term {
					t.Fatalf("term(%d) = %d, %v; want %d", i, tm, err, ents[i-1].Term)
				}
			}
			for _, e := range ents {
				if e.Type != EntryData {
					continue
				}
				for o := e.Offset; o < e.NextOffset(); o++ {
					if i, err := l.IndexForOffset(o); err != nil || i != e.Index {
						t.Fatalf("IndexForOffset(%d) = %d, %v; want %d", o, i, err, e.Index)
					}
				}
			}
		}
		check(l)
		mustSync(t, l)
		if l.DurableIndex() != l.LastIndex() {
			t.Fatalf("durable %d", l.DurableIndex())
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l2 := mustOpen(t, c.fs, c.dir, testOpts(clk))
		defer l2.Close()
		if l2.LastIndex() != g.idx-1 || l2.NextOffset() != g.off || l2.LastTerm() != g.term-0 && l2.LastTerm() != g.term {
			t.Fatalf("reopened: %s", describe(l2))
		}
		check(l2)
		// Continue appending after reopen.
		b := g.data(nil, 3, 100)
		mustAppend(t, l2, b)
		all = append(all, b...)
		check(l2)
	})
}

func TestAppendValidates(t *testing.T) {
	clk := &testClock{t: time.Unix(1000, 0)}
	c := fsCases(t)[0]
	l := mustOpen(t, c.fs, c.dir, testOpts(clk))
	defer l.Close()
	g := newGen()
	mustAppend(t, l, g.data(nil, 2, 10))
	good := *g
	cases := map[string]func() []byte{
		"gap":       func() []byte { g2 := good; g2.idx++; return g2.data(nil, 1, 1) },
		"offset":    func() []byte { g2 := good; g2.off++; return g2.data(nil, 1, 1) },
		"term down": func() []byte { g2 := good; g2.term = 0; return g2.data(nil, 1, 1) },
		"crc":       func() []byte { g2 := good; b := g2.data(nil, 1, 10); b[45] ^= 1; return b },
		"count": func() []byte {
			g2 := good
			return AppendEntry(nil, EntryHeader{Index: g2.idx, Term: g2.term, Offset: g2.off, Type: EntryData, Count: 5}, makeBatch(g2.off, 2, 1, 0, 0))
		},
		"second bad": func() []byte { g2 := good; b := g2.data(nil, 1, 1); g2.idx++; return g2.data(b, 1, 1) },
	}
	for name, mk := range cases {
		if err := l.Append(mk()); err == nil {
			t.Errorf("%s: append accepted", name)
		}
	}
	if l.LastIndex() != 1 || l.Err() != nil {
		t.Fatalf("after rejected appends: %s err %v", describe(l), l.Err())
	}
	mustAppend(t, l, g.data(nil, 1, 1))
	if _, err := l.ReadBatches(100, 10, 200, nil); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read past end: %v", err)
	}
	if b, err := l.ReadBatches(3, 10, 3, nil); err != nil || len(b) != 0 {
		t.Fatalf("read at end: %d %v", len(b), err)
	}
	if _, err := l.Entries(0, 2, 100); !errors.Is(err, ErrIndexOutOfRange) {
		t.Fatalf("entries below first: %v", err)
	}
}

func TestReadBatchesBounds(t *testing.T) {
	clk := &testClock{t: time.Unix(1000, 0)}
	forEachFS(t, func(t *testing.T, c fsCase) {
		o := testOpts(clk)
		o.SegmentBytes = 1 << 20
		l := mustOpen(t, c.fs, c.dir, o)
		defer l.Close()
		g := newGen()
		for i := 0; i < 10; i++ {
			mustAppend(t, l, g.data(nil, 10, 200)) // offsets [10i, 10i+10)
		}
		batchAt := func(b []byte) []model.Offset {
			var offs []model.Offset
			for len(b) > 0 {
				bt, r, err := model.ParseBatch(b)
				if err != nil {
					t.Fatal(err)
				}
				offs = append(offs, bt.BaseOffset())
				b = r
			}
			return offs
		}
		for _, tc := range []struct {
			from model.Offset
			max  int
			upTo model.Offset
			want []model.Offset
		}{
			{0, 1, 100, []model.Offset{0}},         // at least one batch
			{5, 1, 100, []model.Offset{0}},         // batch holding from
			{15, 600, 100, []model.Offset{10, 20}}, // whole batches within max
			{15, 10000, 35, []model.Offset{10, 20, 30}},
			{15, 10000, 30, []model.Offset{10, 20}}, // base < upTo
			{30, 10000, 30, nil},
			{95, 1, 100, []model.Offset{90}},
		} {
			b, err := l.ReadBatches(tc.from, tc.max, tc.upTo, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := batchAt(b); !equalOffsets(got, tc.want) {
				t.Errorf("ReadBatches(%d, %d, %d) = %v, want %v", tc.from, tc.max, tc.upTo, got, tc.want)
			}
		}
	})
}

func equalOffsets(a, b []model.Offset) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
