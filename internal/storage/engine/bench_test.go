package engine

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/storage"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// BenchmarkEngine measures, in one run on one file system, the machine's
// own limits (write+fdatasync of 1 MiB and of 4 KiB into a preallocated
// file) and then the engine with a durable wait per append from enough
// appenders to keep about 1 MiB in flight, and prints the ratios. Run it
// with `make bench-storage` (PETREL_BENCH_DIR picks the file system,
// PETREL_BENCH_SECONDS the length of each scenario, PETREL_BENCH_DIRECT=1
// turns on direct I/O).
func BenchmarkEngine(b *testing.B) {
	dir := os.Getenv("PETREL_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	} else {
		var err error
		if dir, err = os.MkdirTemp(dir, "petrel-bench-"); err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(dir)
	}
	secs := 4.0
	if s := os.Getenv("PETREL_BENCH_SECONDS"); s != "" {
		fmt.Sscan(s, &secs)
	}
	dur := time.Duration(secs * float64(time.Second))
	direct := os.Getenv("PETREL_BENCH_DIRECT") == "1"
	fs := vfs.NewOS()

	for range b.N {
		raw1M := rawSync(b, fs, filepath.Join(dir, "raw1m"), 1<<20, 200<<20, dur)
		raw4K := rawSync(b, fs, filepath.Join(dir, "raw4k"), 4<<10, 64<<20, dur)
		fmt.Printf("raw  write+fdatasync 1MiB: %7.1f MB/s p50 %v | 4KiB: p50 %v p99 %v (%s, direct=%v)\n",
			raw1M.mbps, raw1M.p50, raw4K.p50, raw4K.p99, dir, direct)

		scenarios := []scenario{
			{name: "p1", partitions: 1, batch: 64 << 10, inflight: 1 << 20},
			{name: "p12", partitions: 12, batch: 1 << 10, inflight: 1 << 20},
			{name: "p1000", partitions: 1000, batch: 1 << 10, inflight: 1 << 20},
			{name: "p1000-light", partitions: 1000, batch: 1 << 10, rate: 1 << 20},
		}
		results := map[string]scenarioResult{}
		only := os.Getenv("PETREL_BENCH_ONLY")
		for i, sc := range scenarios {
			if only != "" && only != sc.name {
				continue
			}
			res := sc.run(b, fs, filepath.Join(dir, fmt.Sprint("engine-", i)), direct, dur)
			results[sc.name] = res
			fmt.Printf("%-12s %7.1f MB/s %8.0f appends/s p50 %8v p99 %8v live heap %5.1f→%5.1f MiB paths j/d %d/%d ratio %.2f\n",
				sc.name, res.mbps, res.appendsPerSec, res.p50, res.p99, res.heapStartMiB, res.heapEndMiB,
				res.journaled, res.direct, res.mbps/raw1M.mbps)
		}
		fmt.Printf("storage ratio_p1=%.2f ratio_p12=%.2f ratio_p1000=%.2f p50_ratio_p1000=%.2f\n",
			results["p1"].mbps/raw1M.mbps, results["p12"].mbps/raw1M.mbps, results["p1000"].mbps/raw1M.mbps,
			float64(results["p1000-light"].p50)/float64(raw4K.p50))
	}
}

type rawResult struct {
	mbps     float64
	p50, p99 time.Duration
}

// rawSync writes size-byte blocks sequentially into a preallocated file,
// each followed by fdatasync, for about dur.
func rawSync(b *testing.B, fs vfs.FS, name string, size int, fileBytes int64, dur time.Duration) rawResult {
	f, err := fs.Create(name, vfs.OpenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer fs.Remove(name)
	defer f.Close()
	zero := make([]byte, 1<<20)
	for off := int64(0); off < fileBytes; off += int64(len(zero)) {
		if _, err := f.WriteAt(zero, off); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = byte(i)
	}
	var lats []time.Duration
	start := time.Now()
	off := int64(0)
	for time.Since(start) < dur && len(lats) < 100_000 {
		if off+int64(size) > fileBytes {
			off = 0
		}
		t := time.Now()
		if _, err := f.WriteAt(buf, off); err != nil {
			b.Fatal(err)
		}
		if err := f.Datasync(); err != nil {
			b.Fatal(err)
		}
		lats = append(lats, time.Since(t))
		off += int64(size)
	}
	el := time.Since(start)
	p50, p99 := percentiles(lats)
	return rawResult{mbps: float64(len(lats)*size) / el.Seconds() / 1e6, p50: p50, p99: p99}
}

func percentiles(lats []time.Duration) (p50, p99 time.Duration) {
	if len(lats) == 0 {
		return 0, 0
	}
	slices.Sort(lats)
	return lats[len(lats)/2], lats[min(len(lats)-1, int(math.Ceil(float64(len(lats))*0.99))-1)]
}

// scenario is one engine load: closed-loop appenders keeping inflight
// bytes outstanding, or (rate > 0) an open-loop arrival rate in bytes/s.
type scenario struct {
	name       string
	partitions int
	batch      int
	inflight   int
	rate       int
}

type scenarioResult struct {
	mbps, appendsPerSec      float64
	p50, p99                 time.Duration
	heapStartMiB, heapEndMiB float64
	journaled, direct        int
}

// pendingAppend is one append waiting to become durable.
type pendingAppend struct {
	index model.Index
	at    time.Time
}

func (sc scenario) run(b *testing.B, fs vfs.FS, dir string, direct bool, dur time.Duration) scenarioResult {
	opts := Options{FS: fs, Dir: dir, Direct: direct}
	if v := os.Getenv("PETREL_BENCH_DIRECT_MIN"); v != "" {
		fmt.Sscan(v, &opts.DirectMinBytes) // pins the direct-path threshold, for comparing the paths
		opts.DirectMaxBytes = opts.DirectMinBytes
	}
	e, err := Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	payload := batch(0, 1, 0, sc.batch-storage.EntryHeaderSize, 7)
	keys := make([]model.PartitionKey, sc.partitions)
	next := make([]model.Index, sc.partitions)
	waiting := make([][]pendingAppend, sc.partitions)
	for i := range keys {
		keys[i] = key(i)
		next[i] = 1
		// Create every partition up front: the scenarios measure appends
		// in steady state, not partition creation (a directory and its
		// fsyncs each).
		if _, err := e.Partition(keys[i]); err != nil {
			b.Fatal(err)
		}
	}
	var (
		buf     []byte
		lats    []time.Duration
		bytes   int64
		appends int
		res     scenarioResult
		ready   []int // partitions of appenders ready to append again
		issued  int   // open loop: appends issued so far
	)
	appendOne := func(p int, at time.Time) {
		i := next[p]
		next[p]++
		model.Batch(payload).SetBaseOffset(model.Offset(i - 1))
		buf = storage.AppendEntry(buf[:0], storage.EntryHeader{
			Index: i, Term: 1, Offset: model.Offset(i - 1), Type: storage.EntryData, Count: 1,
		}, payload)
		if err := e.Append(keys[p], buf); err != nil {
			b.Fatal(err)
		}
		waiting[p] = append(waiting[p], pendingAppend{index: i, at: at})
	}
	if sc.rate == 0 {
		for a := range max(1, sc.inflight/sc.batch) {
			ready = append(ready, a%sc.partitions)
		}
	}
	var ms runtime.MemStats
	start := time.Now()
	warm := start.Add(dur / 4)
	measuring := false
	for time.Since(start) < dur {
		now := time.Now()
		if !measuring && now.After(warm) {
			measuring = true
			lats, bytes, appends = lats[:0], 0, 0
			runtime.GC() // live heap only, so start and end compare
			runtime.ReadMemStats(&ms)
			res.heapStartMiB = float64(ms.HeapInuse) / (1 << 20)
			start, warm = now, now
			dur = dur * 3 / 4
			issued = 0
		}
		if sc.rate > 0 {
			// Open loop: arrivals due by now, spread over the partitions;
			// latency counts from the scheduled arrival time.
			perSec := float64(sc.rate) / float64(sc.batch)
			// Arrival k is due at k/perSec: k = 0 at once.
			due := int(now.Sub(start).Seconds()*perSec) + 1
			for ; issued < due; issued++ {
				at := start.Add(time.Duration(float64(issued) / perSec * float64(time.Second)))
				appendOne(issued%sc.partitions, at)
			}
		} else {
			for _, p := range ready {
				appendOne(p, now)
			}
			ready = ready[:0]
		}
		if !e.Pending() {
			// Open loop with nothing due yet: yield rather than sleep, as a
			// timer would add its own latency to the next arrival.
			e.Idle()
			runtime.Gosched()
			continue
		}
		r, err := e.StartRound()
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Wait(); err != nil {
			b.Fatal(err)
		}
		out := e.FinishRound(r)
		res.journaled += out.Journaled
		res.direct += out.Direct
		done := time.Now()
		for _, d := range out.Durable {
			p := int(d.Key.Partition)
			w := waiting[p]
			n := 0
			for n < len(w) && w[n].index <= d.Index {
				lats = append(lats, done.Sub(w[n].at))
				bytes += int64(sc.batch)
				appends++
				if sc.rate == 0 {
					ready = append(ready, p)
				}
				n++
			}
			waiting[p] = append(w[:0], w[n:]...)
		}
		if out.Blocked {
			if ch := e.FlushDone(); ch != nil {
				<-ch
			}
		}
	}
	el := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	res.heapEndMiB = float64(ms.HeapInuse) / (1 << 20)
	res.mbps = float64(bytes) / el.Seconds() / 1e6
	res.appendsPerSec = float64(appends) / el.Seconds()
	res.p50, res.p99 = percentiles(lats)
	return res
}
