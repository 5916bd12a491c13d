package storage

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// twinLogs runs the same operations on a log whose IndexCache is tiny and
// on one whose cache is unbounded, on two in-memory file systems.
type twinLogs struct {
	t          *testing.T
	rng        *rand.Rand
	clk        *testClock
	tiny, big  *IndexCache
	memT, memB *vfs.MemFS
	lt, lb     *Log
	g          *gen
}

const twinBound = 2 << 10 // about 40 points: a segment or two

func (w *twinLogs) opts(c *IndexCache) Options {
	o := testOpts(w.clk)
	o.IndexIntervalBytes = 128
	o.Indexes = c
	return o
}

func (w *twinLogs) open() {
	w.lt = mustOpen(w.t, w.memT, "/d", w.opts(w.tiny))
	w.lb = mustOpen(w.t, w.memB, "/d", w.opts(w.big))
}

func (w *twinLogs) both(what string, op func(l *Log) error) {
	w.t.Helper()
	et, eb := op(w.lt), op(w.lb)
	if fmt.Sprint(et) != fmt.Sprint(eb) {
		w.t.Fatalf("%s: tiny cache: %v, unbounded: %v", what, et, eb)
	}
	if et != nil {
		w.t.Fatalf("%s: %v", what, et)
	}
}

// query runs one random read on both logs and compares the answers.
func (w *twinLogs) query() {
	w.t.Helper()
	ask := func(l *Log) string {
		first, last := l.FirstIndex(), l.LastIndex()
		so, next := l.StartOffset(), l.NextOffset()
		switch w.rng.IntN(5) {
		case 0:
			from := so + model.Offset(w.rng.Int64N(int64(next-so)+1))
			b, err := l.ReadBatches(from, 1+w.rng.IntN(3000), next, nil)
			return fmt.Sprintf("read %d: %x %v", from, b, err)
		case 1:
			ts := 995 + w.rng.Int64N(w.g.ts-990)
			o, ok, err := l.OffsetForTimestamp(ts)
			return fmt.Sprintf("time %d: %d %v %v", ts, o, ok, err)
		case 2:
			if last < first {
				return "empty"
			}
			lo := first + model.Index(w.rng.Int64N(int64(last-first)+1))
			ents, err := l.Entries(lo, last+1, uint64(1+w.rng.IntN(4000)))
			return fmt.Sprintf("entries %d: %v %v", lo, ents, err)
		case 3:
			if next == so {
				return "no offsets"
			}
			o := so + model.Offset(w.rng.Int64N(int64(next-so)))
			i, err := l.IndexForOffset(o)
			return fmt.Sprintf("index for %d: %d %v", o, i, err)
		default:
			if last < first {
				return "empty"
			}
			i := first + model.Index(w.rng.Int64N(int64(last-first)+1))
			v := l.View()
			term, err := v.Term(i)
			return fmt.Sprintf("term %d: %d %v", i, term, err)
		}
	}
	state := w.rng.Uint64()
	w.rng = rand.New(rand.NewPCG(state, 1))
	qt := ask(w.lt)
	w.rng = rand.New(rand.NewPCG(state, 1))
	qb := ask(w.lb)
	if qt != qb {
		w.t.Fatalf("tiny cache answered\n%.300s\nunbounded answered\n%.300s", qt, qb)
	}
}

// damageIndex corrupts or removes a random index file of the tiny twin.
func (w *twinLogs) damageIndex() {
	names, err := w.memT.List("/d")
	if err != nil {
		w.t.Fatal(err)
	}
	var idx []string
	for _, n := range names {
		if len(n) > 6 && n[len(n)-6:] == indexSuffix {
			idx = append(idx, "/d/"+n)
		}
	}
	if len(idx) == 0 {
		return
	}
	name := idx[w.rng.IntN(len(idx))]
	if w.rng.IntN(2) == 0 {
		if err := w.memT.Remove(name); err != nil {
			w.t.Fatal(err)
		}
		return
	}
	f, err := w.memT.Open(name, vfs.OpenOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	defer f.Close()
	junk := make([]byte, 40)
	for i := range junk {
		junk[i] = byte(w.rng.Uint32())
	}
	if _, err := f.WriteAt(junk, int64(w.rng.IntN(3))*indexPointSize); err != nil {
		w.t.Fatal(err)
	}
}

// checkHeld checks the bound: the cache within it, and only the active
// segment and segments whose index file is not written yet keep their
// points with the log.
func checkHeld(t *testing.T, l *Log, c *IndexCache, bound int64) {
	t.Helper()
	if n := c.Bytes(); n > bound {
		t.Fatalf("index cache holds %d bytes, bound %d", n, bound)
	}
	for _, s := range l.segs {
		s.mu.Lock()
		resident := !s.evictable && len(s.st.points) > 0
		s.mu.Unlock()
		if resident && !inList(l.pending, s) {
			t.Fatalf("closed segment %d keeps %d points resident though its index is written", s.base, len(s.st.points))
		}
	}
}

func inList(list []*segment, s *segment) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestIndexCacheBounded: with a tiny IndexCache, reads, time lookups,
// truncations, retention and reopens answer exactly as with an unbounded
// one, also when index files of evicted segments are damaged or removed,
// while the cache stays within its bound.
func TestIndexCacheBounded(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	w := &twinLogs{t: t, rng: rand.New(rand.NewPCG(seed, 0)), clk: &testClock{t: time.Unix(1000, 0)},
		tiny: NewIndexCache(twinBound), big: NewIndexCache(1 << 40),
		memT: vfs.NewMem(), memB: vfs.NewMem(), g: newGen()}
	w.open()
	var bigMax int64
	steps := 6000
	if testing.Short() {
		steps = 1500
	}
	for step := 0; step < steps; step++ {
		switch r := w.rng.IntN(40); {
		case r < 16:
			b := w.g.data(nil, 1+w.rng.IntN(3), 40+w.rng.IntN(400))
			w.both("append", func(l *Log) error { return l.Append(b) })
		case r < 19:
			w.both("sync", syncLog)
		case r == 19 && w.lt.LastIndex() > w.lt.FirstIndex()+30:
			// Raft divergence cuts near the end, sometimes across segments.
			from := w.lt.LastIndex() - model.Index(w.rng.Int64N(12))
			w.both("truncate suffix", func(l *Log) error { return l.TruncateSuffix(from) })
			w.g.idx, w.g.off = w.lt.LastIndex()+1, w.lt.NextOffset()
			w.g.term++
		case r == 20:
			p := RetentionPolicy{Bytes: 40000 + w.rng.Int64N(60000)}
			w.both("sync", syncLog)
			var nt, nb int
			w.both("retain", func(l *Log) error {
				n, err := l.Retain(p, l.DurableIndex())
				if l == w.lt {
					nt = n
				} else {
					nb = n
				}
				return err
			})
			if nt != nb {
				t.Fatalf("retain removed %d and %d segments", nt, nb)
			}
		case r == 21:
			w.both("close", func(l *Log) error { return l.Close() })
			w.open()
		case r == 22:
			w.damageIndex()
		default:
			w.query()
		}
		checkHeld(t, w.lt, w.tiny, twinBound)
		bigMax = max(bigMax, w.big.Bytes())
	}
	if bigMax < 2*twinBound {
		t.Fatalf("unbounded cache held at most %d bytes (%d segments now): the test did not need eviction", bigMax, w.lb.Segments())
	}
	if w.tiny.Loads() == 0 {
		t.Fatalf("no index points were read back")
	}
	t.Logf("%d segments; unbounded cache up to %d bytes, tiny %d bytes, %d read-backs",
		w.lt.Segments(), bigMax, w.tiny.Bytes(), w.tiny.Loads())
	w.lt.Close()
	w.lb.Close()
}

// TestIndexCacheConcurrentEviction: readers on Views evict and read back
// each other's segments' points while the owner appends, rolls and syncs
// (run with -race); every answer matches the entries appended.
func TestIndexCacheConcurrentEviction(t *testing.T) {
	mem := vfs.NewMem()
	clk := &testClock{t: time.Unix(1000, 0)}
	o := testOpts(clk)
	o.IndexIntervalBytes = 128
	o.Indexes = NewIndexCache(1 << 10)
	o.Handles = NewHandleCache(3)
	l := mustOpen(t, mem, "/d", o)
	defer l.Close()
	n := 2000
	if testing.Short() {
		n = 600
	}
	// All the entries, made up front: readers check against them.
	g := newGen()
	type batch struct {
		base, next model.Offset
		maxTs      int64
		raw        []byte
	}
	var ents [][]byte
	var batches []batch
	for i := 0; i < n; i++ {
		e := g.data(nil, 1+i%3, 60+i*37%300)
		ents = append(ents, e)
		h, p, _, _ := DecodeEntry(e)
		batches = append(batches, batch{h.Offset, h.NextOffset(), model.Batch(p).MaxTimestamp(), p})
	}
	find := func(o model.Offset) int {
		k := 0
		for k < len(batches) && batches[k].next <= o {
			k++
		}
		return k
	}
	var pub atomic.Pointer[View]
	pub.Store(l.View())
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 2))
			for !done.Load() {
				v := pub.Load()
				next := v.NextOffset()
				if next == 0 {
					continue
				}
				from := model.Offset(rng.Int64N(int64(next)))
				got, err := v.ReadBatches(from, 1+rng.IntN(800), next, nil)
				if err == nil {
					k := find(from)
					for len(got) > 0 && err == nil {
						b := batches[k]
						if len(got) < len(b.raw) || string(got[:len(b.raw)]) != string(b.raw) {
							err = fmt.Errorf("read from %d: batch %d differs", from, b.base)
						}
						got, k = got[min(len(b.raw), len(got)):], k+1
					}
				}
				if err == nil {
					ts := 1000 + rng.Int64N(g.ts-1000+10)
					o, ok, terr := v.OffsetForTimestamp(ts)
					k := 0
					for k < len(batches) && batches[k].maxTs < ts {
						k++
					}
					wantOK := k < len(batches) && batches[k].base < next
					if terr != nil || ok != wantOK || (ok && o != batches[k].base) {
						err = fmt.Errorf("time %d: %d %v %v, want %v", ts, o, ok, terr, wantOK)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(uint64(r))
	}
	for i, e := range ents {
		mustAppend(t, l, e)
		if i%5 == 4 {
			mustSync(t, l)
		}
		pub.Store(l.View())
		if i%50 == 0 {
			checkHeld(t, l, o.Indexes, 1<<10)
		}
	}
	// Let the readers work on the finished log for a bounded while.
	for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline) && len(errs) == 0; {
		time.Sleep(10 * time.Millisecond)
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if o.Indexes.Loads() == 0 {
		t.Fatal("no index points were read back")
	}
	t.Logf("%d segments, %d read-backs", l.Segments(), o.Indexes.Loads())
}

// FuzzIndexReadBack: whatever bytes replace an evicted segment's index
// file (garbage, a stale or truncated copy, valid points of another
// segment), reads and time lookups answer exactly as before the eviction.
func FuzzIndexReadBack(f *testing.F) {
	f.Add([]byte{})
	f.Add(encodePoints(testPoints()))
	f.Add(make([]byte, 3*indexPointSize))
	f.Add(append(encodePoints(testPoints()), 1, 2, 3))
	f.Fuzz(func(t *testing.T, junk []byte) {
		clk := &testClock{t: time.Unix(1000, 0)}
		mem := vfs.NewMem()
		o := testOpts(clk)
		o.IndexIntervalBytes = 128
		o.Indexes = NewIndexCache(1 << 20)
		l := mustOpen(t, mem, "/d", o)
		defer l.Close()
		g := newGen()
		for l.Segments() < 3 {
			mustAppend(t, l, g.data(nil, 1+int(g.idx%3), 80))
		}
		mustSync(t, l)
		answers := func() string {
			var b []byte
			for from := model.Offset(0); from < l.NextOffset(); from += 3 {
				r, err := l.ReadBatches(from, 1, l.NextOffset(), nil)
				b = fmt.Appendf(b, "%d:%x %v\n", from, r, err)
			}
			for ts := int64(1000); ts <= g.ts+10; ts += 7 {
				o, ok, err := l.OffsetForTimestamp(ts)
				b = fmt.Appendf(b, "%d:%d %v %v\n", ts, o, ok, err)
			}
			return string(b)
		}
		want := answers()
		// Damage every closed segment's index file and evict.
		for _, s := range l.segs {
			fi, err := mem.Create(s.indexPath, vfs.OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fi.WriteAt(junk, 0); err != nil {
				t.Fatal(err)
			}
			fi.Close()
			o.Indexes.forget(s)
		}
		if got := answers(); got != want {
			t.Fatalf("after read-back from a replaced index file:\n%s\nwant\n%s", got, want)
		}
	})
}
