package storage

import (
	"fmt"
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

var benchSizes = []int{256, 4 << 10, 64 << 10, 1 << 20}

// benchAppender encodes the next entry into a reused buffer.
type benchAppender struct {
	g     *gen
	batch []byte
	buf   []byte
}

func newBenchAppender(size int) *benchAppender {
	return &benchAppender{g: newGen(), batch: makeBatch(0, 10, 1000, max(size-model.BatchHeaderSize, 0), 7)}
}

func (a *benchAppender) next() []byte {
	model.Batch(a.batch).SetBaseOffset(a.g.off)
	a.buf = AppendEntry(a.buf[:0], EntryHeader{Index: a.g.idx, Term: 1, Offset: a.g.off, Type: EntryData, Count: 10}, a.batch)
	a.g.idx++
	a.g.off += 10
	return a.buf
}

func benchOpts() Options {
	return Options{Logger: quietLogger(), Handles: NewHandleCache(16), SegmentBytes: 64 << 20}
}

// BenchmarkAppend measures Append alone (page cache, no sync) on the OS
// file system; allocs/op must be 0.
func BenchmarkAppend(b *testing.B) { benchAppend(b, 256) }

// BenchmarkAppendSync measures Append followed by a completed sync job
// (fdatasync) on the OS file system: one durable entry per op.
func BenchmarkAppendSync(b *testing.B) { benchAppend(b, 1) }

// benchAppend appends entries of each size, completing a sync job every
// syncEvery appends (for BenchmarkAppend, only to keep the page cache
// bounded).
func benchAppend(b *testing.B, syncEvery model.Index) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			l := mustOpen(b, vfs.NewOS(), b.TempDir()+"/p", benchOpts())
			defer l.Close()
			a := newBenchAppender(size)
			b.SetBytes(int64(len(a.next())))
			a.g = newGen()
			b.ReportAllocs()
			for b.Loop() {
				if err := l.Append(a.next()); err != nil {
					b.Fatal(err)
				}
				if l.LastIndex()%syncEvery == 0 {
					if err := syncLog(l); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkReadBatches reads one batch at a time: tail reads from the
// batch cache, catch-up reads from disk (closed segments, read-ahead).
func BenchmarkReadBatches(b *testing.B) {
	for _, mode := range []string{"tail-cache", "catchup-disk"} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/size=%d", mode, size), func(b *testing.B) {
				o := benchOpts()
				o.SegmentBytes = 8 << 20
				if mode == "tail-cache" {
					o.Cache = NewBatchCache(64 << 20)
				}
				l := mustOpen(b, vfs.NewOS(), b.TempDir()+"/p", o)
				defer l.Close()
				a := newBenchAppender(size)
				n := max(32<<20/size, 64)
				if mode == "tail-cache" {
					n = min(n, 16<<20/size)
				}
				for i := 0; i < n; i++ {
					if err := l.Append(a.next()); err != nil {
						b.Fatal(err)
					}
				}
				if err := syncLog(l); err != nil {
					b.Fatal(err)
				}
				v := l.View()
				b.SetBytes(int64(len(a.batch)))
				b.ReportAllocs()
				dst := make([]byte, 0, 2*size)
				from := v.StartOffset()
				for b.Loop() {
					var err error
					dst, err = v.ReadBatches(from, 1, v.NextOffset(), dst[:0])
					if err != nil || len(dst) == 0 {
						b.Fatal(err)
					}
					if from += 10; from >= v.NextOffset() {
						from = v.StartOffset()
					}
				}
			})
		}
	}
}
