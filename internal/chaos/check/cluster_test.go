package check

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/history"
)

// probe invokes a send straight to node.
func (b *hb) probe(node int32, tp history.TP, value string) *pending {
	prod, _, _ := splitValue(value)
	return b.invoke(history.Op{Process: 50 + int(node), Type: history.Send, Topic: tp.Topic, Partition: tp.Partition,
		Value: value, Producer: prod, Node: &node})
}

// TestMinorityAck: node 2 is cut off at t=cut until the heal; a probe it
// acknowledges inside that window fails the check; before the cut, after
// the heal, to another node, or refused, it does not.
func TestMinorityAck(t *testing.T) {
	build := func(bad bool) ([]history.Op, FaultSpan) {
		b := &hb{}
		b.probe(2, t0, "n2.probe-0").ok(0) // before the cut
		span := FaultSpan{Fault: "isolate", Injected: b.t + 5, MinorityFrom: b.t + 1, Minority: []int32{2}}
		b.probe(2, t0, "n2.probe-1").info() // timed out: fine
		p := b.probe(2, t0, "n2.probe-2")
		if bad {
			p.ok(1)
		} else {
			p.end(history.Info, func(o *history.Op) { o.Err = "NOT_LEADER_OR_FOLLOWER" })
		}
		b.probe(0, t0, "n0.probe-0").ok(2) // the majority acks
		straddle := b.probe(2, t0, "n2.probe-3")
		span.Heal = b.t + 1
		b.t += 10
		straddle.ok(3)                     // answered after the heal: allowed
		b.probe(2, t0, "n2.probe-4").ok(4) // after the heal
		b.read(t0, recs(0, "n2.probe-0", 1, "n2.probe-2", 2, "n0.probe-0", 3, "n2.probe-3", 4, "n2.probe-4"))
		if !bad {
			b.ops[len(b.ops)-1].Records = recs(0, "n2.probe-0", 2, "n0.probe-0", 3, "n2.probe-3", 4, "n2.probe-4")
		}
		return b.ops, span
	}
	ops, span := build(false)
	r, _ := Run("minority-ack", Input{Ops: ops, Faults: []FaultSpan{span}})
	if !r.Passed || r.Detail != "acked=0 (probes to cut-off nodes: 2, refused or timed out: 2)" {
		t.Fatalf("clean: %+v", r)
	}
	ops, span = build(true)
	r, _ = Run("minority-ack", Input{Ops: ops, Faults: []FaultSpan{span}})
	if r.Passed || r.Count != 1 || !strings.Contains(r.Examples[0], "node 2") || !strings.Contains(r.Examples[0], "n2.probe-2") {
		t.Fatalf("minority ack not caught: %+v", r)
	}
	// Without the fault log the same history has nothing to judge.
	if r, _ := Run("minority-ack", Input{Ops: ops}); !r.Passed {
		t.Fatalf("no faults: %+v", r)
	}
}

// TestReplicaDivergence: equal digests pass; a different CRC, a different
// high watermark, or a replica that did not answer fail; nil is "not
// collected".
func TestReplicaDivergence(t *testing.T) {
	p1 := history.TP{Topic: "t", Partition: 1}
	same := func() map[history.TP][]Replica {
		m := map[history.TP][]Replica{}
		for _, tp := range []history.TP{t0, p1} {
			for n := range int32(3) {
				m[tp] = append(m[tp], Replica{Node: n, HighWatermark: 10, Upto: 10, CRC32C: 0xabc + uint32(tp.Partition), Batches: 4})
			}
		}
		return m
	}
	run := func(reps map[history.TP][]Replica) Result {
		r, _ := Run("replica-divergence", Input{Replicas: reps})
		return r
	}
	if r := run(same()); !r.Passed || r.Detail != "divergent=0 (partitions=2 replicas=6)" {
		t.Fatalf("equal replicas: %+v", r)
	}
	if r := run(nil); !r.Passed || r.Detail != "not collected" {
		t.Fatalf("nil: %+v", r)
	}
	for name, edit := range map[string]func(m map[history.TP][]Replica){
		"crc32c=":              func(m map[history.TP][]Replica) { m[p1][2].CRC32C ^= 1 },
		"high watermarks diff": func(m map[history.TP][]Replica) { m[t0][1].HighWatermark, m[t0][1].Upto = 9, 9 },
		"connection refused":   func(m map[history.TP][]Replica) { m[t0][0].Err = "connection refused" },
	} {
		m := same()
		edit(m)
		if r := run(m); r.Passed || r.Count != 1 || !strings.Contains(r.Examples[0], name) {
			t.Errorf("%s: %+v", name, r)
		}
	}
}

// TestLiveness: figures from a hand-made history; passes without targets,
// fails when a fault's unavailability or recovery exceeds its target or a
// partition never acknowledges again.
func TestLiveness(t *testing.T) {
	p1 := history.TP{Topic: "t", Partition: 1}
	b := &hb{}
	b.sendOK(1, t0, "p1-0", 0)
	b.sendOK(1, p1, "p1-1", 0)
	inj := b.t + 1
	slow := b.send(1, t0, "p1-2", true) // invoked after the fault, acked 100 ns later
	b.sendOK(1, p1, "p1-3", 1)
	b.t += 60
	heal := b.t + 1
	slow.ok(1)
	b.sendOK(1, p1, "p1-4", 2)
	b.sendOK(1, t0, "p1-5", 2)
	spans := []FaultSpan{{Fault: "kill", Injected: inj, Heal: heal}}
	f := Figures(Input{Ops: b.ops, Faults: spans})
	if got := f.Unavailable["kill"]; len(got) != 1 || got[0] != time.Duration(b.ops[7].Time-inj) {
		t.Fatalf("unavailable %v (ops %+v)", got, b.ops)
	}
	if len(f.Recovery) != 1 || f.Recovery[0] != time.Duration(b.ops[len(b.ops)-1].Time-heal) || len(f.Never) != 0 {
		t.Fatalf("recovery %v never %v", f.Recovery, f.Never)
	}
	check := func(in Input) Result {
		in.Ops, in.Faults = b.ops, spans
		r, _ := Run("liveness", in)
		return r
	}
	if r := check(Input{}); !r.Passed || r.Severity != Liveness || !strings.HasPrefix(r.Detail, "worst unavailability") {
		t.Fatalf("no targets: %+v", r)
	}
	if r := check(Input{Targets: Targets{Unavailable: time.Second, Recovery: time.Second}}); !r.Passed {
		t.Fatalf("within targets: %+v", r)
	}
	if r := check(Input{Targets: Targets{Unavailable: 50}}); r.Passed || r.Count != 1 || !strings.Contains(r.Examples[0], "kill: unavailable") {
		t.Fatalf("unavailability over target: %+v", r)
	}
	if r := check(Input{Targets: Targets{Recovery: 5}}); r.Passed || !strings.Contains(r.Examples[0], "recovery") {
		t.Fatalf("recovery over target: %+v", r)
	}
	// A fault after which nothing is acknowledged: "never", a failure
	// only with a target.
	late := append(spans, FaultSpan{Fault: "kill-all", Injected: b.t + 1, Heal: math.MaxInt64})
	if f := Figures(Input{Ops: b.ops, Faults: late}); len(f.Never) != 1 || !strings.Contains(f.Never[0], "kill-all") {
		t.Fatalf("never %v", f.Never)
	}
	r, _ := Run("liveness", Input{Ops: b.ops, Faults: late})
	if !r.Passed {
		t.Fatalf("never without target: %+v", r)
	}
	r, _ = Run("liveness", Input{Ops: b.ops, Faults: late, Targets: Targets{Recovery: time.Hour}})
	if r.Passed || r.Count != 1 {
		t.Fatalf("never with a target: %+v", r)
	}
	if Pct([]time.Duration{3, 1, 2, 4}, 50) != 2 || Pct(nil, 50) != 0 || Pct([]time.Duration{3, 1}, 100) != 3 {
		t.Fatal("Pct")
	}
}
