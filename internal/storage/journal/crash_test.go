package journal

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/petrel-streaming/petrel/internal/vfs"
)

// TestCrashProperty drives random Adds, rounds and Releases and crash-clones
// at random points (between rounds, or in the middle of one with a random
// subset of its pages on disk). After each crash the journal is reopened
// and replayed from the last released point: it must yield every record of
// every completed round, in order, byte for byte, plus possibly a gapless
// prefix of the round in flight, and then carry on from there.
func TestCrashProperty(t *testing.T) {
	seeds, steps := 40, 300
	if testing.Short() {
		seeds, steps = 12, 250
	}
	base := rand.Uint64()
	for s := range seeds {
		seed := base + uint64(s)
		if !crashRun(t, seed, steps) {
			t.Fatalf("failed with seed %d (rerun: crashRun(t, %d, %d))", seed, seed, steps)
		}
	}
}

func crashRun(t *testing.T, seed uint64, steps int) bool {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0xc0ffee))
	opts := smallOpts()
	opts.MaxFiles = 2 + rng.IntN(3)
	opts.Direct = rng.IntN(2) == 0
	fsys := vfs.NewMem()
	m := newModel()
	j := mustOpen(t, fsys, testDir, opts)
	replayAll(t, j, 0)
	released := uint64(1)
	crashes := 0
	for step := range steps {
		switch op := rng.IntN(20); {
		case op < 12:
			if _, err := m.add(t, j, genRecord(rng, rng.IntN(2500))); err != nil && !errors.Is(err, ErrFull) {
				t.Errorf("seed %d step %d: add: %v", seed, step, err)
				return false
			}
		case op < 16:
			round(t, j)
		case op < 18:
			released = max(released, 1+rng.Uint64N(j.DurableSeq()+1))
			j.Release(released)
		default:
			durable, added := j.DurableSeq(), j.LastSeq()
			var c *vfs.MemFS
			if s := j.PrepareSync(); s != nil && rng.IntN(2) == 0 {
				for _, w := range s.writes[:rng.IntN(len(s.writes)+1)] {
					j.files[w.file].f.WriteAt(w.buf, w.off)
				}
				c = fsys.CrashClone(vfs.CrashCloneOptions{KeepUnsyncedPages: rng})
			} else {
				if s != nil {
					err := s.Run()
					j.FinishSync(s, err)
					durable = j.DurableSeq()
				}
				c = fsys.CrashClone()
			}
			j.Close()
			crashes++
			fsys = c
			j = mustOpen(t, fsys, testDir, opts)
			var out []got
			if err := j.Replay(released, func(seq uint64, r Record) error {
				out = append(out, got{seq, Record{r.Kind, r.Key, append([]byte(nil), r.Payload...)}})
				return nil
			}); err != nil {
				t.Errorf("seed %d step %d: replay: %v", seed, step, err)
				return false
			}
			end := released + uint64(len(out)) - 1
			if end < durable || end > added {
				t.Errorf("seed %d step %d: replayed [%d, %d], durable %d, added %d", seed, step, released, end, durable, added)
				return false
			}
			if err := m.diff(out, released, end); err != nil {
				t.Errorf("seed %d step %d: %v", seed, step, err)
				return false
			}
			for seq := end + 1; seq <= added; seq++ {
				delete(m.recs, seq) // lost with the round in flight
			}
			if j.LastSeq() != end {
				t.Errorf("seed %d step %d: last seq %d after replay, want %d", seed, step, j.LastSeq(), end)
				return false
			}
		}
	}
	j.Close()
	if crashes == 0 {
		t.Errorf("seed %d: no crash in %d steps", seed, steps)
		return false
	}
	return true
}
