package engine

import (
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// TestPipelineMinBytes: the next round may start beside a large round in
// flight, not beside a small one; a partition whose direct write is in
// flight stays staged; rounds finish oldest first.
func TestPipelineMinBytes(t *testing.T) {
	e, err := Open(Options{FS: vfs.NewMem(), Dir: "/e", JournalFileBytes: 1 << 20, JournalFiles: 4,
		PipelineMinBytes: 64 << 10, DirectMinBytes: 1 << 20, DirectMaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	next := map[int]model.Index{0: 1, 1: 1}
	off := map[int]model.Offset{}
	stage := func(p, size int) {
		t.Helper()
		i := next[p]
		if err := e.Append(key(p), dataEntry(nil, i, 1, off[p], 1, size, byte(i))); err != nil {
			t.Fatal(err)
		}
		next[p]++
		off[p]++
	}
	start := func() *Round {
		t.Helper()
		r, err := e.StartRound()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	stage(0, 1000)
	small := start()
	stage(1, 1000)
	if e.CanStart() {
		t.Fatal("a round may start beside a small one")
	}
	if err := small.Wait(); err != nil {
		t.Fatal(err)
	}
	e.FinishRound(small)
	if !e.CanStart() {
		t.Fatal("nothing in flight, work staged: CanStart false")
	}
	stage(0, 100<<10) // journal path (below the direct threshold), large
	big := start()
	stage(0, 1000)
	if !e.CanStart() {
		t.Fatal("no round may start beside a large one")
	}
	second := start()
	if e.InFlight() != 2 || e.CanStart() {
		t.Fatalf("%d in flight, CanStart %v", e.InFlight(), e.CanStart())
	}
	if err := second.Wait(); err != nil {
		t.Fatal(err)
	}
	e.FinishRound(second) // out of order: the engine fails
	if e.Err() == nil {
		t.Fatal("finishing the newer round first did not fail the engine")
	}
	_ = big.Wait()
}

// TestLargeStagingSplits: a partition with live journal records that
// stages more than one journal record may hold (a follower catching up)
// is journaled over several rounds, not refused: every entry becomes
// durable and readable, in order.
func TestLargeStagingSplits(t *testing.T) {
	e, err := Open(Options{FS: vfs.NewMem(), Dir: "/e", JournalFileBytes: 256 << 10, JournalFiles: 4,
		DirectMinBytes: 64 << 20, DirectMaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	round := func() {
		t.Helper()
		if _, err := e.Round(); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Append(key(0), dataEntry(nil, 1, 1, 0, 1, 100, 1)); err != nil {
		t.Fatal(err)
	}
	round() // a live journal record: the partition stays on the journal path
	var buf []byte
	const n = 200 // 200 × 4 KiB: ~800 KiB, more than a 256 KiB journal file
	for i := 0; i < n; i++ {
		buf = dataEntry(buf, model.Index(2+i), 1, model.Offset(1+i), 1, 4<<10, byte(i))
	}
	if err := e.Append(key(0), buf); err != nil {
		t.Fatal(err)
	}
	rounds := 0
	for e.Staged(key(0)) && rounds < 50 {
		round()
		rounds++
	}
	if e.Err() != nil || e.Staged(key(0)) {
		t.Fatalf("after %d rounds: err %v, still staged %v", rounds, e.Err(), e.Staged(key(0)))
	}
	if rounds < 2 {
		t.Fatalf("%d round(s) for %d bytes: the record was not split", rounds, len(buf))
	}
	l, err := e.Partition(key(0))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.DurableIndex(key(0)); got != n+1 {
		t.Fatalf("durable index %d, want %d", got, n+1)
	}
	for i := model.Index(2); i < n+2; {
		es, err := l.Entries(i, n+2, 64<<20)
		if err != nil || len(es) == 0 {
			t.Fatalf("reading from entry %d: %d entries, %v", i, len(es), err)
		}
		for _, en := range es {
			if en.Index != i {
				t.Fatalf("entry %d where %d was expected", en.Index, i)
			}
			i++
		}
	}
}
