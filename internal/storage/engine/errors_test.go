package engine

import (
	"errors"
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// TestErrorInjection fails the Nth file system operation, for N = 0, 1, 2,
// … until a whole workload succeeds: opening, journaled and direct rounds,
// a roll, a truncation, metadata (hard state) updates, a flush, a prefix
// truncation, and recovery. Every failure must surface as an error (never a
// panic or a silent success), and a reopen of a crash clone must hold every
// acknowledged entry and hard state.
func TestErrorInjection(t *testing.T) {
	var (
		mem   *vfs.MemFS
		acked ackedState
	)
	failEachOp(t, 5000, func(inj *vfs.Nth) (err error) {
		mem = vfs.NewMem()
		acked, err = errorWorkload(crashOptions(vfs.NewErrorFS(mem, inj)))
		return err
	}, func(n int) { checkRecovered(t, n, mem, acked) })
}

// failEachOp runs attempt with an injector failing its Nth file system
// operation, for N = 0, 1, 2, … until one completes without the injected
// failure firing (it must then succeed). An attempt that fails must return
// an error wrapping the injected one; verify(N) checks what it left. A
// workload that succeeds despite the failure (say, on closing a read
// handle) is verified too.
func failEachOp(t *testing.T, limit int, attempt func(*vfs.Nth) error, verify func(n int)) {
	t.Helper()
	for n := 0; ; n++ {
		if n > limit {
			t.Fatal("workload never completed")
		}
		inj := vfs.FailNth(n)
		err := attempt(inj)
		if !inj.Fired() {
			if err != nil {
				t.Fatalf("n=%d: no injected error, yet the workload failed: %v", n, err)
			}
			t.Logf("workload completes after %d operations", n)
			return
		}
		if err != nil && !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("n=%d: error does not wrap the injected one: %v", n, err)
		}
		verify(n)
	}
}

// ackedState is what the workload saw acknowledged before it failed.
type ackedState struct {
	last map[model.PartitionKey]model.Index
	hs   map[model.PartitionKey]HardState
}

func errorWorkload(opts Options) (ackedState, error) { return errorWorkloadOpen(opts, true) }

// errorWorkloadOpen runs the workload; with closeAtEnd false it leaves the
// engine's files as a killed process would (no final flush).
func errorWorkloadOpen(opts Options, closeAtEnd bool) (ackedState, error) {
	acked := ackedState{last: map[model.PartitionKey]model.Index{}, hs: map[model.PartitionKey]HardState{}}
	e, err := Open(opts)
	if err != nil {
		return acked, err
	}
	defer func() {
		if closeAtEnd {
			_ = e.Close()
		} else {
			abandon(e)
		}
	}()
	round := func() error {
		res, err := e.Round()
		if err != nil {
			return err
		}
		for _, d := range res.Durable {
			acked.last[d.Key] = d.Index
		}
		return nil
	}
	a, b := key(1), key(2)
	next := map[model.PartitionKey]model.Index{a: 1, b: 1}
	app := func(k model.PartitionKey, n, size int) error {
		var buf []byte
		for range n {
			i := next[k]
			buf = dataEntry(buf, i, 1, model.Offset(i-1), 1, size, byte(i))
			next[k]++
		}
		return e.Append(k, buf)
	}
	steps := []func() error{
		func() error { return app(a, 3, 500) },
		func() error { return app(b, 2, 500) },
		func() error { return round() },
		func() error { return app(a, 8, 6000) }, // direct, and a roll
		func() error { return e.SetHardState(a, HardState{Term: 1, Vote: 1, Commit: 3}) },
		func() error { return round() },
		func() error { return app(b, 20, 4000) }, // journaled (live records), rolls
		func() error { return round() },
		func() error {
			// From here a crash may show the cut whether or not the round
			// that makes it reports success.
			acked.last[b] = min(acked.last[b], 9)
			return e.Truncate(b, 10)
		},
		func() error { next[b] = 10; return app(b, 2, 300) },
		func() error { return round() },
		func() error { return e.Flush() },
		func() error { return e.SetStartIndex(a, 4) },
		func() error { return round() },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return acked, err
		}
	}
	acked.hs[a] = HardState{Term: 1, Vote: 1, Commit: 3}
	if !closeAtEnd {
		return acked, nil
	}
	return acked, e.Close()
}

func checkRecovered(t *testing.T, n int, mem *vfs.MemFS, acked ackedState) {
	t.Helper()
	opts := crashOptions(mem.CrashClone())
	e, err := Open(opts)
	if err != nil {
		t.Fatalf("n=%d: recovery after the injected failure: %v", n, err)
	}
	defer e.Close()
	for k, last := range acked.last {
		lg, err := e.Partition(k)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if lg.LastIndex() < last {
			t.Fatalf("n=%d: %s recovered to %d, acknowledged %d", n, k, lg.LastIndex(), last)
		}
		if _, err := readAll(lg, lg.FirstIndex()); err != nil {
			t.Fatalf("n=%d: %s: reading recovered log: %v", n, k, err)
		}
	}
	for k, want := range acked.hs {
		if got, ok, err := e.HardState(k); err != nil || !ok || got.Term != want.Term || got.Vote != want.Vote {
			t.Fatalf("n=%d: %s hard state %+v %v %v, want %+v", n, k, got, ok, err, want)
		}
	}
}

// abandon leaves an engine as a killed process would: nothing more is
// written or synced (its files stay open until the test process exits).
func abandon(e *Engine) {
	if e.flush != nil {
		<-e.flush.done // a background flush finishes its own syscalls
	}
	e.closed = true
}
