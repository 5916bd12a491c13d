package engine

import (
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// TestOSFileSystem runs the mixed workload (journaled and direct rounds,
// rolls, a truncation, hard states, a flush, a prefix truncation) on the
// real file system, buffered and with O_DIRECT, then reopens twice: once
// after abandoning the engine without Close (a process crash: the page
// cache survives, so every acknowledged entry and hard state must be
// back), and once after a clean Close.
func TestOSFileSystem(t *testing.T) {
	for _, direct := range []bool{false, true} {
		t.Run(map[bool]string{false: "buffered", true: "direct"}[direct], func(t *testing.T) {
			opts := crashOptions(vfs.NewOS())
			opts.Dir = t.TempDir()
			opts.Direct = direct
			acked, err := errorWorkloadOpen(opts, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, close := range []bool{false, true} {
				e, err := Open(opts)
				if err != nil {
					t.Fatalf("reopen: %v", err)
				}
				checkAcked(t, e, acked)
				if close {
					if err := e.Close(); err != nil {
						t.Fatal(err)
					}
				} else {
					abandon(e)
				}
			}
		})
	}
}

func checkAcked(t *testing.T, e *Engine, acked ackedState) {
	t.Helper()
	if len(acked.last) == 0 {
		t.Fatal("workload acknowledged nothing")
	}
	for k, last := range acked.last {
		lg, err := e.Partition(k)
		if err != nil {
			t.Fatal(err)
		}
		if lg.LastIndex() < last {
			t.Fatalf("%s recovered to %d, acknowledged %d", k, lg.LastIndex(), last)
		}
		got, err := readAll(lg, lg.FirstIndex())
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		for i, g := range got {
			if want := lg.FirstIndex() + model.Index(i); g.Index != want {
				t.Fatalf("%s: entry %d at position of %d", k, g.Index, want)
			}
		}
	}
	for k, want := range acked.hs {
		if got, ok, err := e.HardState(k); err != nil || !ok || got.Term != want.Term || got.Vote != want.Vote {
			t.Fatalf("%s hard state %+v %v %v, want %+v", k, got, ok, err, want)
		}
	}
}
