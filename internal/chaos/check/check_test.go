package check

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/history"
)

var lin0 = history.TP{Topic: "lin", Partition: 0}

// cleanHistory: two producers, a poller, a list_offsets process, a group,
// info sends that did and did not apply, a failed send, a lin topic.
func cleanHistory() *hb {
	b := &hb{}
	a := b.send(1, t0, "p1-1", true)
	c := b.send(2, t0, "p2-1", false) // concurrent with a
	c.ok(0)
	a.ok(1)
	b.list(7, t0, 2)
	b.send(1, t0, "p1-2", true).info()  // applied at 2
	b.send(2, t0, "p2-2", false).info() // never applied
	b.send(2, t0, "p2-3", false).fail()
	b.poll(5, t0, recs(0, "p2-1", 1, "p1-1"))
	b.sendOK(1, t0, "p1-3", 3)
	b.poll(5, t0, recs(2, "p1-2", 3, "p1-3"))
	b.list(7, t0, 4)
	b.commit(8, "g", t0, 2).ok(2)
	b.fetch(9, "g", t0, 2)
	b.commit(8, "g", t0, 4).ok(4)
	b.fetch(9, "g", t0, 4)
	// lin: concurrent sends, an info send that applied, one that did not.
	x := b.send(3, lin0, "p3-1", true)
	y := b.send(4, lin0, "p4-1", true)
	z := b.send(6, lin0, "p6-1", true)
	y.ok(0)
	x.ok(1)
	z.info() // applied at 2
	b.send(6, lin0, "p6-2", true).info()
	b.list(7, lin0, 3)
	b.poll(5, lin0, recs(0, "p4-1", 1, "p3-1", 2, "p6-1"))
	b.read(t0, recs(0, "p2-1", 1, "p1-1", 2, "p1-2", 3, "p1-3"))
	b.read(lin0, recs(0, "p4-1", 1, "p3-1", 2, "p6-1"))
	return b
}

func TestCleanHistoryPasses(t *testing.T) {
	res := All(Input{Ops: cleanHistory().ops})
	if len(res) != len(Names()) {
		t.Fatalf("%d results, %d names", len(res), len(Names()))
	}
	for i, r := range res {
		if r.Name != Names()[i] {
			t.Errorf("result %d is %q, want %q", i, r.Name, Names()[i])
		}
		if !r.Passed || (r.Severity == Safety && r.Count != 0) {
			t.Errorf("%s: passed=%v count=%d examples=%q detail=%q", r.Name, r.Passed, r.Count, r.Examples, r.Detail)
		}
	}
	if got := res[0].Detail; got != "acked=5 lost=0 (info later seen: 2)" {
		t.Errorf("lost-write detail %q", got)
	}
	if r := res[15]; r.Name != "unseen-final" || r.Count != 2 { // p2-2 and p6-2
		t.Errorf("unseen-final %+v, want count 2", r)
	}
	if r := res[16]; !strings.HasPrefix(r.Detail, "lin: ok (6 ops") {
		t.Errorf("linearizable detail %q", r.Detail)
	}
	var buf bytes.Buffer
	if err := Format(&buf, res); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(res) || lines[0] != "PASS lost-write              acked=5 lost=0 (info later seen: 2)" ||
		lines[1] != "PASS ack-offset-mismatch     0" {
		t.Errorf("Format:\n%s", buf.String())
	}
	if p, f := Summarize(res); p != len(res) || f != 0 {
		t.Errorf("Summarize = %d, %d", p, f)
	}
}

// anomaly is one hand-made history with one anomaly.
type anomaly struct {
	name    string
	check   string
	build   func(b *hb)
	example string // a substring of the first example
	input   func(in *Input)
}

var anomalies = []anomaly{
	{"lost write", "lost-write", func(b *hb) {
		b.sendOK(1, t0, "p1-1", 0)
		b.sendOK(1, t0, "p1-2", 1)
		b.read(t0, recs(0, "p1-1"))
	}, "t/0@1 acked p1-2: final has nothing there", nil},
	{"lost write overwritten", "lost-write", func(b *hb) {
		b.sendOK(1, t0, "p1-1", 0)
		b.read(t0, recs(0, "p2-1"))
	}, "t/0@0 acked p1-1: final has p2-1, never read", nil},
	{"lost write, Jepsen inference", "lost-write", func(b *hb) {
		b.sendOK(1, t0, "p1-1", 0)
		b.sendOK(1, t0, "p1-2", 1)
		b.poll(5, t0, recs(1, "p1-2"))
	}, "t/0@0 acked p1-1: never read, though offset 1 was", nil},
	{"lost info send that was seen", "lost-write", func(b *hb) {
		b.send(1, t0, "p1-1", true).info()
		b.poll(5, t0, recs(0, "p1-1"))
		b.read(t0, nil)
	}, "p1-1 info send read at t/0@0", nil},
	{"no final read", "lost-write", func(b *hb) {
		b.sendOK(1, t0, "p1-1", 0)
	}, "t/0: no final read, 1 acked sends unverified", nil},
	{"spurious offset 0", "ack-offset-mismatch", func(b *hb) {
		b.sendOK(1, t0, "p1-1", 0)
		b.sendOK(2, t0, "p2-1", 0)
		b.read(t0, recs(0, "p1-1", 1, "p2-1"))
	}, "t/0@0 acked p2-1, read p1-1 there", nil},
	{"negative ack", "ack-offset-mismatch", func(b *hb) {
		b.sendOK(1, t0, "p1-1", -1)
		b.read(t0, nil)
	}, "p1-1 acked at negative offset t/0@-1", nil},
	{"inconsistent offsets", "inconsistent-offsets", func(b *hb) {
		b.send(1, t0, "p1-1", true).info()
		b.send(2, t0, "p2-1", true).info()
		b.poll(5, t0, recs(0, "p1-1"))
		b.read(t0, recs(0, "p2-1"))
	}, "t/0@0 holds p1-1, p2-1", nil},
	{"duplicate", "duplicate", func(b *hb) {
		b.sendOK(1, t0, "p1-1", 0)
		b.read(t0, recs(0, "p1-1", 1, "p1-1"))
	}, "idempotent p1-1 at t/0@0 and t/0@1", nil},
	{"realtime violation", "realtime-order", func(b *hb) {
		b.sendOK(1, t0, "p1-1", 1)
		b.sendOK(2, t0, "p2-1", 0)
		b.read(t0, recs(0, "p2-1", 1, "p1-1"))
	}, "t/0: p1-1 acked at 1 before p2-1 was sent, which got 0", nil},
	{"nonmonotonic send", "nonmonotonic-send", func(b *hb) {
		x := b.send(1, t0, "p1-1", true)
		y := b.send(2, t0, "p1-2", true) // same producer p1, second process
		y.ok(0)
		x.ok(1)
		b.read(t0, recs(0, "p1-2", 1, "p1-1"))
	}, "p1 t/0: p1-2 sent after p1-1 but acked at 0 ≤ 1", nil},
	{"read then lost", "read-then-lost", func(b *hb) {
		b.sendOK(1, t0, "p1-1", 0)
		b.send(1, t0, "p1-2", true).info()
		b.poll(5, t0, recs(0, "p1-1", 1, "p1-2"))
		b.read(t0, recs(0, "p1-1"))
	}, "t/0@1 read p1-2 by poll#", nil},
	{"G1a", "g1a", func(b *hb) {
		b.send(1, t0, "p1-1", true).fail()
		b.read(t0, recs(0, "p1-1"))
	}, "p1-1 failed (INVALID_RECORD) but was read at t/0@0", nil},
	{"read of a value never sent", "g1a", func(b *hb) {
		b.sendOK(1, t0, "p1-1", 0)
		b.read(t0, recs(0, "p1-1", 1, "p9-9"))
	}, "p9-9 read at t/0@1 was never sent", nil},
	{"poll skip", "poll-skip", func(b *hb) {
		for i, v := range []string{"p1-1", "p1-2", "p1-3"} {
			b.sendOK(1, t0, v, int64(i))
		}
		b.poll(5, t0, recs(0, "p1-1"))
		b.poll(5, t0, recs(2, "p1-3"))
		b.read(t0, recs(0, "p1-1", 1, "p1-2", 2, "p1-3"))
	}, "p5 t/0: read 0 then 2, skipping t/0@1 (p1-2)", nil},
	{"nonmonotonic poll across polls", "nonmonotonic-poll", func(b *hb) {
		b.sendOK(1, t0, "p1-1", 0)
		b.sendOK(1, t0, "p1-2", 1)
		b.poll(5, t0, recs(0, "p1-1", 1, "p1-2"))
		b.poll(5, t0, recs(1, "p1-2"))
		b.read(t0, recs(0, "p1-1", 1, "p1-2"))
	}, "p5 t/0: read 1 (p1-2) after 1 (p1-2)", nil},
	{"nonmonotonic poll within a poll", "nonmonotonic-poll", func(b *hb) {
		b.sendOK(1, t0, "p1-1", 0)
		b.sendOK(1, t0, "p1-2", 1)
		b.poll(5, t0, recs(1, "p1-2", 0, "p1-1"))
		b.read(t0, recs(0, "p1-1", 1, "p1-2"))
	}, "p5 t/0: read 0 (p1-1) after 1 (p1-2)", nil},
	{"hw decreases", "hw-regression", func(b *hb) {
		b.list(7, t0, 5)
		b.list(7, t0, 3)
	}, "p7 t/0: latest offset 3 after 5", func(in *Input) { in.NoG18 = true }},
	{"hw below an acked offset", "hw-regression", func(b *hb) {
		b.sendOK(1, t0, "p1-1", 4)
		b.list(7, t0, 4)
	}, "t/0: latest offset 4 from list_offsets#2(p7 ok), but offset 4 was seen by send#1", nil},
	{"leader epoch of records", "leader-epoch-regression", func(b *hb) {
		b.poll(5, t0, []history.Rec{{Offset: 0, Value: "a", LeaderEpoch: 2}, {Offset: 1, Value: "b", LeaderEpoch: 1}})
	}, "p5 t/0: record 1 has leader epoch 1 after 2 at offset 0", nil},
	{"leader epoch of acks", "leader-epoch-regression", func(b *hb) {
		b.send(1, t0, "p1-1", true).end(history.OK, func(o *history.Op) { o.Offset, o.LeaderEpoch = 0, 3 })
		b.send(1, t0, "p1-2", true).end(history.OK, func(o *history.Op) { o.Offset, o.LeaderEpoch = 1, 2 })
	}, "p1 t/0: send#2(p1 ok) saw leader epoch 2 after 3", nil},
	{"data loss event", "data-loss-events", func(b *hb) {
		b.invoke(history.Op{Process: 5, Type: history.Poll, Topic: "t", Offset: 7}).
			end(history.OK, func(o *history.Op) { o.DataLoss = true })
	}, "p5 t/0: poll#1(p5 ok) at offset 7 reported data loss", nil},
	{"group offset regression", "group-offset-regression", func(b *hb) {
		b.commit(8, "g", t0, 10).ok(10)
		b.fetch(9, "g", t0, 10)
		b.fetch(9, "g", t0, 5)
	}, "g t/0: p9 fetched 5 after 10", nil},
	{"group offset lost", "group-offset-lost", func(b *hb) {
		b.commit(8, "g", t0, 3).ok(3)
		b.commit(8, "g", t0, 10).ok(10)
		b.fetch(9, "g", t0, 3)
	}, "g t/0: fetch_offset#3(p9 ok) returned 3, but commit#2(p8 ok) of 10 was acked", nil},
	{"lin: two sends acked at one offset", "linearizable", func(b *hb) {
		b.sendOK(3, lin0, "p3-1", 0)
		b.sendOK(4, lin0, "p4-1", 0)
	}, "lin/0: no linearization of 2 ops: 1 linearize, then none of: send p4-1 → 0", nil},
	{"lin: read before the send", "linearizable", func(b *hb) {
		b.poll(5, lin0, recs(0, "p3-1"))
		b.sendOK(3, lin0, "p3-1", 0)
	}, "none of: poll → 0:p3-1", nil},
	{"lin: stale list_offsets", "linearizable", func(b *hb) {
		b.sendOK(3, lin0, "p3-1", 0)
		b.list(7, lin0, 0)
	}, "none of: list_offsets → 0", nil},
}

func TestAnomaliesDetected(t *testing.T) {
	for _, a := range anomalies {
		t.Run(a.name, func(t *testing.T) {
			b := &hb{}
			a.build(b)
			in := Input{Ops: b.ops}
			if a.input != nil {
				a.input(&in)
			}
			r, ok := Run(a.check, in)
			if !ok {
				t.Fatalf("no check %q", a.check)
			}
			if r.Name != a.check || r.Passed || r.Count == 0 || r.Severity != Safety {
				t.Fatalf("%s: got %+v, want a failure", a.check, r)
			}
			if len(r.Examples) == 0 || !strings.Contains(r.Examples[0], a.example) {
				t.Fatalf("%s: examples %q, want one containing %q", a.check, r.Examples, a.example)
			}
		})
	}
}

// Each anomaly's fix (or a concurrent variant) passes: the checks are not
// merely failing everything.
func TestNearMissesPass(t *testing.T) {
	for _, tc := range []struct {
		name, check string
		build       func(b *hb)
		input       func(in *Input)
	}{
		{"concurrent sends in either order", "realtime-order", func(b *hb) {
			x := b.send(1, t0, "p1-1", true)
			y := b.send(2, t0, "p2-1", true)
			x.ok(1)
			y.ok(0)
		}, nil},
		{"non-idempotent duplicate is a figure", "duplicate", func(b *hb) {
			b.send(1, t0, "p1-1", false).ok(0)
			b.read(t0, recs(0, "p1-1", 1, "p1-1"))
		}, nil},
		{"non-idempotent reorder is a figure", "nonmonotonic-send", func(b *hb) {
			x := b.send(1, t0, "p1-1", false)
			y := b.send(2, t0, "p1-2", false)
			y.ok(0)
			x.ok(1)
		}, nil},
		{"hw below ack without G18", "hw-regression", func(b *hb) {
			b.sendOK(1, t0, "p1-1", 4)
			b.list(7, t0, 4)
		}, func(in *Input) { in.NoG18 = true }},
		{"hw concurrent with the ack", "hw-regression", func(b *hb) {
			s := b.send(1, t0, "p1-1", true)
			b.list(7, t0, 4)
			s.ok(4)
		}, nil},
		{"group offset lowered by a later commit", "group-offset-lost", func(b *hb) {
			b.commit(8, "g", t0, 10).ok(10)
			b.commit(8, "g", t0, 3).ok(3)
			b.fetch(9, "g", t0, 3)
		}, nil},
		{"group offset lowered by an info commit", "group-offset-regression", func(b *hb) {
			b.commit(8, "g", t0, 10).ok(10)
			b.fetch(9, "g", t0, 10)
			b.commit(8, "g", t0, 5).info()
			b.fetch(9, "g", t0, 5)
		}, nil},
		{"lin: info send applied late", "linearizable", func(b *hb) {
			b.send(3, lin0, "p3-1", true).info()
			b.sendOK(4, lin0, "p4-1", 0)
			b.poll(5, lin0, recs(0, "p4-1", 1, "p3-1"))
		}, nil},
		{"lin: list_offsets left out without G18", "linearizable", func(b *hb) {
			b.sendOK(3, lin0, "p3-1", 0)
			b.list(7, lin0, 0)
		}, func(in *Input) { in.NoG18 = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &hb{}
			tc.build(b)
			in := Input{Ops: b.ops}
			if tc.input != nil {
				tc.input(&in)
			}
			if r, _ := Run(tc.check, in); !r.Passed || r.Severity == Safety && r.Count != 0 {
				t.Fatalf("%s: %+v, want a pass", tc.check, r)
			}
		})
	}
}

func TestLinInconclusive(t *testing.T) {
	b := &hb{}
	b.sendOK(3, lin0, "p3-1", 0)
	r, _ := Run("linearizable", Input{Ops: b.ops, LinTimeout: time.Nanosecond})
	if r.Passed || !r.Inconclusive || !strings.Contains(r.Detail, "inconclusive") {
		t.Fatalf("%+v, want inconclusive", r)
	}
	if p, f := Summarize([]Result{r, {Passed: true}, {}}); p != 1 || f != 1 {
		t.Fatalf("Summarize = %d passed, %d failed; want 1, 1", p, f)
	}
	var buf bytes.Buffer
	_ = Format(&buf, []Result{r})
	if !strings.HasPrefix(buf.String(), "INCONCLUSIVE linearizable") {
		t.Fatalf("Format: %q", buf.String())
	}
}

func TestExplicitFinalAndExamplesBound(t *testing.T) {
	b := &hb{}
	for i := range 20 {
		b.sendOK(1, t0, "p1-"+string(rune('a'+i)), int64(i))
	}
	r := All(Input{Ops: b.ops, Final: map[history.TP][]history.Rec{t0: nil}})[0]
	if r.Count != 20 || len(r.Examples) != maxExamples || r.Detail != "acked=20 lost=20" {
		t.Fatalf("%+v", r)
	}
	var buf bytes.Buffer
	_ = Format(&buf, []Result{r})
	if n := strings.Count(buf.String(), "\n"); n != 1+formatExamples {
		t.Fatalf("Format printed %d lines for a failure:\n%s", n, buf.String())
	}
}
