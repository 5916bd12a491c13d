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
