package journal

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/petrel-streaming/petrel/internal/vfs"
)

// TestErrorInjection fails operation 0, 1, 2, … of each kind during Open,
// Replay and a few rounds that cross files, until a run completes without
// the failure firing. Every failure must surface as a clean error (the
// injected one, wrapped), a failed round must make the journal refuse more
// work, and a crash clone reopened without injection must replay a gapless,
// byte-exact prefix holding at least every round that completed.
func TestErrorInjection(t *testing.T) {
	kinds := []vfs.OpKind{vfs.OpCreate, vfs.OpOpen, vfs.OpRead, vfs.OpWrite, vfs.OpSync,
		vfs.OpMkdir, vfs.OpList, vfs.OpStat, vfs.OpSyncDir, vfs.OpClose}
	for _, kind := range kinds {
		for _, reopen := range []bool{false, true} {
			n := 0
			for ; n < 200; n++ {
				mem := vfs.NewMem()
				m := newModel()
				if reopen { // a journal with records already, so Open/Replay read them
					j := mustOpen(t, mem, testDir, injOpts())
					replayAll(t, j, 0)
					if _, _, err := injectRun(t, j, m, 2); err != nil {
						t.Fatal(err)
					}
					j.Close()
				}
				inj := vfs.FailNth(n, kind)
				durable, added, err := injectScenario(t, vfs.NewErrorFS(mem, inj), m)
				if !inj.Fired() {
					if err != nil {
						t.Fatalf("%v #%d: error without injection: %v", kind, n, err)
					}
					break
				}
				if err != nil && !errors.Is(err, vfs.ErrInjected) {
					t.Fatalf("%v #%d: %v does not wrap the injected error", kind, n, err)
				}
				j := mustOpen(t, mem.CrashClone(), testDir, injOpts())
				out := replayAll(t, j, 1)
				end := uint64(len(out))
				if end < durable || end > max(added, durable) {
					t.Fatalf("%v #%d: replayed %d records, durable %d, added %d (err %v)", kind, n, end, durable, added, err)
				}
				if err := m.diff(out, 1, end); err != nil {
					t.Fatalf("%v #%d: %v", kind, n, err)
				}
				j.Close()
			}
			if n == 200 {
				t.Fatalf("%v: still failing after %d steps", kind, n)
			}
		}
	}
}

// injOpts: files of 7 record pages, 18 records of 1.5 KiB each.
func injOpts() Options {
	o := smallOpts()
	o.FileSize = 8 * pageSize
	return o
}

// injectScenario opens the journal on fsys, replays, and runs three rounds
// of records crossing files. It returns the last seq of a completed round,
// the last seq added, and the first error.
func injectScenario(t *testing.T, fsys vfs.FS, m *model_) (durable, added uint64, err error) {
	before := uint64(len(m.recs))
	j, err := Open(fsys, testDir, injOpts())
	if err != nil {
		return before, before, err
	}
	defer func() {
		if cerr := j.Close(); err == nil {
			err = cerr
		}
	}()
	var out []got
	if err := j.Replay(1, func(seq uint64, r Record) error {
		out = append(out, got{seq, Record{r.Kind, r.Key, append([]byte(nil), r.Payload...)}})
		return nil
	}); err != nil {
		return before, before, err
	}
	if err := m.diff(out, 1, before); err != nil {
		t.Fatalf("replay before the rounds: %v", err)
	}
	return injectRun(t, j, m, 3)
}

// injectRun adds records in rounds of 5 and stops at the first error.
func injectRun(t *testing.T, j *Journal, m *model_, rounds int) (durable, added uint64, err error) {
	rng := rand.New(rand.NewPCG(uint64(len(m.recs)), 1))
	durable = j.DurableSeq()
	for range rounds {
		for range 5 {
			if _, err := m.add(t, j, genRecord(rng, 1500)); err != nil {
				return durable, j.LastSeq(), err
			}
		}
		s := j.PrepareSync()
		if s == nil {
			t.Fatal("nothing to sync after adds")
		}
		err := s.Run()
		j.FinishSync(s, err)
		if err != nil {
			if _, aerr := j.Add(Record{Kind: 1}); aerr == nil || j.PrepareSync() != nil {
				t.Fatal("journal accepts work after a failed round")
			}
			return durable, j.LastSeq(), err
		}
		durable = j.DurableSeq()
	}
	return durable, j.LastSeq(), nil
}
