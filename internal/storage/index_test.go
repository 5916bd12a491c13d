package storage

import (
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
)

func testPoints() []indexPoint {
	return []indexPoint{
		{index: 10, offset: 100, pos: 0, maxTs: -1},
		{index: 20, offset: 150, pos: 4100, maxTs: 500},
		{index: 31, offset: 150, pos: 8300, maxTs: 500},
		{index: 40, offset: 190, pos: 12400, maxTs: 900},
	}
}

func encodePoints(pts []indexPoint) []byte {
	var b []byte
	for _, p := range pts {
		b = p.appendTo(b)
	}
	return b
}

func TestIndexParse(t *testing.T) {
	pts := testPoints()
	b := encodePoints(pts)
	if got := parseIndex(b, 10, 20000); len(got) != 4 || got[3] != pts[3] {
		t.Fatalf("parse: %v", got)
	}
	if got := parseIndex(b, 10, 12400+EntryHeaderSize-1); len(got) != 3 {
		t.Fatalf("point past the segment end kept: %v", got)
	}
	if got := parseIndex(b, 11, 20000); len(got) != 0 {
		t.Fatalf("wrong base kept: %v", got)
	}
	bad := append([]byte(nil), b...)
	bad[2*indexPointSize+5] ^= 1
	if got := parseIndex(bad, 10, 20000); len(got) != 2 {
		t.Fatalf("corrupt point: kept %d, want the 2 before it", len(got))
	}
	back := encodePoints([]indexPoint{pts[0], pts[2], pts[1]})
	if got := parseIndex(back, 10, 20000); len(got) != 2 {
		t.Fatalf("non-monotonic: kept %d", len(got))
	}
	if got := parseIndex(b[:len(b)-3], 10, 20000); len(got) != 3 {
		t.Fatalf("torn last point: kept %d", len(got))
	}
}

func TestIndexLookup(t *testing.T) {
	pts := testPoints()
	for _, tc := range []struct {
		i    model.Index
		want int
	}{{9, -1}, {10, 0}, {19, 0}, {20, 1}, {35, 2}, {99, 3}} {
		if got := lookupIndex(pts, tc.i); got != tc.want {
			t.Errorf("lookupIndex(%d) = %d, want %d", tc.i, got, tc.want)
		}
	}
	for _, tc := range []struct {
		o    model.Offset
		want int
	}{{99, -1}, {100, 0}, {149, 0}, {150, 2}, {189, 2}, {190, 3}} {
		if got := lookupOffset(pts, tc.o); got != tc.want {
			t.Errorf("lookupOffset(%d) = %d, want %d", tc.o, got, tc.want)
		}
	}
	for _, tc := range []struct {
		ts   int64
		want int
	}{{-5, -1}, {400, 0}, {500, 0}, {501, 2}, {900, 2}, {901, 3}} {
		if got := lookupTime(pts, tc.ts); got != tc.want {
			t.Errorf("lookupTime(%d) = %d, want %d", tc.ts, got, tc.want)
		}
	}
}

func FuzzIndexFile(f *testing.F) {
	f.Add(encodePoints(testPoints()), uint64(10), int64(20000))
	f.Add([]byte{1, 2, 3}, uint64(1), int64(0))
	f.Fuzz(func(t *testing.T, b []byte, base uint64, size int64) {
		pts := parseIndex(b, model.Index(base), size)
		for k, p := range pts {
			q, err := decodeIndexPoint(b[k*indexPointSize:])
			if err != nil || q != p {
				t.Fatalf("point %d kept but does not decode to itself: %v", k, err)
			}
			if int64(p.pos)+EntryHeaderSize > size {
				t.Fatalf("point %d past the end", k)
			}
			if k == 0 && (p.index != model.Index(base) || p.pos != 0) {
				t.Fatalf("first point %+v for base %d", p, base)
			}
			if k > 0 && !p.follows(pts[k-1]) {
				t.Fatalf("point %d does not follow", k)
			}
		}
		_ = lookupIndex(pts, model.Index(base)+5)
		_ = lookupOffset(pts, 7)
		_ = lookupTime(pts, 7)
	})
}
