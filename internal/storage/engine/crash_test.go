package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/storage"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// mentry is the model of one entry: its encoded bytes.
type mentry struct {
	idx model.Index
	off model.Offset
	raw []byte
}

// mpart is the model of one partition: what the engine was told (cur) and
// what a finished round acknowledged (acked).
type mpart struct {
	key     model.PartitionKey
	cur     []mentry // contiguous, cur[0].idx == start (when non-empty)
	start   model.Index
	term    model.Term
	nextIdx model.Index
	nextOff model.Offset
	hs      HardState
	hsSet   bool

	cutPending model.Index // lowest index a staged conflicting append cuts at (0: none)
	commit     model.Index // highest commit index staged: Raft never cuts below it

	pend       *mreset // a reset no round acknowledged yet
	ackedFloor *mreset // the last acknowledged reset

	acked      []mentry
	ackedStart model.Index
	ackedHS    HardState
	ackedHSSet bool
	ever       map[model.Index]map[string]bool // every encoding ever staged at an index
}

func (m *mpart) last() model.Index { return m.nextIdx - 1 }

// entryAt returns the model's entry at index i.
func (m *mpart) entryAt(i model.Index) mentry { return m.cur[i-m.cur[0].idx] }

type crashModel struct {
	t     *testing.T
	rng   *rand.Rand
	parts []*mpart
}

func (cm *crashModel) stage(e *Engine, m *mpart, from model.Index, n int, size int) {
	if from != m.nextIdx {
		// A conflicting append from a new leader: cut the model there. The
		// cut may become durable before the round ends (Raft allows it: the
		// entries cut were never committed).
		if m.cutPending == 0 || from < m.cutPending {
			m.cutPending = from
		}
		m.term++
		m.nextOff = m.entryAt(from).off
		m.cur = m.cur[:from-m.cur[0].idx]
		m.nextIdx = from
	}
	var buf []byte
	for range n {
		at := len(buf)
		if cm.rng.IntN(8) == 0 {
			buf = internalEntry(buf, m.nextIdx, m.term, m.nextOff, []byte(fmt.Sprintf("cfg-%d", m.nextIdx)))
		} else {
			count := int32(1 + cm.rng.IntN(5))
			buf = dataEntry(buf, m.nextIdx, m.term, m.nextOff, count, model.BatchHeaderSize+cm.rng.IntN(size), byte(cm.rng.Uint32()))
			m.nextOff += model.Offset(count)
		}
		raw := append([]byte(nil), buf[at:]...)
		m.cur = append(m.cur, mentry{idx: m.nextIdx, raw: raw, off: mustHeader(cm.t, raw).Offset})
		if m.ever[m.nextIdx] == nil {
			m.ever[m.nextIdx] = map[string]bool{}
		}
		m.ever[m.nextIdx][string(raw)] = true
		m.nextIdx++
	}
	if err := e.Append(m.key, buf); err != nil {
		cm.t.Fatalf("append %s at %d: %v", m.key, from, err)
	}
}

func mustHeader(t *testing.T, raw []byte) storage.EntryHeader {
	h, _, _, err := storage.DecodeEntry(raw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// round runs rounds until nothing is staged; then everything the model
// holds is acknowledged. crash, if set, is called at a random point inside
// the first round (after a round started, after its sync, or once it
// finished), before the model acknowledges it. Half the time a
// second round starts while the first is in flight, with more work staged
// in between (pipelined rounds).
func (cm *crashModel) round(e *Engine, crash func()) {
	maybeCrash := func() {
		if crash != nil && cm.rng.IntN(2) == 0 {
			crash()
			crash = nil
		}
	}
	start := func() *Round {
		r, err := e.StartRound()
		if err != nil {
			cm.t.Fatalf("start round: %v", err)
		}
		return r
	}
	finish := func(r *Round) Result {
		if err := r.Wait(); err != nil {
			cm.t.Fatalf("wait: %v", err)
		}
		maybeCrash() // synced, not finished: the round is durable, not acknowledged
		res := e.FinishRound(r)
		if err := e.usable(); err != nil {
			cm.t.Fatalf("finish round: %v", err)
		}
		return res
	}
	for tries := 0; ; tries++ {
		if tries > 50 {
			cm.t.Fatal("engine stayed blocked for 50 rounds")
		}
		rounds := []*Round{start()}
		if debugReplay {
			cm.t.Logf("  round started: %d parts, jlast %d", len(rounds[0].parts), e.j.LastSeq())
		}
		maybeCrash()
		if cm.rng.IntN(2) == 0 {
			for range 1 + cm.rng.IntN(3) {
				cm.randomStage(e, cm.parts[cm.rng.IntN(len(cm.parts))], cm.rng.IntN(53))
			}
			if e.CanStart() {
				rounds = append(rounds, start())
				if debugReplay {
					cm.t.Logf("  second round started: %d parts, jlast %d", len(rounds[1].parts), e.j.LastSeq())
				}
				maybeCrash()
			}
		}
		var res Result
		for _, r := range rounds {
			res = finish(r)
		}
		if crash != nil {
			crash() // finished, the model not acknowledged yet
			crash = nil
		}
		if !e.Pending() {
			break
		}
		if res.Blocked {
			if ch := e.FlushDone(); ch != nil {
				<-ch
			}
		}
	}
	for _, m := range cm.parts {
		m.acked = append(m.acked[:0], m.cur...)
		m.ackedStart, m.ackedHS, m.ackedHSSet = m.start, m.hs, m.hsSet
		if m.pend != nil {
			m.ackedFloor, m.pend = m.pend, nil
		}
		m.cutPending = 0
	}
}

// randomStage stages an append (op < 48) or a conflicting append (op < 53).
func (cm *crashModel) randomStage(e *Engine, m *mpart, op int) {
	if debugReplay {
		cm.t.Logf("  stage op %d part %d next %d rounds in flight %d", op, m.key.Partition, m.nextIdx, len(e.rounds))
	}
	switch {
	case op < 40: // small appends: the journal path
		cm.stage(e, m, m.nextIdx, 1+cm.rng.IntN(4), 600)
	case op < 48: // a large append: the direct path when the partition has no live records
		cm.stage(e, m, m.nextIdx, 6+cm.rng.IntN(6), 6000)
	case op < 53: // a conflicting append from a new leader
		if len(m.cur) > 1 {
			from := m.cur[1+cm.rng.IntN(len(m.cur)-1)].idx
			if from > m.commit {
				cm.stage(e, m, from, 1+cm.rng.IntN(3), 600)
			}
		}
	}
}

// check reopens a crash clone of fs and verifies every partition against
// the model.
func (cm *crashModel) check(mem *vfs.MemFS, opts Options, step int) {
	cm.t.Helper()
	var keep vfs.CrashCloneOptions
	if os.Getenv("PETREL_NO_PAGES") == "" {
		keep.KeepUnsyncedPages = rand.New(rand.NewPCG(cm.rng.Uint64(), uint64(step)))
	}
	clone := mem.CrashClone(keep)
	opts.FS = clone
	e, err := Open(opts)
	if err != nil {
		cm.t.Fatalf("step %d: reopen after crash: %v", step, err)
	}
	defer e.Close()
	for _, m := range cm.parts {
		lg, err := e.Partition(m.key)
		if err != nil {
			cm.t.Fatalf("step %d: %s: %v", step, m.key, err)
		}
		hs, ok, err := e.HardState(m.key)
		if err != nil {
			cm.t.Fatalf("step %d: %s: hard state: %v", step, m.key, err)
		}
		err = m.checkAcked(lg, hs, ok)
		if err != nil && m.pend != nil {
			// The reset in flight may be durable: then the log is the
			// reset one, wholly.
			if errNew := m.checkReset(lg, hs, ok); errNew == nil {
				err = nil
			} else {
				err = fmt.Errorf("neither the acknowledged log (%w) nor the reset to %d (%w)", err, m.pend.next, errNew)
			}
		}
		if err != nil {
			cm.t.Fatalf("step %d: %s: %v", step, m.key, err)
		}
	}
}

// checkAcked verifies a recovered log and hard state against what rounds
// acknowledged.
func (m *mpart) checkAcked(lg *storage.Log, hs HardState, hsFound bool) error {
	var ackedLast model.Index
	if len(m.acked) > 0 {
		ackedLast = m.acked[len(m.acked)-1].idx
	}
	if m.cutPending != 0 && m.cutPending <= ackedLast {
		ackedLast = m.cutPending - 1 // a cut in flight may already hold
	}
	if lg.LastIndex() < ackedLast {
		return fmt.Errorf("log ends at %d, acknowledged up to %d", lg.LastIndex(), ackedLast)
	}
	if len(m.acked) > 0 {
		// A prefix truncation staged (not under a reset) may hold already.
		first := m.acked[0].idx
		if m.pend == nil {
			first = max(first, m.start)
		}
		if lg.FirstIndex() > first {
			return fmt.Errorf("log starts at %d, acknowledged from %d", lg.FirstIndex(), first)
		}
	}
	if m.pend != nil && m.pend.hs && hsFound && hs.Term >= m.pend.term {
		return fmt.Errorf("hard state %+v staged with the reset to %d, which did not hold", hs, m.pend.next)
	}
	if f := m.ackedFloor; f != nil {
		// An acknowledged reset: nothing from before it comes back.
		if lg.FirstIndex() < f.next || lg.LastIndex() < f.next-1 {
			return fmt.Errorf("log [%d, %d] after the acknowledged reset to %d", lg.FirstIndex(), lg.LastIndex(), f.next)
		}
		if lg.FirstIndex() == f.next && lg.StartOffset() != f.off {
			return fmt.Errorf("start offset %d after the reset to %d at offset %d", lg.StartOffset(), f.next, f.off)
		}
	}
	lo := lg.FirstIndex()
	if len(m.acked) > 0 {
		lo = max(lo, m.acked[0].idx)
	}
	err := checkEntries(lg, lo, func(raw []byte, i model.Index) error {
		if i <= ackedLast {
			if want := m.acked[i-m.acked[0].idx]; !bytes.Equal(raw, want.raw) {
				return fmt.Errorf("acknowledged entry %d differs after recovery", i)
			}
		} else if !m.ever[i][string(raw)] {
			return fmt.Errorf("entry %d after recovery was never written", i)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return m.checkHardState(lg, hs, hsFound)
}

func (m *mpart) checkHardState(lg *storage.Log, hs HardState, hsFound bool) error {
	if m.ackedHSSet && (!hsFound || hs.Term < m.ackedHS.Term || hs.Commit > lg.LastIndex()) {
		return fmt.Errorf("hard state %+v (found %v) after acknowledging %+v, log end %d", hs, hsFound, m.ackedHS, lg.LastIndex())
	}
	return nil
}

// checkEntries reads the log from lo to its end and checks each entry.
func checkEntries(lg *storage.Log, lo model.Index, check func(raw []byte, i model.Index) error) error {
	if lo > lg.LastIndex() {
		return nil
	}
	got, err := readAll(lg, lo)
	if err != nil {
		return fmt.Errorf("read [%d, %d]: %w", lo, lg.LastIndex(), err)
	}
	if want := int(lg.LastIndex() - lo + 1); len(got) != want {
		return fmt.Errorf("read %d entries from %d, want %d", len(got), lo, want)
	}
	for _, g := range got {
		if err := check(storage.AppendEntry(nil, g.EntryHeader, g.Payload), g.Index); err != nil {
			return err
		}
	}
	return nil
}

func TestCrashProperty(t *testing.T) { crashSeeds(t, 40, 8, 400, 250, 0) }

// crashSeeds runs the crash property over seeds (seedsShort under -short)
// of steps steps each, from a time-based seed that each run prints (or
// one seed, PETREL_SEED), with resets weighted as runCrashPropertyWith.
func crashSeeds(t *testing.T, seeds, seedsShort, steps, stepsShort, resets int) {
	if testing.Short() {
		seeds, steps = seedsShort, stepsShort
	}
	base := uint64(time.Now().UnixNano())
	if s := os.Getenv("PETREL_SEED"); s != "" {
		fmt.Sscan(s, &base)
		seeds = 1
	}
	for s := range seeds {
		seed := base + uint64(s)
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Logf("seed %d (replay with PETREL_SEED)", seed)
			runCrashPropertyWith(t, seed, steps, resets)
		})
	}
}

func crashOptions(mem vfs.FS) Options {
	return Options{
		FS:               mem,
		Dir:              "data/shard-0",
		JournalFileBytes: 256 << 10,
		JournalFiles:     3,
		DirectMinBytes:   16 << 10,
		DirectMaxBytes:   16 << 10,
		Log: storage.Options{
			SegmentBytes:       64 << 10,
			IndexIntervalBytes: 1024,
			PreallocStep:       16 << 10,
		},
		HandleCacheFiles: 8,
		BatchCacheBytes:  64 << 10,
		PipelineMinBytes: -1, // rounds of any size overlap: the property test pipelines them
	}
}

// runCrashPropertyWith runs the property with resets: each step stages one
// with probability resets/(100+resets).
func runCrashPropertyWith(t *testing.T, seed uint64, steps, resets int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	mem, opts, e := openMem(t)
	cm := &crashModel{t: t, rng: rng}
	for i := range 4 {
		cm.parts = append(cm.parts, &mpart{key: key(i), term: 1, nextIdx: 1, ever: map[model.Index]map[string]bool{}})
	}
	debug := os.Getenv("PETREL_DEBUG") != ""
	debugReplay = debug
	for step := range steps {
		m := cm.parts[rng.IntN(len(cm.parts))]
		op := rng.IntN(100 + resets)
		if debug {
			var live uint64
			var dirty bool
			if p := e.parts[m.key]; p != nil {
				live, dirty = p.live, p.dirty
			}
			t.Logf("step %d op %d part %d next %d live %d dirty %v durable %d jlast %d", step, op, m.key.Partition, m.nextIdx,
				live, dirty, e.DurableIndex(m.key), e.j.LastSeq())
		}
		switch {
		case op < 53:
			cm.randomStage(e, m, op)
		case op < 60:
			m.commit += model.Index(rng.IntN(int(m.nextIdx - m.commit)))
			m.hs = HardState{Term: m.term, Vote: model.NodeID(rng.IntN(3)), Commit: m.commit}
			m.hsSet = true
			if m.pend != nil {
				m.pend.hs = true
			}
			if err := e.SetHardState(m.key, m.hs); err != nil {
				t.Fatal(err)
			}
		case op < 62: // prefix truncation up to an acknowledged entry
			if len(m.acked) > 2 && len(m.cur) > 2 && m.pend == nil {
				s := m.cur[rng.IntN(len(m.cur)-1)].idx
				if s <= m.acked[len(m.acked)-1].idx && s > m.start {
					if err := e.SetStartIndex(m.key, s); err != nil {
						t.Fatal(err)
					}
					m.cur = m.cur[s-m.cur[0].idx:]
					m.start = s
				}
			}
		case op < 64:
			e.Idle()
		case op < 90:
			cm.round(e, nil)
		case op < 100:
			cm.round(e, func() { cm.check(mem, opts, step) })
		default:
			cm.reset(e, m)
		}
	}
	cm.round(e, nil)
	cm.check(mem, opts, steps)
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	cm.check(mem, opts, steps+1)
}

// readAll reads every entry from lo to the end; Entries may stop early (at
// a segment end, as Raft's Storage.Entries is allowed to).
func readAll(lg *storage.Log, lo model.Index) ([]storage.Entry, error) {
	var out []storage.Entry
	for lo <= lg.LastIndex() {
		got, err := lg.Entries(lo, lg.LastIndex()+1, 1<<40)
		if err != nil {
			return out, err
		}
		if len(got) == 0 {
			return out, fmt.Errorf("no entries at %d", lo)
		}
		out = append(out, got...)
		lo = got[len(got)-1].Index + 1
	}
	return out, nil
}
