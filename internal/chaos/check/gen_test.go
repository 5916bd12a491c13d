package check

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/history"
)

var seedFlag = flag.Uint64("check.seed", 0, "first seed of the generated histories (0: from the clock)")

// sim generates a correct history: several clients with ops in flight at
// once against a simulated log per partition. Each op takes effect at one
// instant between its invoke and its completion (or never, for fail and some
// info ops), so every safety check must pass.
type sim struct {
	r         *rand.Rand
	b         hb
	logs      map[history.TP][]history.Rec
	epoch     map[history.TP]int32
	committed map[groupTP]int64
}

// simProc is one client: at most one op in flight, which takes three steps
// (invoke, effect, complete).
type simProc struct {
	id      int
	kind    string // send | poll | list | commit | fetch
	seq     int64  // sends: the producer's next seq; commits: the next offset
	pos     map[history.TP]int64
	tpi     int
	pend    *pending
	applies bool
	outcome history.Phase
	done    bool // effect taken
	result  func(*history.Op)
}

var simTPs = []history.TP{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}, {Topic: "lin", Partition: 0}}

func genHistory(seed uint64, steps int) []history.Op {
	s := &sim{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), logs: map[history.TP][]history.Rec{},
		epoch: map[history.TP]int32{}, committed: map[groupTP]int64{}}
	for _, tp := range simTPs {
		s.epoch[tp] = 1
	}
	var procs []*simProc
	for i := 1; i <= 4; i++ {
		procs = append(procs, &simProc{id: i, kind: "send", seq: 1})
	}
	for i := 10; i <= 11; i++ {
		procs = append(procs, &simProc{id: i, kind: "poll", pos: map[history.TP]int64{}})
	}
	procs = append(procs, &simProc{id: 20, kind: "list"}, &simProc{id: 30, kind: "commit"}, &simProc{id: 31, kind: "fetch"})
	for range steps {
		if s.r.IntN(50) == 0 {
			s.epoch[simTPs[s.r.IntN(len(simTPs))]]++
		}
		p := procs[s.r.IntN(len(procs))]
		switch {
		case p.pend == nil:
			s.invoke(p)
		case !p.done:
			p.done = true
			if p.applies {
				s.effect(p)
			}
		default:
			p.pend.end(p.outcome, p.result)
			p.pend, p.done, p.result = nil, false, nil
		}
	}
	for _, tp := range simTPs { // ops still in flight stay unfinished
		s.b.read(tp, slices.Clone(s.logs[tp]))
	}
	return s.b.ops
}

// outcome draws ok (mostly), info that applied, info that did not, fail.
func (s *sim) outcome(p *simProc) {
	switch n := s.r.IntN(100); {
	case n < 80:
		p.outcome, p.applies = history.OK, true
	case n < 88:
		p.outcome, p.applies = history.Info, true
	case n < 95:
		p.outcome, p.applies = history.Info, false
	default:
		p.outcome, p.applies = history.Fail, false
	}
	if p.outcome != history.OK {
		p.result = func(o *history.Op) { o.Err = "timeout or rejection" }
	}
}

func (s *sim) invoke(p *simProc) {
	tp := simTPs[s.r.IntN(len(simTPs))]
	g := groupTP{"g", tp}
	p.outcome, p.applies = history.OK, true
	switch p.kind {
	case "send":
		p.pend = s.b.send(p.id, tp, fmt.Sprintf("p%d-%d", p.id, p.seq), p.id%2 == 1)
		p.seq++
		s.outcome(p)
	case "poll":
		p.tpi = (p.tpi + 1) % len(simTPs)
		tp = simTPs[p.tpi]
		p.pend = s.b.invoke(history.Op{Process: p.id, Type: history.Poll, Topic: tp.Topic, Partition: tp.Partition, Offset: p.pos[tp]})
	case "list":
		p.pend = s.b.invoke(history.Op{Process: p.id, Type: history.ListOffsets, Topic: tp.Topic, Partition: tp.Partition})
	case "commit":
		p.seq += int64(s.r.IntN(3))
		p.pend = s.b.commit(p.id, g.group, tp, p.seq)
		s.outcome(p)
	case "fetch":
		p.pend = s.b.invoke(history.Op{Process: p.id, Type: history.FetchOffset, Topic: tp.Topic, Partition: tp.Partition, Group: g.group})
	}
}

// effect applies p's op to the simulated state at this instant.
func (s *sim) effect(p *simProc) {
	inv := p.pend.inv
	tp, g := inv.TP(), groupTP{inv.Group, inv.TP()}
	ok := p.result == nil
	switch p.kind {
	case "send":
		off, e := int64(len(s.logs[tp])), s.epoch[tp]
		s.logs[tp] = append(s.logs[tp], history.Rec{Offset: off, Value: inv.Value, LeaderEpoch: e})
		if ok {
			p.result = func(o *history.Op) { o.Offset, o.LeaderEpoch = off, e }
		}
	case "poll":
		pos := p.pos[tp]
		end := min(pos+1+int64(s.r.IntN(4)), int64(len(s.logs[tp])))
		rs := slices.Clone(s.logs[tp][pos:end])
		p.pos[tp] = end
		p.result = func(o *history.Op) { o.Records = rs }
	case "list":
		hw, e := int64(len(s.logs[tp])), s.epoch[tp]
		p.result = func(o *history.Op) { o.Offset, o.LeaderEpoch = hw, e }
	case "commit":
		s.committed[g] = inv.Offset
	case "fetch":
		off, had := s.committed[g]
		if !had {
			off = -1
		}
		p.result = func(o *history.Op) { o.Offset = off }
	}
}

// mutation breaks a correct history in one way that check must see.
type mutation struct {
	name, check string
	apply       func(h *mutable) bool // false: not applicable to this history
}

// mutable is a deep copy of a history with lookups for the mutations.
type mutable struct {
	ops []history.Op
	r   *rand.Rand
}

func newMutable(ops []history.Op, r *rand.Rand) *mutable {
	m := &mutable{ops: slices.Clone(ops), r: r}
	for i := range m.ops {
		m.ops[i].Records = slices.Clone(m.ops[i].Records)
	}
	return m
}

// pick returns the index of a random completion matching f, or -1.
func (m *mutable) pick(f func(o *history.Op) bool) int {
	var idx []int
	for i := range m.ops {
		if m.ops[i].Phase != history.Invoke && f(&m.ops[i]) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return -1
	}
	return idx[m.r.IntN(len(idx))]
}

func (m *mutable) final(tp history.TP) *history.Op {
	i := m.pick(func(o *history.Op) bool { return o.Type == history.Read && o.TP() == tp })
	if i < 0 {
		return nil
	}
	return &m.ops[i]
}

func (m *mutable) invokeTime(id int64) int64 {
	for _, o := range m.ops {
		if o.ID == id && o.Phase == history.Invoke {
			return o.Time
		}
	}
	return -1
}

func isOKSend(o *history.Op) bool { return o.Type == history.Send && o.Phase == history.OK }

func recIndex(rs []history.Rec, off int64) int {
	return slices.IndexFunc(rs, func(r history.Rec) bool { return r.Offset == off })
}

var mutations = []mutation{
	{"drop an acked record from the final read", "lost-write", func(m *mutable) bool {
		i := m.pick(isOKSend)
		if i < 0 {
			return false
		}
		f := m.final(m.ops[i].TP())
		f.Records = slices.Delete(f.Records, int(m.ops[i].Offset), int(m.ops[i].Offset)+1)
		return true
	}},
	{"drop a final read", "lost-write", func(m *mutable) bool {
		i := m.pick(isOKSend)
		if i < 0 {
			return false
		}
		j := m.pick(func(o *history.Op) bool { return o.Type == history.Read && o.TP() == m.ops[i].TP() })
		m.ops = slices.DeleteFunc(m.ops, func(o history.Op) bool { return o.ID == m.ops[j].ID })
		return true
	}},
	{"swap two values in the final read", "ack-offset-mismatch", func(m *mutable) bool {
		i := m.pick(isOKSend)
		if i < 0 || len(m.final(m.ops[i].TP()).Records) < 2 {
			return false
		}
		rs := m.final(m.ops[i].TP()).Records
		a, b := int(m.ops[i].Offset), m.r.IntN(len(rs))
		if a == b {
			b = (a + 1) % len(rs)
		}
		rs[a].Value, rs[b].Value = rs[b].Value, rs[a].Value
		return true
	}},
	{"ack at another record's offset", "inconsistent-offsets", func(m *mutable) bool {
		i := m.pick(isOKSend)
		if i < 0 || len(m.final(m.ops[i].TP()).Records) < 2 {
			return false
		}
		m.ops[i].Offset = (m.ops[i].Offset + 1) % int64(len(m.final(m.ops[i].TP()).Records))
		return true
	}},
	{"an idempotent value written twice", "duplicate", func(m *mutable) bool {
		i := m.pick(func(o *history.Op) bool { return isOKSend(o) && o.Idempotent })
		if i < 0 {
			return false
		}
		f := m.final(m.ops[i].TP())
		f.Records = append(f.Records, history.Rec{Offset: int64(len(f.Records)), Value: m.ops[i].Value})
		return true
	}},
	{"a later send acked below an earlier one", "realtime-order", func(m *mutable) bool {
		i := m.pick(isOKSend)
		if i < 0 {
			return false
		}
		j := m.pick(func(o *history.Op) bool {
			return isOKSend(o) && o.TP() == m.ops[i].TP() && m.invokeTime(o.ID) > m.ops[i].Time
		})
		if j < 0 {
			return false
		}
		m.ops[i].Offset, m.ops[j].Offset = m.ops[j].Offset, m.ops[i].Offset
		return true
	}},
	{"an idempotent producer's sends swapped", "nonmonotonic-send", func(m *mutable) bool {
		i := m.pick(func(o *history.Op) bool { return isOKSend(o) && o.Idempotent })
		if i < 0 {
			return false
		}
		for j := i + 1; j < len(m.ops); j++ {
			if o := &m.ops[j]; isOKSend(o) && o.Producer == m.ops[i].Producer && o.TP() == m.ops[i].TP() {
				m.ops[i].Offset, o.Offset = o.Offset, m.ops[i].Offset
				return true
			}
		}
		return false
	}},
	{"a polled record missing from the final read", "read-then-lost", func(m *mutable) bool {
		i := m.pick(func(o *history.Op) bool { return o.Type == history.Poll && len(o.Records) > 0 })
		if i < 0 {
			return false
		}
		f := m.final(m.ops[i].TP())
		f.Records = slices.Delete(f.Records, recIndex(f.Records, m.ops[i].Records[0].Offset), recIndex(f.Records, m.ops[i].Records[0].Offset)+1)
		return true
	}},
	{"an acked send turned failed", "g1a", func(m *mutable) bool {
		i := m.pick(isOKSend)
		if i < 0 {
			return false
		}
		m.ops[i].Phase = history.Fail
		return true
	}},
	{"a value never sent", "g1a", func(m *mutable) bool {
		f := m.final(simTPs[m.r.IntN(len(simTPs))])
		f.Records = append(f.Records, history.Rec{Offset: int64(len(f.Records)), Value: "p99-1"})
		return true
	}},
	{"a record dropped inside a poll", "poll-skip", func(m *mutable) bool {
		i := m.pick(func(o *history.Op) bool { return o.Type == history.Poll && len(o.Records) >= 3 })
		if i < 0 {
			return false
		}
		m.ops[i].Records = slices.Delete(m.ops[i].Records, 1, 2)
		return true
	}},
	{"a poll reversed", "nonmonotonic-poll", func(m *mutable) bool {
		i := m.pick(func(o *history.Op) bool { return o.Type == history.Poll && len(o.Records) >= 2 })
		if i < 0 {
			return false
		}
		slices.Reverse(m.ops[i].Records)
		return true
	}},
	{"a list_offsets lower than an earlier one", "hw-regression", func(m *mutable) bool {
		i := m.pick(func(o *history.Op) bool {
			return o.Type == history.ListOffsets && o.Phase == history.OK && o.Offset > 0
		})
		if i < 0 {
			return false
		}
		for j := i + 1; j < len(m.ops); j++ {
			if o := &m.ops[j]; o.Type == history.ListOffsets && o.Phase == history.OK && o.TP() == m.ops[i].TP() {
				o.Offset = m.ops[i].Offset - 1
				return true
			}
		}
		return false
	}},
	{"a leader epoch lowered in the final read", "leader-epoch-regression", func(m *mutable) bool {
		f := m.final(simTPs[m.r.IntN(len(simTPs))])
		if len(f.Records) < 2 {
			return false
		}
		k := 1 + m.r.IntN(len(f.Records)-1)
		f.Records[k].LeaderEpoch = f.Records[k-1].LeaderEpoch - 1
		return true
	}},
	{"a poll with data loss", "data-loss-events", func(m *mutable) bool {
		i := m.pick(func(o *history.Op) bool { return o.Type == history.Poll })
		if i < 0 {
			return false
		}
		m.ops[i].DataLoss = true
		return true
	}},
	{"a fetched group offset lost", "group-offset-lost", func(m *mutable) bool {
		i := m.pick(func(o *history.Op) bool {
			return o.Type == history.FetchOffset && o.Phase == history.OK && o.Offset >= 0
		})
		if i < 0 {
			return false
		}
		for j := i - 1; j >= 0; j-- { // an ok commit completed before the fetch's invoke?
			if o := m.ops[j]; o.Type == history.Commit && o.Phase == history.OK && o.TP() == m.ops[i].TP() &&
				o.Time < m.invokeTime(m.ops[i].ID) {
				m.ops[i].Offset = -1
				return true
			}
		}
		return false
	}},
	{"a fetched group offset regressed", "group-offset-regression", func(m *mutable) bool {
		i := m.pick(func(o *history.Op) bool {
			return o.Type == history.FetchOffset && o.Phase == history.OK && o.Offset >= 0
		})
		if i < 0 {
			return false
		}
		for j := i + 1; j < len(m.ops); j++ {
			if o := &m.ops[j]; o.Type == history.FetchOffset && o.Phase == history.OK && o.TP() == m.ops[i].TP() {
				o.Offset = -1
				return true
			}
		}
		return false
	}},
	{"a lin send acked at a taken offset", "linearizable", func(m *mutable) bool {
		i := m.pick(func(o *history.Op) bool { return isOKSend(o) && o.Topic == "lin" && o.Offset > 0 })
		if i < 0 {
			return false
		}
		m.ops[i].Offset = m.r.Int64N(m.ops[i].Offset)
		return true
	}},
}

func TestGeneratedHistories(t *testing.T) {
	seeds, steps := 8, 1500
	if !testing.Short() {
		seeds, steps = 60, 4000
	}
	base := *seedFlag
	if base == 0 {
		base = uint64(time.Now().UnixNano())
	}
	t.Logf("seed=%d (replay: go test -run TestGeneratedHistories -check.seed=%d ./internal/chaos/check)", base, base)
	applied := map[string]int{}
	for n := range uint64(seeds) {
		seed := base + n
		ops := genHistory(seed, steps)
		for _, r := range All(Input{Ops: ops}) {
			if !r.Passed || r.Inconclusive {
				t.Fatalf("seed %d: a correct history fails %s: %+v", seed, r.Name, r)
			}
		}
		rng := rand.New(rand.NewPCG(seed, 7))
		for _, mu := range mutations {
			m := newMutable(ops, rng)
			if !mu.apply(m) {
				continue
			}
			applied[mu.name]++
			if r, _ := Run(mu.check, Input{Ops: m.ops}); r.Passed || r.Count == 0 || len(r.Examples) == 0 {
				t.Fatalf("seed %d: mutation %q not caught by %s: %+v", seed, mu.name, mu.check, r)
			}
		}
	}
	for _, mu := range mutations {
		if applied[mu.name] == 0 {
			t.Errorf("mutation %q never applied in %d seeds from %d: the generator does not exercise it", mu.name, seeds, base)
		}
	}
}

// A run-sized history (~10^5 ops) is checked in seconds: the checkers are
// linear-ish (porcupine included, as every send's place is known).
func TestLargeHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("large history: without -short")
	}
	seed := *seedFlag + 1
	ops := genHistory(seed, 300_000)
	start := time.Now()
	res := All(Input{Ops: ops})
	took := time.Since(start)
	t.Logf("seed=%d: %d lines checked in %s", seed, len(ops), took)
	for _, r := range res {
		t.Logf("%-23s %s", r.Name, r.Detail)
		if !r.Passed {
			t.Errorf("seed %d: %+v", seed, r)
		}
	}
	if took > time.Minute {
		t.Errorf("checking took %s", took)
	}
}
