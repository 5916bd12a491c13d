package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/storage"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// rlog describes one generation of a partition's log in these tests: entry
// i (≥ first) has term and Kafka offset off0 + (i - first), one record, of
// size bytes.
type rlog struct {
	first model.Index
	term  model.Term
	off0  model.Offset
	size  int
}

func (g rlog) offset(i model.Index) model.Offset { return g.off0 + model.Offset(i-g.first) }

func (g rlog) entry(dst []byte, i model.Index) []byte {
	return dataEntry(dst, i, g.term, g.offset(i), 1, g.size, byte(i)^byte(g.term))
}

// stage appends entries [from, to] of g.
func (g rlog) stage(t *testing.T, e *Engine, k model.PartitionKey, from, to model.Index) {
	t.Helper()
	var buf []byte
	for i := from; i <= to; i++ {
		buf = g.entry(buf, i)
	}
	if err := e.Append(k, buf); err != nil {
		t.Fatalf("append [%d, %d]: %v", from, to, err)
	}
}

// verify checks that lg holds exactly entries [from, to] of g.
func (g rlog) verify(lg *storage.Log, from, to model.Index) error {
	if lg.LastIndex() != to {
		return fmt.Errorf("last index %d, want %d", lg.LastIndex(), to)
	}
	got, err := readAll(lg, from)
	if err != nil {
		return fmt.Errorf("read from %d: %w", from, err)
	}
	if len(got) != int(to-from+1) {
		return fmt.Errorf("read %d entries from %d, want %d", len(got), from, to-from+1)
	}
	for _, e := range got {
		if raw := storage.AppendEntry(nil, e.EntryHeader, e.Payload); !bytes.Equal(raw, g.entry(nil, e.Index)) {
			return fmt.Errorf("entry %d (term %d offset %d) is not the one written", e.Index, e.Term, e.Offset)
		}
	}
	return nil
}

func mustRound(t *testing.T, e *Engine) Result {
	t.Helper()
	res, err := e.Round()
	if err != nil {
		t.Fatalf("round: %v", err)
	}
	return res
}

// checkReset checks the shape of a log reset at next (offset off) holding
// entries up to last of g.
func checkReset(lg *storage.Log, g rlog, last model.Index) error {
	if lg.FirstIndex() != g.first || lg.StartOffset() != g.off0 {
		return fmt.Errorf("first index %d start offset %d, want %d and %d", lg.FirstIndex(), lg.StartOffset(), g.first, g.off0)
	}
	if want := g.offset(last + 1); lg.NextOffset() != want {
		return fmt.Errorf("next offset %d, want %d", lg.NextOffset(), want)
	}
	if last < g.first {
		if lg.LastIndex() != last {
			return fmt.Errorf("last index %d, want %d", lg.LastIndex(), last)
		}
		return nil
	}
	return g.verify(lg, g.first, last)
}

func TestResetUnknownPartition(t *testing.T) {
	_, _, e := openMem(t)
	if err := e.Reset(key(3), 10, 100); !errors.Is(err, ErrUnknownPartition) {
		t.Fatalf("reset of an unknown partition: %v, want ErrUnknownPartition", err)
	}
	if e.Pending() {
		t.Fatal("a refused reset left work staged")
	}
}

// oldLog builds a partition with closed segments, some flushed and the
// tail only journaled: entries 1..70 of the returned generation, hard
// state commit 50.
func oldLog(t *testing.T, e *Engine, k model.PartitionKey) rlog {
	t.Helper()
	old := rlog{first: 1, term: 1, off0: 0, size: 4000}
	for i := model.Index(1); i <= 60; i += 10 {
		old.stage(t, e, k, i, i+9)
		mustRound(t, e)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	old.stage(t, e, k, 61, 63) // below the direct threshold: journaled
	mustRound(t, e)
	old.stage(t, e, k, 64, 70) // journaled after it (live records)
	if err := e.SetHardState(k, HardState{Term: 1, Vote: 1, Commit: 50}); err != nil {
		t.Fatal(err)
	}
	mustRound(t, e)
	lg, _ := e.Partition(k)
	if lg.Segments() < 3 || e.parts[k].live == 0 {
		t.Fatalf("setup: %d segments, live journal records %d: want closed segments and a journaled tail", lg.Segments(), e.parts[k].live)
	}
	return old
}

// TestResetReplacesLog resets a log with closed segments and a journaled,
// unflushed tail to an index past its end, appends after it, and checks
// the log after the round, after a clean reopen and after a crash.
func TestResetReplacesLog(t *testing.T) {
	mem, opts, e := openMem(t)
	k, other := key(1), key(2)
	oldLog(t, e, k)
	rlog{first: 1, term: 1, size: 300}.stage(t, e, other, 1, 5)
	// Staged work of the partition is discarded by the reset.
	rlog{first: 71, term: 1, off0: 70, size: 4000}.stage(t, e, k, 71, 75)
	if err := e.Truncate(k, 65); err != nil {
		t.Fatal(err)
	}
	nw := rlog{first: 200, term: 3, off0: 9000, size: 500}
	if err := e.Reset(k, 200, 9000); err != nil {
		t.Fatal(err)
	}
	if !e.Staged(k) || e.Settled(k) {
		t.Fatal("a staged reset is not reported staged")
	}
	if err := e.Append(k, nw.entry(nil, 199)); err == nil {
		t.Fatal("append below the reset start was accepted")
	}
	if err := e.Append(k, nw.entry(nil, 201)); err == nil {
		t.Fatal("append with a gap after the reset was accepted")
	}
	lg, _ := e.Partition(k)
	if lg.LastIndex() != 70 || lg.FirstIndex() != 1 {
		t.Fatalf("the log changed before the round: [%d, %d]", lg.FirstIndex(), lg.LastIndex())
	}
	res := mustRound(t, e)
	if err := checkReset(lg, nw, 199); err != nil {
		t.Fatalf("after the reset round: %v", err)
	}
	if d := e.DurableIndex(k); d != 199 {
		t.Fatalf("durable index %d after the reset, want 199", d)
	}
	if !e.Settled(k) || e.Staged(k) {
		t.Fatal("partition not settled after its reset round")
	}
	if !hasDurable(res, k, 199) {
		t.Fatalf("round result %+v does not report the reset durable at 199", res.Durable)
	}
	if names, _ := mem.List(e.parts[k].dir); len(names) > 2 {
		t.Fatalf("old segment files left after the reset: %v", names)
	}
	nw.stage(t, e, k, 200, 210)
	mustRound(t, e)
	nw.stage(t, e, k, 211, 230)
	mustRound(t, e)
	if err := checkReset(lg, nw, 230); err != nil {
		t.Fatalf("after appends: %v", err)
	}
	if d := e.DurableIndex(k); d != 230 {
		t.Fatalf("durable index %d, want 230", d)
	}

	// A crash now (the reset and the appends only in the journal and
	// written behind) recovers the reset log.
	for i := range 3 {
		clone := mem.CrashClone(vfs.CrashCloneOptions{KeepUnsyncedPages: rand.New(rand.NewPCG(uint64(i), 7))})
		if err := reopenCheck(clone, opts, func(e2 *Engine) error {
			lg2, _ := e2.Partition(k)
			return checkReset(lg2, nw, 230)
		}); err != nil {
			t.Fatalf("crash clone %d: %v", i, err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := reopenCheck(mem, opts, func(e2 *Engine) error {
		lg2, _ := e2.Partition(k)
		if err := checkReset(lg2, nw, 230); err != nil {
			return err
		}
		if d := e2.DurableIndex(k); d != 230 {
			return fmt.Errorf("durable index %d, want 230", d)
		}
		// A later append follows; one below the reset start does not.
		if err := e2.Append(k, nw.entry(nil, 150)); err == nil {
			return errors.New("append below the reset start accepted after reopen")
		}
		nw.stage(t, e2, k, 231, 231)
		if _, err := e2.Round(); err != nil {
			return err
		}
		return checkReset(lg2, nw, 231)
	}); err != nil {
		t.Fatalf("reopen after close: %v", err)
	}
}

func hasDurable(res Result, k model.PartitionKey, i model.Index) bool {
	for _, d := range res.Durable {
		if d.Key == k && d.Index == i {
			return true
		}
	}
	return false
}

// reopenCheck opens an engine on fs, runs check and closes it.
func reopenCheck(fs vfs.FS, opts Options, check func(*Engine) error) error {
	opts.FS = fs
	e, err := Open(opts)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	err = check(e)
	return errors.Join(err, e.Close())
}

// TestResetBelowEnd resets a log to an index inside it (a snapshot below
// the last index, above the commit index): the old entries from there are
// replaced, and the reset shape survives a reopen.
func TestResetBelowEnd(t *testing.T) {
	mem, opts, e := openMem(t)
	k := key(4)
	oldLog(t, e, k)
	if err := e.Reset(k, 40, 5000); !errors.Is(err, ErrResetBelowCommit) {
		t.Fatalf("reset below the commit index 50: %v, want ErrResetBelowCommit", err)
	}
	nw := rlog{first: 55, term: 2, off0: 5000, size: 700}
	if err := e.Reset(k, 55, 5000); err != nil {
		t.Fatal(err)
	}
	nw.stage(t, e, k, 55, 60) // same round
	if err := e.SetHardState(k, HardState{Term: 2, Vote: 2, Commit: 54}); err != nil {
		t.Fatal(err)
	}
	mustRound(t, e)
	lg, _ := e.Partition(k)
	if err := checkReset(lg, nw, 60); err != nil {
		t.Fatal(err)
	}
	if d := e.DurableIndex(k); d != 60 {
		t.Fatalf("durable index %d, want 60", d)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := reopenCheck(mem, opts, func(e2 *Engine) error {
		lg2, _ := e2.Partition(k)
		return checkReset(lg2, nw, 60)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestResetWithHardState stages a hard state with the reset, before or
// after it: both are durable in the one round, the commit index capped at
// the reset's last index and not at the old log's durable index.
func TestResetWithHardState(t *testing.T) {
	for _, before := range []bool{false, true} {
		t.Run(fmt.Sprintf("hardStateFirst=%v", before), func(t *testing.T) {
			mem, opts, e := openMem(t)
			k := key(5)
			oldLog(t, e, k)
			hs := HardState{Term: 4, Vote: 3, Commit: 499}
			setHS := func() {
				if err := e.SetHardState(k, hs); err != nil {
					t.Fatal(err)
				}
			}
			if before {
				setHS()
			}
			if err := e.Reset(k, 500, 77); err != nil {
				t.Fatal(err)
			}
			if !before {
				setHS()
			}
			if err := e.Put("snap/meta", []byte("at 499")); err != nil {
				t.Fatal(err)
			}
			mustRound(t, e)
			got, ok, err := e.HardState(k)
			if err != nil || !ok || got != hs {
				t.Fatalf("hard state %+v (%v, %v) after the round, want %+v", got, ok, err, hs)
			}
			lg, _ := e.Partition(k)
			if err := checkReset(lg, rlog{first: 500, off0: 77}, 499); err != nil {
				t.Fatal(err)
			}
			if err := reopenCheck(mem.CrashClone(), opts, func(e2 *Engine) error {
				got, ok, err := e2.HardState(k)
				if err != nil || !ok || got != hs {
					return fmt.Errorf("hard state %+v (%v, %v) after a crash, want %+v", got, ok, err, hs)
				}
				if v, _ := e2.Get("snap/meta"); string(v) != "at 499" {
					return fmt.Errorf("metadata put with the reset: %q", v)
				}
				lg2, _ := e2.Partition(k)
				return checkReset(lg2, rlog{first: 500, off0: 77}, 499)
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// crashTaker is a vfs injector that takes a crash clone of mem before every
// sync (file or directory) once armed, tagged with the phase the test is
// in: the clone holds what a power loss at that moment would leave.
type crashTaker struct {
	mem    *vfs.MemFS
	rng    *rand.Rand
	mu     sync.Mutex
	armed  bool
	phase  int
	clones []phasedClone
}

type phasedClone struct {
	phase int
	op    string
	fs    *vfs.MemFS
}

func (c *crashTaker) MaybeError(op vfs.Op) error {
	if op.Kind != vfs.OpSync {
		return nil
	}
	c.take(op.Path)
	return nil
}

func (c *crashTaker) take(what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.armed {
		return
	}
	var keep vfs.CrashCloneOptions
	if c.rng.IntN(2) == 0 {
		keep.KeepUnsyncedPages = rand.New(rand.NewPCG(c.rng.Uint64(), 1))
	}
	c.clones = append(c.clones, phasedClone{phase: c.phase, op: what, fs: c.mem.CrashClone(keep)})
}

func (c *crashTaker) setPhase(p int) {
	c.mu.Lock()
	c.phase = p
	c.mu.Unlock()
}

// TestResetCrashPoints runs a reset (with a hard state, metadata and
// entries in its round), then appends, a flush and more appends, and takes
// a crash clone before every sync and between every step. Each clone must
// recover either the old log with the old hard state (only while the reset
// round is unacknowledged) or the reset log with the new hard state and at
// least every acknowledged entry after it: never a mix.
func TestResetCrashPoints(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	mem := vfs.NewMem()
	ct := &crashTaker{mem: mem, rng: rand.New(rand.NewPCG(seed, seed>>7))}
	opts := crashOptions(vfs.NewErrorFS(mem, ct))
	e, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	k, other := key(6), key(7)
	old := oldLog(t, e, k)
	oldHS := HardState{Term: 1, Vote: 1, Commit: 50}
	otherLog := rlog{first: 1, term: 1, size: 200}
	otherLog.stage(t, e, other, 1, 3)
	mustRound(t, e)

	nw := rlog{first: 300, term: 2, off0: 9000, size: 900}
	newHS := HardState{Term: 2, Vote: 2, Commit: 299}
	// acked[phase] is the new log's last acknowledged index (0: the reset
	// is not acknowledged yet).
	acked := []model.Index{0}
	steps := []func(){
		func() {
			if err := e.Reset(k, 300, 9000); err != nil {
				t.Fatal(err)
			}
			if err := e.SetHardState(k, newHS); err != nil {
				t.Fatal(err)
			}
			if err := e.Put("snap/"+k.String(), []byte("299")); err != nil {
				t.Fatal(err)
			}
			nw.stage(t, e, k, 300, 320)
			otherLog.stage(t, e, other, 4, 6)
		},
		func() { mustRound(t, e) },
		func() { nw.stage(t, e, k, 321, 340) },
		func() { mustRound(t, e) },
		func() { nw.stage(t, e, k, 341, 380) },
		func() { mustRound(t, e) },
		func() {
			if err := e.Flush(); err != nil {
				t.Fatal(err)
			}
		},
		func() { nw.stage(t, e, k, 381, 390) },
		func() { mustRound(t, e) },
	}
	ackAfter := map[int]model.Index{1: 320, 3: 340, 5: 380, 6: 380, 8: 390}
	ct.mu.Lock()
	ct.armed = true
	ct.mu.Unlock()
	for i, step := range steps {
		ct.take(fmt.Sprintf("before step %d", i))
		step()
		a := acked[len(acked)-1]
		if v, ok := ackAfter[i]; ok {
			a = v
		}
		acked = append(acked, a)
		ct.setPhase(i + 1)
	}
	ct.take("end")
	ct.mu.Lock()
	ct.armed = false
	clones := ct.clones
	ct.mu.Unlock()
	if len(clones) < 15 {
		t.Fatalf("only %d crash points", len(clones))
	}
	sawOld, sawNew := 0, 0
	for n, c := range clones {
		ackedLast := acked[c.phase]
		copts := crashOptions(c.fs)
		err := reopenCheck(c.fs, copts, func(e2 *Engine) error {
			lg, err := e2.Partition(k)
			if err != nil {
				return err
			}
			hs, _, err := e2.HardState(k)
			if err != nil {
				return err
			}
			meta, _ := e2.Get("snap/" + k.String())
			// The other partition, in the reset's round too, is untouched.
			olg, err := e2.Partition(other)
			if err != nil {
				return err
			}
			otherAcked := model.Index(3)
			if ackedLast != 0 {
				otherAcked = 6
			}
			if olg.LastIndex() < otherAcked {
				return fmt.Errorf("other partition ends at %d, acknowledged %d", olg.LastIndex(), otherAcked)
			}
			if err := otherLog.verify(olg, 1, olg.LastIndex()); err != nil {
				return fmt.Errorf("other partition: %w", err)
			}
			if lg.FirstIndex() == nw.first {
				sawNew++
				if hs != newHS || string(meta) != "299" {
					return fmt.Errorf("reset log with hard state %+v and snapshot metadata %q: a mix", hs, meta)
				}
				last := max(lg.LastIndex(), nw.first-1)
				if last < max(ackedLast, nw.first-1) {
					return fmt.Errorf("reset log ends at %d, acknowledged %d", last, ackedLast)
				}
				return checkReset(lg, nw, last)
			}
			sawOld++
			if ackedLast != 0 {
				return fmt.Errorf("old log [%d, %d] after the reset was acknowledged", lg.FirstIndex(), lg.LastIndex())
			}
			if hs != oldHS || meta != nil {
				return fmt.Errorf("old log with hard state %+v and snapshot metadata %q: a mix", hs, meta)
			}
			if lg.FirstIndex() != 1 {
				return fmt.Errorf("log starts at %d: neither the old log nor the reset one", lg.FirstIndex())
			}
			return old.verify(lg, 1, 70)
		})
		if err != nil {
			t.Fatalf("seed %d, crash point %d (phase %d, %s): %v", seed, n, c.phase, c.op, err)
		}
	}
	t.Logf("%d crash points: %d recovered the old log, %d the reset one", len(clones), sawOld, sawNew)
	if sawOld == 0 || sawNew == 0 {
		t.Fatalf("crash points never saw both outcomes (old %d, new %d)", sawOld, sawNew)
	}
}

// mreset is the crash model's record of a reset.
type mreset struct {
	next model.Index
	off  model.Offset
	term model.Term // the model's term from the reset on
	hs   bool       // a hard state (of term ≥ term) was staged with it
}

// reset stages a reset of m to an index past the commit index, at or below
// the log's end or past it, in a new term, with a hard state half the time.
func (cm *crashModel) reset(e *Engine, m *mpart) {
	if e.parts[m.key] == nil {
		return // Reset is for a partition the engine holds
	}
	next := m.nextIdx + model.Index(cm.rng.IntN(40))
	if cm.rng.IntN(2) == 0 && m.nextIdx > m.commit+1 {
		next = m.commit + 1 + model.Index(cm.rng.IntN(int(m.nextIdx-m.commit-1)))
	}
	off := m.nextOff + model.Offset(cm.rng.IntN(500))
	if err := e.Reset(m.key, next, off); err != nil {
		cm.t.Fatalf("reset %s to %d: %v", m.key, next, err)
	}
	m.term++
	m.cur, m.nextIdx, m.nextOff, m.start = nil, next, off, next
	m.cutPending = 0
	m.pend = &mreset{next: next, off: off, term: m.term}
	m.commit = next - 1 // Raft's commit index is the snapshot's from now on
	if cm.rng.IntN(2) == 0 {
		m.hs = HardState{Term: m.term, Vote: model.NodeID(cm.rng.IntN(3)), Commit: m.commit}
		m.hsSet, m.pend.hs = true, true
		if err := e.SetHardState(m.key, m.hs); err != nil {
			cm.t.Fatal(err)
		}
	}
}

// checkReset verifies a recovered log and hard state as the pending reset
// left them: the log starts at the reset and holds only entries written
// after it.
func (m *mpart) checkReset(lg *storage.Log, hs HardState, hsFound bool) error {
	rs := m.pend
	if lg.FirstIndex() != rs.next || lg.StartOffset() != rs.off {
		return fmt.Errorf("log starts at %d offset %d", lg.FirstIndex(), lg.StartOffset())
	}
	if lg.LastIndex() == rs.next-1 && lg.NextOffset() != rs.off {
		return fmt.Errorf("empty log with next offset %d", lg.NextOffset())
	}
	if rs.hs && (!hsFound || hs.Term < rs.term || hs.Commit < rs.next-1) {
		return fmt.Errorf("hard state %+v (found %v) without the one staged with the reset (term %d)", hs, hsFound, rs.term)
	}
	err := checkEntries(lg, rs.next, func(raw []byte, i model.Index) error {
		if h := mustHeaderErr(raw); h.Term < rs.term || !m.ever[i][string(raw)] {
			return fmt.Errorf("entry %d (term %d) after recovery was not written after the reset", i, h.Term)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return m.checkHardState(lg, hs, hsFound)
}

func mustHeaderErr(raw []byte) storage.EntryHeader {
	h, _, _, _ := storage.DecodeEntry(raw)
	return h
}

// TestResetCrashProperty is the crash property (TestCrashProperty) with
// resets among the operations: at random crash points, inside pipelined
// rounds, beside direct writes, truncations and flushes, every partition
// recovers what was acknowledged, or the reset in flight wholly.
func TestResetCrashProperty(t *testing.T) { crashSeeds(t, 12, 3, 400, 200, 6) }

// TestResetErrorInjection fails the Nth file system operation of a reset
// workload (reset with a hard state and entries, a round, more entries, a
// round, a flush, a close), for N = 0, 1, 2, … until it completes, counting
// from after Open (TestErrorInjection fails Open's). Every
// failure must surface as an error wrapping the injected one, and a crash
// clone must recover the old log or the reset one, with at least what was
// acknowledged.
func TestResetErrorInjection(t *testing.T) {
	base, opts, e := openMem(t)
	k := key(8)
	old := oldLog(t, e, k)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	nw := rlog{first: 100, term: 2, off0: 700, size: 900}
	newHS := HardState{Term: 2, Vote: 1, Commit: 99}
	var (
		mem   *vfs.MemFS
		acked model.Index
	)
	failEachOp(t, 2000, func(inj *vfs.Nth) (err error) {
		mem = base.CrashClone() // a copy: everything was synced by Close
		var armed atomic.Bool
		opts.FS = vfs.NewErrorFS(mem, vfs.InjectorFunc(func(op vfs.Op) error {
			if !armed.Load() {
				return nil
			}
			return inj.MaybeError(op)
		}))
		acked, err = resetWorkload(opts, &armed, k, nw, newHS)
		return err
	}, func(n int) {
		err := reopenCheck(mem.CrashClone(), opts, func(e2 *Engine) error {
			lg, err := e2.Partition(k)
			if err != nil {
				return err
			}
			hs, _, _ := e2.HardState(k)
			if lg.FirstIndex() == nw.first {
				if hs != newHS {
					return fmt.Errorf("reset log with hard state %+v", hs)
				}
				last := max(lg.LastIndex(), nw.first-1)
				if last < max(acked, nw.first-1) {
					return fmt.Errorf("reset log ends at %d, acknowledged %d", last, acked)
				}
				return checkReset(lg, nw, last)
			}
			if acked != 0 {
				return fmt.Errorf("old log [%d, %d] after the reset was acknowledged", lg.FirstIndex(), lg.LastIndex())
			}
			if hs.Term != 1 {
				return fmt.Errorf("old log with hard state %+v", hs)
			}
			return old.verify(lg, 1, 70)
		})
		if err != nil {
			t.Fatalf("n=%d: recovery after the injected failure: %v", n, err)
		}
	})
}

// resetWorkload runs the reset workload on a fresh engine and returns the
// reset log's last acknowledged index (0: the reset was not acknowledged).
func resetWorkload(opts Options, armed *atomic.Bool, k model.PartitionKey, nw rlog, hs HardState) (model.Index, error) {
	var acked model.Index
	e, err := Open(opts)
	if err != nil {
		return 0, err
	}
	armed.Store(true)
	defer abandonOnError(e, &err)
	round := func() error {
		res, err := e.Round()
		for _, d := range res.Durable {
			if d.Key == k && err == nil {
				acked = d.Index
			}
		}
		return err
	}
	stage := func(from, to model.Index) error {
		var buf []byte
		for i := from; i <= to; i++ {
			buf = nw.entry(buf, i)
		}
		return e.Append(k, buf)
	}
	steps := []func() error{
		func() error { return e.Reset(k, nw.first, nw.off0) },
		func() error { return e.SetHardState(k, hs) },
		func() error { return stage(100, 104) },
		round,
		func() error { return stage(105, 130) },
		round,
		e.Flush,
		e.Close,
	}
	for _, s := range steps {
		if err = s(); err != nil {
			return acked, err
		}
	}
	return acked, nil
}

// abandonOnError leaves a failed engine as a killed process would.
func abandonOnError(e *Engine, err *error) {
	if *err != nil {
		abandon(e)
	}
}

// TestResetBesideRoundInFlight stages a reset while a round carrying the
// partition's direct write, or its truncation, is in flight: the reset is
// not held back, joins the next round, and applies after the first one.
func TestResetBesideRoundInFlight(t *testing.T) {
	for _, kind := range []string{"direct", "truncate"} {
		t.Run(kind, func(t *testing.T) {
			mem, opts, e := openMem(t)
			k := key(9)
			g := rlog{first: 1, term: 1, size: 3000}
			g.stage(t, e, k, 1, 3)
			mustRound(t, e)
			if err := e.Flush(); err != nil { // no live journal records: the direct path is open
				t.Fatal(err)
			}
			if kind == "direct" {
				g.stage(t, e, k, 4, 20) // 51 KB: past the 16 KiB direct threshold
			} else {
				if err := e.Truncate(k, 2); err != nil {
					t.Fatal(err)
				}
			}
			r1, err := e.StartRound()
			if err != nil {
				t.Fatal(err)
			}
			if kind == "direct" && len(r1.direct) != 1 || kind == "truncate" && len(r1.deferred) != 1 {
				t.Fatalf("first round: %d direct, %d deferred writes", len(r1.direct), len(r1.deferred))
			}
			nw := rlog{first: 50, term: 2, off0: 400, size: 200}
			if err := e.Reset(k, 50, 400); err != nil {
				t.Fatal(err)
			}
			nw.stage(t, e, k, 50, 52)
			if !e.CanStart() {
				t.Fatal("the reset is held back by the round in flight")
			}
			r2, err := e.StartRound()
			if err != nil {
				t.Fatal(err)
			}
			if len(r2.resets) != 1 {
				t.Fatalf("second round carries %d resets", len(r2.resets))
			}
			_ = r2.Wait()
			_ = r1.Wait()
			clone := mem.CrashClone() // both rounds durable, neither finished
			e.FinishRound(r1)
			e.FinishRound(r2)
			if err := e.Err(); err != nil {
				t.Fatal(err)
			}
			lg, _ := e.Partition(k)
			if err := checkReset(lg, nw, 52); err != nil {
				t.Fatal(err)
			}
			if d := e.DurableIndex(k); d != 52 || !e.Settled(k) {
				t.Fatalf("durable %d settled %v, want 52 and settled", d, e.Settled(k))
			}
			if err := reopenCheck(clone, opts, func(e2 *Engine) error {
				lg2, _ := e2.Partition(k)
				return checkReset(lg2, nw, 52)
			}); err != nil {
				t.Fatalf("crash after both syncs: %v", err)
			}
		})
	}
}

// TestResetLargeStaging appends more after a reset than one journal record
// holds (a follower catching up after a snapshot): the reset round takes a
// record's worth, the rest follows in the next rounds.
func TestResetLargeStaging(t *testing.T) {
	mem, opts, e := openMem(t)
	k := key(10)
	rlog{first: 1, term: 1, size: 500}.stage(t, e, k, 1, 5)
	mustRound(t, e)
	nw := rlog{first: 1000, term: 3, off0: 1 << 20, size: 1000}
	if err := e.Reset(k, 1000, 1<<20); err != nil {
		t.Fatal(err)
	}
	nw.stage(t, e, k, 1000, 1199) // ~200 KB, records hold a quarter of 256 KiB
	mustRound(t, e)
	if !e.Staged(k) {
		t.Fatal("everything fitted one record: the test does not split")
	}
	lg, _ := e.Partition(k)
	if lg.FirstIndex() != 1000 || lg.LastIndex() >= 1199 || e.DurableIndex(k) != lg.LastIndex() {
		t.Fatalf("after the reset round: [%d, %d] durable %d", lg.FirstIndex(), lg.LastIndex(), e.DurableIndex(k))
	}
	for i := 0; e.Staged(k); i++ {
		if i > 10 {
			t.Fatal("staging never drained")
		}
		mustRound(t, e)
	}
	if err := checkReset(lg, nw, 1199); err != nil {
		t.Fatal(err)
	}
	if err := reopenCheck(mem.CrashClone(), opts, func(e2 *Engine) error {
		lg2, _ := e2.Partition(k)
		return checkReset(lg2, nw, 1199)
	}); err != nil {
		t.Fatal(err)
	}
}
