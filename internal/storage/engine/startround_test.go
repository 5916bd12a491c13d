package engine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/storage"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// startRounds drives one partition through rounds that move its log start
// while a crashTaker clones the file system before every sync, and
// remembers, per phase, what the engine showed when the phase began: the
// start it had applied and the last durable index. A clone taken in a
// phase must recover a log that starts no lower and ends no earlier.
type startRounds struct {
	t     *testing.T
	seed  uint64
	e     *Engine
	k     model.PartitionKey
	ct    *crashTaker
	gens  []rlog // log generations, by first index ascending
	first []model.Index
	last  []model.Index
}

func newStartRounds(t *testing.T) *startRounds {
	seed := uint64(time.Now().UnixNano())
	mem := vfs.NewMem()
	ct := &crashTaker{mem: mem, rng: rand.New(rand.NewPCG(seed, seed>>3))}
	e, err := Open(crashOptions(vfs.NewErrorFS(mem, ct)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	s := &startRounds{t: t, seed: seed, e: e, k: key(11), ct: ct}
	// Entries 1..40 in two segments, flushed: no live journal records, so
	// a large staging takes the direct path.
	g := rlog{first: 1, term: 1, size: 3000}
	for i := model.Index(1); i <= 40; i += 10 {
		g.stage(t, e, s.k, i, i+9)
		mustRound(t, e)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	s.gens = []rlog{g}
	ct.mu.Lock()
	ct.armed = true
	ct.mu.Unlock()
	s.phase()
	return s
}

func (s *startRounds) log() *storage.Log {
	lg, err := s.e.Partition(s.k)
	if err != nil {
		s.t.Fatal(err)
	}
	return lg
}

// phase starts a new phase at the engine's current state.
func (s *startRounds) phase() {
	s.first = append(s.first, s.log().FirstIndex())
	s.last = append(s.last, s.e.DurableIndex(s.k))
	s.ct.setPhase(len(s.first) - 1)
	s.ct.take(fmt.Sprintf("phase %d", len(s.first)-1))
}

func (s *startRounds) setStart(i model.Index) {
	s.t.Helper()
	if err := s.e.SetStartIndex(s.k, i); err != nil {
		s.t.Fatal(err)
	}
}

func (s *startRounds) start() *Round {
	s.t.Helper()
	r, err := s.e.StartRound()
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// finish waits for and finishes r, checks the start the engine applied,
// and begins a phase.
func (s *startRounds) finish(r *Round, wantFirst model.Index) {
	s.t.Helper()
	_ = r.Wait()
	s.e.FinishRound(r)
	if err := s.e.Err(); err != nil {
		s.t.Fatalf("finishing a round: %v", err)
	}
	s.checkStart(s.log(), wantFirst)
	s.phase()
}

func (s *startRounds) round(wantFirst model.Index) { s.finish(s.start(), wantFirst) }

// gen is the generation that holds index i.
func (s *startRounds) gen(i model.Index) rlog {
	g := s.gens[0]
	for _, x := range s.gens[1:] {
		if i >= x.first {
			g = x
		}
	}
	return g
}

func (s *startRounds) checkStart(lg *storage.Log, want model.Index) {
	s.t.Helper()
	if lg.FirstIndex() != want || lg.StartOffset() != s.gen(want).offset(want) {
		s.t.Fatalf("log starts at %d offset %d, want %d offset %d",
			lg.FirstIndex(), lg.StartOffset(), want, s.gen(want).offset(want))
	}
}

// checkClones reopens every crash clone: its log starts no lower and ends
// no earlier than the engine showed when the clone was taken, at the
// offset of its first index, and reads back whole.
func (s *startRounds) checkClones() {
	s.t.Helper()
	s.ct.mu.Lock()
	s.ct.armed = false
	clones := s.ct.clones
	s.ct.mu.Unlock()
	for n, c := range clones {
		err := reopenCheck(c.fs, crashOptions(c.fs), func(e2 *Engine) error {
			lg, err := e2.Partition(s.k)
			if err != nil {
				return err
			}
			first := lg.FirstIndex()
			if first < s.first[c.phase] || lg.LastIndex() < s.last[c.phase] {
				return fmt.Errorf("log [%d, %d], the engine had shown it from %d and durable to %d",
					first, lg.LastIndex(), s.first[c.phase], s.last[c.phase])
			}
			if want := s.gen(first).offset(first); lg.StartOffset() != want {
				return fmt.Errorf("log starts at %d offset %d, want offset %d", first, lg.StartOffset(), want)
			}
			got, err := readAll(lg, first)
			if err != nil {
				return err
			}
			for _, en := range got {
				if want := s.gen(en.Index).offset(en.Index); en.Offset != want {
					return fmt.Errorf("entry %d at offset %d, want %d", en.Index, en.Offset, want)
				}
			}
			return nil
		})
		if err != nil {
			s.t.Fatalf("seed %d, crash point %d (phase %d, %s): %v", s.seed, n, c.phase, c.op, err)
		}
	}
	if len(clones) < len(s.first) {
		s.t.Fatalf("%d crash points for %d phases", len(clones), len(s.first))
	}
}

// TestStartRoundsInFlight stages a newer start while a round carrying an
// older one is in flight: the round applies the start it carries, and the
// newer one is applied only by its own round, once durable. Crash clones
// before every sync recover no less than the engine had applied.
func TestStartRoundsInFlight(t *testing.T) {
	t.Run("pipelined", func(t *testing.T) {
		s := newStartRounds(t)
		s.setStart(10)
		r1 := s.start()
		s.setStart(30)
		if !s.e.CanStart() {
			t.Fatal("the newer start is held back")
		}
		r2 := s.start()
		s.finish(r1, 10)
		s.finish(r2, 30)
		s.checkClones()
	})
	t.Run("behind a direct write", func(t *testing.T) {
		s := newStartRounds(t)
		s.gens[0].stage(t, s.e, s.k, 41, 60) // 60 KB: the direct path
		s.setStart(10)
		r1 := s.start()
		if len(r1.direct) != 1 {
			t.Fatalf("%d direct writes", len(r1.direct))
		}
		s.setStart(30)
		if s.e.CanStart() {
			t.Fatal("a partition with a direct write in flight is not held back")
		}
		s.finish(r1, 10)
		s.round(30)
		s.checkClones()
	})
	t.Run("after a reset", func(t *testing.T) {
		s := newStartRounds(t)
		s.setStart(10)
		r1 := s.start()
		nw := rlog{first: 100, term: 2, off0: 5000, size: 500}
		if err := s.e.Reset(s.k, 100, 5000); err != nil {
			t.Fatal(err)
		}
		s.gens = append(s.gens, nw)
		nw.stage(t, s.e, s.k, 100, 110)
		s.setStart(105)
		r2 := s.start()
		if len(r2.resets) != 1 {
			t.Fatalf("the second round carries %d resets", len(r2.resets))
		}
		s.finish(r1, 10)
		s.finish(r2, 100)
		s.round(105) // the start waited for the reset's entries
		if err := nw.verify(s.log(), 105, 110); err != nil {
			t.Fatal(err)
		}
		s.checkClones()
	})
}

// TestResetBelowPendingCommit: a reset at or below the commit index of a
// hard state staged, or in a round in flight, is refused as one below the
// durable commit index is: the reset's round would write that hard state
// with its commit index capped below the reset, a commit index going back.
func TestResetBelowPendingCommit(t *testing.T) {
	for _, where := range []string{"staged", "in flight"} {
		t.Run(where, func(t *testing.T) {
			_, _, e := openMem(t)
			k := key(12)
			g := rlog{first: 1, term: 1, size: 500}
			g.stage(t, e, k, 1, 70)
			if err := e.SetHardState(k, HardState{Term: 1, Vote: 1, Commit: 30}); err != nil {
				t.Fatal(err)
			}
			mustRound(t, e)
			if err := e.SetHardState(k, HardState{Term: 1, Vote: 1, Commit: 50}); err != nil {
				t.Fatal(err)
			}
			var r *Round
			if where == "in flight" {
				var err error
				if r, err = e.StartRound(); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.Reset(k, 45, 44); !errors.Is(err, ErrResetBelowCommit) {
				t.Fatalf("reset to 45 with commit index 50 %s: %v", where, err)
			}
			if err := e.Reset(k, 51, 50); err != nil {
				t.Fatalf("reset above the commit index: %v", err)
			}
			if r != nil {
				_ = r.Wait()
				e.FinishRound(r)
			}
			mustRound(t, e)
			hs, _, err := e.HardState(k)
			if err != nil || hs.Commit != 50 {
				t.Fatalf("hard state %+v (%v), want commit 50", hs, err)
			}
			lg, _ := e.Partition(k)
			if lg.FirstIndex() != 51 || lg.LastIndex() != 50 {
				t.Fatalf("log [%d, %d] after the reset to 51", lg.FirstIndex(), lg.LastIndex())
			}
		})
	}
}
