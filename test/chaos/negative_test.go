package chaos_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/petrel-streaming/petrel/internal/chaos/check"
	"github.com/petrel-streaming/petrel/internal/chaos/history"
)

// results runs the smoke's checkers over ops, by name.
func results(ops []history.Op) map[string]check.Result {
	m := map[string]check.Result{}
	for _, r := range check.All(check.Input{Ops: ops}) {
		m[r.Name] = r
	}
	return m
}

// dropAcked removes up to n records that were acknowledged by an ok send
// from the final Read ops of topic chaos, spreading over partitions, as a
// broker that lost them would; it returns how many it removed.
func dropAcked(ops []history.Op, n int) int {
	acked := map[string]bool{}
	for _, o := range ops {
		if o.Type == history.Send && o.Phase == history.OK {
			acked[o.Value] = true
		}
	}
	dropped := 0
	for i := range ops {
		o := &ops[i]
		if o.Type != history.Read || o.Phase != history.OK || o.Topic != "chaos" || dropped >= n {
			continue
		}
		for j := len(o.Records) - 1; j >= 0; j-- {
			if acked[o.Records[j].Value] {
				// The tail: a lost suffix, as a truncated log would be.
				o.Records = append(o.Records[:j:j], o.Records[j+1:]...)
				dropped++
				break
			}
		}
	}
	return dropped
}

// TestNegativeControlSynthetic: without a broker, a tiny history in the
// workload's shape; the intact one passes, the one whose final read lost an
// acknowledged record fails lost-write.
func TestNegativeControlSynthetic(t *testing.T) {
	var buf bytes.Buffer
	rec := history.NewRecorder(&buf)
	var final []history.Rec
	for i := range 4 {
		v := fmt.Sprintf("p0.0-%d", i)
		inv := rec.Invoke(history.Op{Process: 0, Type: history.Send, Topic: "chaos", Value: v, Producer: "p0.0", Idempotent: true})
		rec.Complete(inv, history.OK, func(o *history.Op) { o.Offset = int64(i) })
		final = append(final, history.Rec{Offset: int64(i), Value: v})
	}
	inv := rec.Invoke(history.Op{Process: 10_000, Type: history.Read, Topic: "chaos"})
	rec.Complete(inv, history.OK, func(o *history.Op) { o.Records, o.Offset = final, 4 })
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	ops, err := history.ReadAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if r := results(ops)["lost-write"]; !r.Passed || r.Detail != "acked=4 lost=0" {
		t.Fatalf("intact history: %+v", r)
	}
	if n := dropAcked(ops, 1); n != 1 {
		t.Fatalf("dropped %d", n)
	}
	if r := results(ops)["lost-write"]; r.Passed || r.Count != 1 {
		t.Fatalf("lost record not detected: %+v", r)
	}
}
