package storage

import (
	"bytes"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// processCrashThenPowerLoss appends unsynced entries across several
// segments and abandons the log (a killed process: the page cache keeps
// the bytes), then runs reopen on the same file system. Whatever the log
// reopened there claims durable must survive a power loss right after
// (a crash clone of that file system).
func processCrashThenPowerLoss(t *testing.T, reopen func(mem *vfs.MemFS, o Options) *Log) {
	clk := &testClock{t: time.Unix(1000, 0)}
	mem := vfs.NewMem()
	o := testOpts(clk)
	l := mustOpen(t, mem, "/d", o)
	g := newGen()
	for i := 0; i < 10; i++ {
		mustAppend(t, l, g.data(nil, 2, 300))
	}
	mustSync(t, l)
	for l.Segments() < 7 {
		mustAppend(t, l, g.data(nil, 1+int(g.idx%3), 250))
	}
	// Process crash: l is abandoned, its page cache stays.
	o.Handles, o.Indexes = NewHandleCache(4), nil
	l2 := reopen(mem, o)
	if l2.DurableIndex() != l2.LastIndex() || l2.LastIndex() != g.idx-1 {
		t.Fatalf("reopened after a process crash: %s, want every entry (last %d) durable", describe(l2), g.idx-1)
	}
	claimed, next := l2.DurableIndex(), l2.NextOffset()
	want := readAll(t, l2, 0, next, 1<<20)
	// Power loss right after the reopen.
	o.Handles = NewHandleCache(4)
	l3 := mustOpen(t, mem.CrashClone(), "/d", o)
	defer l3.Close()
	if l3.LastIndex() < claimed || l3.NextOffset() < next {
		t.Fatalf("after a power loss: %s; entries up to %d were claimed durable", describe(l3), claimed)
	}
	got, err := l3.ReadBatches(0, 1<<30, next, nil)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("after a power loss, reading what was claimed durable: %d of %d bytes, %v", len(got), len(want), err)
	}
	for i := l3.FirstIndex(); i <= claimed; i++ {
		if _, err := l3.Term(i); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
}

// TestOpenSyncsUnsyncedSegments: Open makes every entry it reports durable
// really durable, also those in segments older than the last two written
// before a process crash (doc.go, "Open and durability").
func TestOpenSyncsUnsyncedSegments(t *testing.T) {
	processCrashThenPowerLoss(t, func(mem *vfs.MemFS, o Options) *Log {
		return mustOpen(t, mem, "/d", o)
	})
}

// TestOpenCrashBeforeItsSync: an Open killed before its sync leaves no
// index file claiming that unsynced segments are durable; the next Open
// still syncs them.
func TestOpenCrashBeforeItsSync(t *testing.T) {
	processCrashThenPowerLoss(t, func(mem *vfs.MemFS, o Options) *Log {
		// The first reopen reads everything but dies at its first sync
		// (a killed process again: what it wrote stays).
		failSync := vfs.InjectorFunc(func(op vfs.Op) error {
			if op.Kind == vfs.OpSync || op.Kind == vfs.OpSyncDir {
				return vfs.ErrInjected
			}
			return nil
		})
		if l, err := Open(vfs.NewErrorFS(mem, failSync), "/d", o); err == nil {
			t.Fatalf("open with failing syncs succeeded: %s", describe(l))
		}
		o.Handles = NewHandleCache(4)
		return mustOpen(t, mem, "/d", o)
	})
}

// TestOpenTrustsDurableSegments: a clean reopen syncs no segment older
// than the last two: the next segment's index file vouches for them.
func TestOpenTrustsDurableSegments(t *testing.T) {
	clk := &testClock{t: time.Unix(1000, 0)}
	mem := vfs.NewMem()
	o := testOpts(clk)
	l := mustOpen(t, mem, "/d", o)
	g := newGen()
	for l.Segments() < 8 {
		mustAppend(t, l, g.data(nil, 1, 300))
		mustSync(t, l)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var synced []string
	count := vfs.InjectorFunc(func(op vfs.Op) error {
		if op.Kind == vfs.OpSync {
			synced = append(synced, op.Path)
		}
		return nil
	})
	o.Handles = NewHandleCache(4)
	l = mustOpen(t, vfs.NewErrorFS(mem, count), "/d", o)
	defer l.Close()
	if len(synced) > 2 {
		t.Fatalf("a clean reopen synced %d files: %v", len(synced), synced)
	}
	if got := readAll(t, l, 0, l.NextOffset(), 1<<20); len(got) == 0 || l.LastIndex() != model.Index(g.idx-1) {
		t.Fatalf("reopened: %s", describe(l))
	}
}
