package storage

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// makeBatch builds a record batch v2 with count records (a fake record
// body of bodyLen bytes) and a valid CRC.
func makeBatch(base model.Offset, count int, maxTs int64, bodyLen int, fill byte) []byte {
	body := make([]byte, bodyLen)
	for i := range body {
		body[i] = fill + byte(model.BatchHeaderSize+i)
	}
	return model.AppendBatch(nil, model.BatchFields{
		BaseOffset: base, LastOffsetDelta: int32(count - 1), BaseTimestamp: maxTs, MaxTimestamp: maxTs,
		ProducerID: -1, RecordCount: int32(count),
	}, body)
}

// gen makes a log's entries in order.
type gen struct {
	idx  model.Index
	term model.Term
	off  model.Offset
	ts   int64
}

func newGen() *gen { return &gen{idx: 1, term: 1, ts: 1000} }

// data appends a data entry of count records and body bytes to dst.
func (g *gen) data(dst []byte, count, body int) []byte {
	g.ts += 10
	batch := makeBatch(g.off, count, g.ts, body, byte(g.idx))
	dst = AppendEntry(dst, EntryHeader{Index: g.idx, Term: g.term, Offset: g.off, Type: EntryData, Count: uint32(count)}, batch)
	g.idx++
	g.off += model.Offset(count)
	return dst
}

// internal appends an internal entry to dst.
func (g *gen) internal(dst []byte, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(g.idx) ^ byte(i)
	}
	dst = AppendEntry(dst, EntryHeader{Index: g.idx, Term: g.term, Offset: g.off, Type: EntryInternal}, p)
	g.idx++
	return dst
}

// fsCase is one file system the behavioural suite runs on (STYLE 14).
type fsCase struct {
	name string
	fs   vfs.FS
	dir  string
}

func fsCases(t testing.TB) []fsCase {
	return []fsCase{
		{"mem", vfs.NewMem(), "/data/p0"},
		{"os", vfs.NewOS(), t.TempDir() + "/p0"},
	}
}

func forEachFS(t *testing.T, fn func(t *testing.T, c fsCase)) {
	for _, c := range fsCases(t) {
		t.Run(c.name, func(t *testing.T) { fn(t, c) })
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testClock is a manual clock.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time          { return c.t }
func (c *testClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func testOpts(clk *testClock) Options {
	return Options{Logger: quietLogger(), SegmentBytes: 4096, IndexIntervalBytes: 512,
		PreallocStep: 8192, Now: clk.now, Handles: NewHandleCache(4)}
}

func mustOpen(t testing.TB, fsys vfs.FS, dir string, o Options) *Log {
	t.Helper()
	l, err := Open(fsys, dir, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return l
}

func mustAppend(t testing.TB, l *Log, b []byte) {
	t.Helper()
	if err := l.Append(b); err != nil {
		t.Fatalf("append: %v", err)
	}
}

func mustSync(t testing.TB, l *Log) {
	t.Helper()
	if err := syncLog(l); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

func syncLog(l *Log) error {
	j := l.PrepareSync()
	if j == nil {
		return l.Err()
	}
	err := j.Run()
	l.FinishSync(j, err)
	return err
}

// readAll reads every batch from from to the end, in small fetches.
func readAll(t testing.TB, r interface {
	ReadBatches(model.Offset, int, model.Offset, []byte) ([]byte, error)
}, from, upTo model.Offset, maxBytes int) []byte {
	t.Helper()
	var out []byte
	for from < upTo {
		b, err := r.ReadBatches(from, maxBytes, upTo, nil)
		if err != nil {
			t.Fatalf("read batches from %d: %v", from, err)
		}
		if len(b) == 0 {
			t.Fatalf("read batches from %d below %d: nothing", from, upTo)
		}
		out = append(out, b...)
		for rest := b; len(rest) > 0; {
			bt, r, err := model.ParseBatch(rest)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			from = bt.LastOffset() + 1
			rest = r
		}
	}
	return out
}

// batchesOf returns the concatenated batches of the data entries in enc.
func batchesOf(t testing.TB, enc []byte, from model.Offset) []byte {
	t.Helper()
	var out []byte
	for rest := enc; len(rest) > 0; {
		h, p, r, err := DecodeEntry(rest)
		if err != nil {
			t.Fatal(err)
		}
		if h.Type == EntryData && h.NextOffset() > from {
			out = append(out, p...)
		}
		rest = r
	}
	return out
}

func describe(l *Log) string {
	return fmt.Sprintf("first=%d last=%d term=%d start=%d next=%d durable=%d segs=%d",
		l.FirstIndex(), l.LastIndex(), l.LastTerm(), l.StartOffset(), l.NextOffset(), l.DurableIndex(), l.Segments())
}
