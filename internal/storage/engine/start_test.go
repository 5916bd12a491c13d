package engine

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/storage"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// syncDirHold is a vfs injector that, once armed, holds the first SyncDir
// of one directory until released: a flush's directory sync then lands
// after whatever the test does meanwhile, as a slow disk could make it.
type syncDirHold struct {
	dir     string
	mu      sync.Mutex
	armed   bool
	reached chan struct{}
	release chan struct{}
}

func newSyncDirHold(dir string) *syncDirHold {
	return &syncDirHold{dir: dir, reached: make(chan struct{}), release: make(chan struct{})}
}

func (h *syncDirHold) MaybeError(op vfs.Op) error {
	if op.Kind != vfs.OpSyncDir || op.Path != h.dir {
		return nil
	}
	h.mu.Lock()
	armed := h.armed
	h.armed = false
	h.mu.Unlock()
	if armed {
		close(h.reached)
		<-h.release
	}
	return nil
}

func (h *syncDirHold) arm() {
	h.mu.Lock()
	h.armed = true
	h.mu.Unlock()
}

// await waits until the held sync is reached (bounded).
func (h *syncDirHold) await(t *testing.T) {
	t.Helper()
	select {
	case <-h.reached:
	case <-time.After(10 * time.Second):
		t.Fatalf("no directory sync of %s was reached", h.dir)
	}
}

func partitionDir(opts Options, k model.PartitionKey) string {
	return path.Join(partitionsDir(opts.Dir), k.String())
}

// segmentBases lists the base indexes of a partition's segment files.
func segmentBases(t *testing.T, fs vfs.FS, dir string) []model.Index {
	t.Helper()
	names, err := fs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []model.Index
	for _, n := range names {
		if stem, ok := strings.CutSuffix(n, ".log"); ok {
			b, err := strconv.ParseUint(stem, 10, 64)
			if err != nil {
				t.Fatalf("segment name %q", n)
			}
			out = append(out, model.Index(b))
		}
	}
	slices.Sort(out)
	return out
}

// stageRange stages data entries from..to of the test's simple log (entry
// i at offset i-1, 4000 bytes).
func stageRange(t *testing.T, e *Engine, k model.PartitionKey, from, to model.Index) {
	t.Helper()
	var buf []byte
	for i := from; i <= to; i++ {
		buf = dataEntry(buf, i, 1, model.Offset(i-1), 1, 4000, byte(i))
	}
	if err := e.Append(k, buf); err != nil {
		t.Fatal(err)
	}
}

// checkSimpleLog checks a reopened log holds first..last of stageRange's
// log, offsets included.
func checkSimpleLog(lg *storage.Log, first, last model.Index) error {
	if lg.FirstIndex() != first || lg.LastIndex() != last {
		return fmt.Errorf("log [%d, %d], want [%d, %d]", lg.FirstIndex(), lg.LastIndex(), first, last)
	}
	if lg.StartOffset() != model.Offset(first-1) || lg.NextOffset() != model.Offset(last) {
		return fmt.Errorf("offsets [%d, %d), want [%d, %d)", lg.StartOffset(), lg.NextOffset(), first-1, last)
	}
	got, err := readAll(lg, first)
	if err != nil {
		return err
	}
	for j, en := range got {
		if want := first + model.Index(j); en.Index != want || en.Offset != model.Offset(want-1) {
			return fmt.Errorf("entry %d at offset %d, want %d at %d", en.Index, en.Offset, want, want-1)
		}
	}
	return nil
}

// TestLogStartSurvivesCrash moves a partition's log start past every closed
// segment (by retention, or by SetStartIndex), so that only the active
// segment is left, while a crash loses that segment's written-behind
// entries (they are in the journal only). A flush's directory sync, held
// until the start has moved, makes the removals and the active segment's
// (empty) file durable. Recovery must reopen the log at the new start with
// the Kafka offset of that index, and replay the journal onto it.
func TestLogStartSurvivesCrash(t *testing.T) {
	for _, how := range []string{"retain", "start index"} {
		t.Run(how, func(t *testing.T) {
			mem := vfs.NewMem()
			opts := crashOptions(mem)
			k := key(3)
			hold := newSyncDirHold(partitionDir(opts, k))
			opts.FS = vfs.NewErrorFS(mem, hold)
			opts.FlushFraction = 0.9 // the test starts the flushes
			e, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = e.Close() }()
			// Journaled rounds (small ones, below the direct path's
			// threshold), flushed, then more that roll a segment and leave
			// the partition directory to sync.
			for i := model.Index(1); i <= 50; i += 2 {
				stageRange(t, e, k, i, i+1)
				mustRound(t, e)
				if i == 39 {
					if err := e.Flush(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if n := len(segmentBases(t, mem, hold.dir)); n < 4 {
				t.Fatalf("%d segments, want several", n)
			}
			// A write-behind flush: its segment syncs run, its directory
			// sync waits.
			if e.flush != nil {
				t.Fatal("a flush is running already")
			}
			hold.arm()
			if !e.startFlush() {
				t.Fatal("no flush started")
			}
			flushed := e.FlushDone()
			hold.await(t)
			// Meanwhile entries roll into a new active segment, journaled
			// and written behind only.
			for i := model.Index(51); i <= 70; i += 2 {
				stageRange(t, e, k, i, i+1)
				mustRound(t, e)
			}
			bases := segmentBases(t, mem, hold.dir)
			active := bases[len(bases)-1]
			if active <= 51 || active > 70 {
				t.Fatalf("segments %v: want the active one to start within 52..70", bases)
			}
			switch how {
			case "retain":
				n, err := e.Retain(k, storage.RetentionPolicy{Bytes: 1, Age: -1}, 70)
				if err != nil || n != len(bases)-1 {
					t.Fatalf("retain removes %d segments (%v), want %d", n, err, len(bases)-1)
				}
			default:
				if err := e.SetStartIndex(k, active); err != nil {
					t.Fatal(err)
				}
			}
			mustRound(t, e)
			lg, _ := e.Partition(k)
			if err := checkSimpleLog(lg, active, 70); err != nil {
				t.Fatalf("after moving the start: %v", err)
			}
			if got := segmentBases(t, mem, hold.dir); !slices.Equal(got, []model.Index{active}) {
				t.Fatalf("segments %v after moving the start to %d", got, active)
			}
			close(hold.release)
			<-flushed

			clone := mem.CrashClone()
			e2, err := Open(crashOptions(clone))
			if err != nil {
				t.Fatalf("reopen after the crash: %v", err)
			}
			defer func() { _ = e2.Close() }()
			lg2, err := e2.Partition(k)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkSimpleLog(lg2, active, 70); err != nil {
				t.Fatalf("reopened: %v", err)
			}
		})
	}
}
