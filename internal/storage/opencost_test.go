package storage

import (
	"fmt"
	"os"
	"path"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/vfs"
)

// TestOpenCost measures (figures, no assert on time) what Open costs on the
// OS file system for many partitions of a few segments each: after a clean
// Close, after a process crash (appends never synced), and, for
// comparison, what an fdatasync of every segment file would add. Run it
// with PETREL_STORAGE_OPEN_COST=1 (it writes about 120 MB).
func TestOpenCost(t *testing.T) {
	if os.Getenv("PETREL_STORAGE_OPEN_COST") == "" {
		t.Skip("set PETREL_STORAGE_OPEN_COST=1 to measure")
	}
	const parts, segsPer, rounds = 1000, 5, 3
	var syncs atomic.Int64
	fsys := vfs.NewErrorFS(vfs.NewOS(), vfs.InjectorFunc(func(op vfs.Op) error {
		if op.Kind == vfs.OpSync {
			syncs.Add(1)
		}
		return nil
	}))
	root := t.TempDir()
	opts := Options{Logger: quietLogger(), SegmentBytes: 8 << 10, PreallocStep: 8 << 10,
		Handles: NewHandleCache(256)}
	dir := func(p int) string { return path.Join(root, fmt.Sprintf("p%04d", p)) }
	fill := func(add int, sync bool) {
		for p := 0; p < parts; p++ {
			l := mustOpen(t, fsys, dir(p), opts)
			g := newGen()
			g.idx, g.off = l.LastIndex()+1, l.NextOffset()
			for want := l.Segments() + add; l.Segments() < want; {
				mustAppend(t, l, g.data(nil, 1, 1000))
			}
			if sync {
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			} // else abandoned, as by a killed process
		}
	}
	// openAll opens every partition, returning the time and the files
	// fdatasync'd (Close syncs nothing after a clean Open).
	openAll := func() (time.Duration, int64) {
		syncs.Store(0)
		start := time.Now()
		for p := 0; p < parts; p++ {
			if err := mustOpen(t, fsys, dir(p), opts).Close(); err != nil {
				t.Fatal(err)
			}
		}
		return time.Since(start), syncs.Load()
	}
	median := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[len(d)/2]
	}
	fill(segsPer-1, true)
	var clean, crash, syncAll []time.Duration
	var cleanSyncs, crashSyncs int64
	for r := 0; r < rounds; r++ {
		d, n := openAll()
		clean, cleanSyncs = append(clean, d), n
		start := time.Now()
		for p := 0; p < parts; p++ {
			names, err := fsys.List(dir(p))
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				if _, ok := parseSegmentName(n); !ok {
					continue
				}
				f, err := fsys.Open(path.Join(dir(p), n), vfs.OpenOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if err := f.Datasync(); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
		}
		syncAll = append(syncAll, time.Since(start))
		fill(3, false)
		d, n = openAll()
		crash, crashSyncs = append(crash, d), n
	}
	t.Logf("Open+Close of %d partitions, median of %d: clean %v (%d files synced), "+
		"after a process crash that left 3+ segments per partition unsynced %v (%d files synced); "+
		"for comparison, open+fdatasync+close of every clean segment file: %v",
		parts, rounds, median(clean), cleanSyncs, median(crash), crashSyncs, median(syncAll))
}
