package storage

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

func TestHandleCacheBounded(t *testing.T) {
	mem := vfs.NewMem()
	clk := &testClock{t: time.Unix(1000, 0)}
	hc := NewHandleCache(4)
	var logs []*Log
	var data [][]byte
	for p := 0; p < 20; p++ {
		o := testOpts(clk)
		o.Handles = hc
		l := mustOpen(t, mem, fmt.Sprintf("/d/p%d", p), o)
		g := newGen()
		var all []byte
		for i := 0; i < 30; i++ {
			b := g.data(nil, 1, 300)
			mustAppend(t, l, b)
			all = append(all, b...)
		}
		mustSync(t, l)
		logs, data = append(logs, l), append(data, all)
		if n := hc.Open(); n > 4 {
			t.Fatalf("%d files open with a bound of 4", n)
		}
	}
	for p, l := range logs {
		if got := readAll(t, l, 0, l.NextOffset(), 1<<20); !bytes.Equal(got, batchesOf(t, data[p], 0)) {
			t.Fatalf("log %d reads differ", p)
		}
		if n := hc.Open(); n > 4 {
			t.Fatalf("%d files open with a bound of 4", n)
		}
	}
	// A referenced handle survives eviction and is closed on release.
	h, err := hc.acquire(mem, logs[0].act.logPath, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range logs[1:] {
		if _, err := l.Entries(l.FirstIndex(), l.FirstIndex()+1, 1); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, EntryHeaderSize)
	if _, err := h.f.ReadAt(buf, 0); err != nil {
		t.Fatalf("read through an evicted but referenced handle: %v", err)
	}
	hc.release(h)
	if n := hc.Open(); n > 4 {
		t.Fatalf("%d open after release", n)
	}
	for _, l := range logs {
		l.Close()
	}
	if n := hc.Open(); n > 4 {
		t.Fatalf("%d open after close", n)
	}
}

// noReads fails every read of a segment file: what still reads comes from
// the batch cache.
func noReads(on *atomic.Bool) vfs.Injector {
	return vfs.InjectorFunc(func(op vfs.Op) error {
		if on.Load() && op.Kind == vfs.OpRead && len(op.Path) > 4 && op.Path[len(op.Path)-4:] == logSuffix {
			return fmt.Errorf("read refused by test: %w", vfs.ErrInjected)
		}
		return nil
	})
}

func TestBatchCacheServesTail(t *testing.T) {
	mem := vfs.NewMem()
	clk := &testClock{t: time.Unix(1000, 0)}
	o := testOpts(clk)
	o.SegmentBytes = 1 << 20
	bc := NewBatchCache(64 << 10)
	o.Cache = bc
	var refuse atomic.Bool
	refuse.Store(true)
	l := mustOpen(t, vfs.NewErrorFS(mem, noReads(&refuse)), "/d", o)
	defer l.Close()
	g := newGen()
	var all []byte
	for i := 0; i < 400; i++ { // ~140 KiB: the oldest fall out of the cache
		b := g.data(nil, 2, 300)
		mustAppend(t, l, b)
		all = append(all, b...)
		if bc.Bytes() > 64<<10 {
			t.Fatalf("cache holds %d bytes, bound 64 KiB", bc.Bytes())
		}
	}
	tail := l.NextOffset() - 20
	got, err := l.ReadBatches(tail, 1<<20, l.NextOffset(), nil)
	if err != nil {
		t.Fatalf("tail read: %v", err)
	}
	if want := batchesOf(t, all, tail); !bytes.Equal(got, want) {
		t.Fatalf("tail read from cache differs")
	}
	if _, err := l.ReadBatches(0, 1<<20, l.NextOffset(), nil); err == nil {
		t.Fatalf("read of evicted entries did not touch the disk")
	}
	ents, err := l.Entries(l.LastIndex()-3, l.LastIndex()+1, 1<<20)
	if err != nil || len(ents) != 4 {
		t.Fatalf("entries from cache: %d %v", len(ents), err)
	}
	// Truncation drops cached entries; new ones replace them.
	refuse.Store(false) // truncation reads the segment's tail
	if err := l.TruncateSuffix(l.LastIndex() - 5); err != nil {
		t.Fatal(err)
	}
	g2 := *g
	g2.idx, g2.off, g2.term = l.LastIndex()+1, l.NextOffset(), 9
	b := g2.data(nil, 4, 77)
	mustAppend(t, l, b)
	refuse.Store(true)
	got, err = l.ReadBatches(l.NextOffset()-4, 1<<20, l.NextOffset(), nil)
	if err != nil || !bytes.Equal(got, batchesOf(t, b, 0)) {
		t.Fatalf("read after truncate+append: %v", err)
	}
}

// TestViewConcurrentWithAppends publishes Views from the owner while
// readers on other goroutines read them (run with -race).
func TestViewConcurrentWithAppends(t *testing.T) {
	for _, withCache := range []bool{false, true} {
		t.Run(fmt.Sprintf("cache=%v", withCache), func(t *testing.T) {
			mem := vfs.NewMem()
			clk := &testClock{t: time.Unix(1000, 0)}
			o := testOpts(clk)
			o.Handles = NewHandleCache(2)
			if withCache {
				o.Cache = NewBatchCache(64 << 10)
			}
			l := mustOpen(t, mem, "/d", o)
			var pub atomic.Pointer[View]
			pub.Store(l.View())
			var done atomic.Bool
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for r := 0; r < 3; r++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					from := model.Offset(0)
					for !done.Load() || from < pub.Load().NextOffset() {
						v := pub.Load()
						if from >= v.NextOffset() {
							continue
						}
						b, err := v.ReadBatches(from, 2000, v.NextOffset(), nil)
						if err != nil {
							errs <- err
							return
						}
						for len(b) > 0 {
							bt, rest, err := model.ParseBatch(b)
							if err == nil {
								err = bt.Validate()
							}
							if err == nil && bt.LastOffset() < from {
								err = fmt.Errorf("batch %d before %d", bt.BaseOffset(), from)
							}
							if err != nil {
								errs <- err
								return
							}
							from = bt.LastOffset() + 1
							b = rest
						}
					}
				}()
			}
			g := newGen()
			n := 3000
			if testing.Short() {
				n = 800
			}
			// Sync jobs run on another goroutine while the owner appends;
			// the owner finishes them when their result arrives.
			type result struct {
				j   *SyncJob
				err error
			}
			results := make(chan result, 1)
			running := false
			for i := 0; i < n; i++ {
				mustAppend(t, l, g.data(nil, 1+i%3, 100+i%200))
				select {
				case r := <-results:
					l.FinishSync(r.j, r.err)
					running = false
				default:
				}
				if !running {
					if j := l.PrepareSync(); j != nil {
						running = true
						go func() { results <- result{j, j.Run()} }()
					}
				}
				pub.Store(l.View())
			}
			if running {
				r := <-results
				l.FinishSync(r.j, r.err)
			}
			done.Store(true)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			l.Close()
		})
	}
}
