package storage

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

func TestTruncateSuffix(t *testing.T) {
	forEachFS(t, func(t *testing.T, c fsCase) {
		clk := &testClock{t: time.Unix(1000, 0)}
		for _, from := range []model.Index{60, 45, 30, 17, 2, 1} {
			dir := c.dir + "/" + segmentName(from)
			l := mustOpen(t, c.fs, dir, testOpts(clk))
			g := newGen()
			var all []byte
			for i := 0; i < 59; i++ {
				b := g.data(nil, 2, 100+i%5*40)
				mustAppend(t, l, b)
				all = append(all, b...)
			}
			mustSync(t, l)
			segsBefore := l.Segments()
			if err := l.TruncateSuffix(from); err != nil {
				t.Fatalf("truncate %d: %v", from, err)
			}
			if l.LastIndex() != from-1 || l.DurableIndex() > from-1 {
				t.Fatalf("truncate %d: %s", from, describe(l))
			}
			want := prefixEntries(all, min(int(from-1), 59))
			if got := entriesOf(t, l); !bytes.Equal(got, want) {
				t.Fatalf("truncate %d: entries differ", from)
			}
			if from < 30 && l.Segments() >= segsBefore {
				t.Fatalf("truncate %d: %d segments, had %d", from, l.Segments(), segsBefore)
			}
			// Diverge: append different entries at the same indexes, new term.
			g2 := newGen()
			for i := model.Index(1); i < from; i++ {
				g2.data(nil, 2, 0) // advance to the truncation point
			}
			g2.idx, g2.off, g2.term = from, l.NextOffset(), 5
			for i := 0; i < 20; i++ {
				b := g2.data(nil, 1, 333)
				mustAppend(t, l, b)
				want = append(want, b...)
			}
			mustSync(t, l)
			if got := entriesOf(t, l); !bytes.Equal(got, want) {
				t.Fatalf("truncate %d then append: entries differ", from)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, c.fs, dir, testOpts(clk))
			if got := entriesOf(t, l); !bytes.Equal(got, want) {
				t.Fatalf("truncate %d, reopen: %s", from, describe(l))
			}
			l.Close()
		}
	})
}

func TestTruncatePrefixAndRetain(t *testing.T) {
	forEachFS(t, func(t *testing.T, c fsCase) {
		clk := &testClock{t: time.Unix(1000, 0)}
		l := mustOpen(t, c.fs, c.dir, testOpts(clk))
		g := newGen()
		var all []byte
		for i := 0; i < 80; i++ {
			b := g.data(nil, 1, 200)
			mustAppend(t, l, b)
			all = append(all, b...)
		}
		mustSync(t, l)
		nseg := l.Segments()
		if err := l.TruncatePrefix(3); err != nil {
			t.Fatal(err)
		}
		if l.FirstIndex() != 3 || l.StartOffset() != 2 || l.Segments() != nseg {
			t.Fatalf("prefix 3: %s", describe(l))
		}
		if _, err := l.ReadBatches(1, 100, 80, nil); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("read below start: %v", err)
		}
		second := l.segs[1].base
		if err := l.TruncatePrefix(second + 1); err != nil {
			t.Fatal(err)
		}
		if l.Segments() != nseg-1 || l.FirstIndex() != second+1 {
			t.Fatalf("prefix into 2nd segment: %s", describe(l))
		}
		if err := l.TruncatePrefix(200); !errors.Is(err, ErrIndexOutOfRange) {
			t.Fatalf("prefix past end: %v", err)
		}
		mustSync(t, l)
		l.Close()
		o := testOpts(clk)
		o.StartIndex = second + 1
		l = mustOpen(t, c.fs, c.dir, o)
		if l.FirstIndex() != second+1 || l.StartOffset() != model.Offset(second) {
			t.Fatalf("reopen with start: %s", describe(l))
		}
		// Retention by bytes, capped by the committed limit.
		if n, err := l.Retain(RetentionPolicy{Bytes: 1}, second+2); err != nil || n != 0 {
			t.Fatalf("retain below limit: %d %v", n, err)
		}
		n, err := l.Retain(RetentionPolicy{Bytes: 9000}, l.LastIndex())
		if err != nil || n == 0 {
			t.Fatalf("retain bytes: %d %v", n, err)
		}
		if l.FirstIndex() != l.segs[0].base && (len(l.segs) > 0) {
			t.Fatalf("start after retain: %s", describe(l))
		}
		got := readAll(t, l, l.StartOffset(), l.NextOffset(), 1000)
		if want := batchesOf(t, all, l.StartOffset()); !bytes.Equal(got, want) {
			t.Fatalf("after retain: reads differ")
		}
		// Retention by time: every closed segment's newest batch is old.
		clk.advance(time.Hour)
		if n, err := l.Retain(RetentionPolicy{Age: time.Minute}, l.LastIndex()); err != nil || l.Segments() != 1 || n == 0 {
			t.Fatalf("retain age: %d %v %s", n, err, describe(l))
		}
		if l.FirstIndex() != l.act.base {
			t.Fatalf("retain age: %s", describe(l))
		}
		l.Close()
	})
}

func TestSegmentAgeRoll(t *testing.T) {
	clk := &testClock{t: time.Unix(1000, 0)}
	c := fsCases(t)[0]
	o := testOpts(clk)
	o.SegmentBytes = 1 << 20
	o.SegmentAge = time.Minute
	l := mustOpen(t, c.fs, c.dir, o)
	defer l.Close()
	g := newGen()
	mustAppend(t, l, g.data(nil, 1, 10))
	clk.advance(59 * time.Second)
	mustAppend(t, l, g.data(nil, 1, 10))
	if l.Segments() != 1 {
		t.Fatalf("rolled early: %s", describe(l))
	}
	clk.advance(time.Second)
	mustAppend(t, l, g.data(nil, 1, 10))
	if l.Segments() != 2 || l.act.base != 3 {
		t.Fatalf("no age roll: %s", describe(l))
	}
}

func TestOffsetForTimestamp(t *testing.T) {
	forEachFS(t, func(t *testing.T, c fsCase) {
		clk := &testClock{t: time.Unix(1000, 0)}
		l := mustOpen(t, c.fs, c.dir, testOpts(clk))
		defer l.Close()
		g := newGen() // entry i has max timestamp 1000+10i, offsets 3(i-1)..
		for i := 0; i < 60; i++ {
			mustAppend(t, l, g.data(nil, 3, 150))
		}
		for _, tc := range []struct {
			ts   int64
			want model.Offset
			ok   bool
		}{{0, 0, true}, {1010, 0, true}, {1011, 3, true}, {1300, 87, true}, {1600, 177, true}, {1601, 0, false}} {
			o, ok, err := l.OffsetForTimestamp(tc.ts)
			if err != nil || ok != tc.ok || (ok && o != tc.want) {
				t.Errorf("OffsetForTimestamp(%d) = %d %v %v, want %d %v", tc.ts, o, ok, err, tc.want, tc.ok)
			}
		}
	})
}
