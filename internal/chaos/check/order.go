package check

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/petrel-streaming/petrel/internal/chaos/history"
)

// Checks of order: G3, G4, G7, G8.

// byTP groups ops by partition, keeping their order.
func byTP(ops []*op) map[history.TP][]*op {
	m := map[history.TP][]*op{}
	for _, o := range ops {
		m[o.TP()] = append(m[o.TP()], o)
	}
	return m
}

// realtimeOrder: ok(A) completed before B was invoked, both acked on the
// same partition, and offset(B) ≤ offset(A). One sweep per partition: the
// sends by invoke time against the highest offset acked so far.
func realtimeOrder(v *view, r *Result) {
	var acked []*op
	for s := range v.okSends {
		acked = append(acked, s)
	}
	parts := byTP(acked)
	for _, tp := range sortedKeys(parts, history.TP.String) {
		byInvoke := parts[tp] // already in invoke order
		byComplete := slices.Clone(byInvoke)
		slices.SortStableFunc(byComplete, func(a, b *op) int { return cmp.Compare(a.complete, b.complete) })
		var best *op
		j := 0
		for _, b := range byInvoke {
			for ; j < len(byComplete) && byComplete[j].complete < b.invoke; j++ {
				if best == nil || byComplete[j].Offset > best.Offset {
					best = byComplete[j]
				}
			}
			if best != nil && b.Offset <= best.Offset {
				r.note("%s: %s acked at %d before %s was sent, which got %d", tp, best.Value, best.Offset, b.Value, b.Offset)
			}
		}
	}
}

// prodTP is one producer's (or process's) stream to one partition.
type prodTP struct {
	who string
	tp  history.TP
}

// nonmonotonicSend: an idempotent producer's later send (by invoke order)
// acked at a lower offset, or its sequence numbers not increasing in the
// final read. Non-idempotent producers' count is a figure.
func nonmonotonicSend(v *view, r *Result) {
	last := map[prodTP]*op{}
	nonIdem := 0
	for s := range v.okSends {
		k := prodTP{s.Producer, s.TP()}
		if k.who == "" {
			k.who, _, _ = splitValue(s.Value)
		}
		if p := last[k]; p != nil && s.Offset <= p.Offset {
			if s.Idempotent {
				r.note("%s %s: %s sent after %s but acked at %d ≤ %d", k.who, k.tp, s.Value, p.Value, s.Offset, p.Offset)
			} else {
				nonIdem++
			}
		}
		last[k] = s
	}
	for _, tp := range sortedKeys(v.final, history.TP.String) {
		type seen struct {
			seq int64
			rec history.Rec
		}
		prev := map[string]seen{}
		for _, rec := range v.final[tp].recs {
			s := v.sendOf[rec.Value]
			prod, seq, ok := splitValue(rec.Value)
			if s == nil || !s.Idempotent || !ok {
				continue
			}
			if p, had := prev[prod]; had && seq <= p.seq {
				r.note("%s read back: %s at %d after %s at %d", tp, rec.Value, rec.Offset, p.rec.Value, p.rec.Offset)
			}
			prev[prod] = seen{seq, rec}
		}
	}
	r.Detail = fmt.Sprintf("idempotent=%d (non-idempotent producer: %d, informational)", r.Count, nonIdem)
}

// walkPolls calls fn for each record an assign consumer's ok polls returned,
// in consumption order per (process, partition), with the record before it.
func (v *view) walkPolls(fn func(o *op, prev, cur history.Rec, first bool)) {
	type key struct {
		p  int
		tp history.TP
	}
	last := map[key]history.Rec{}
	for _, o := range v.ops {
		if o.Type != history.Poll || o.Phase != history.OK {
			continue
		}
		k := key{o.Process, o.TP()}
		for _, rec := range o.Records {
			prev, had := last[k]
			fn(o, prev, rec, !had)
			last[k] = rec
		}
	}
}

// knownOffsets: per partition, every offset the final read or any reader
// saw, sorted: what exists in the log.
func (v *view) knownOffsets() map[history.TP][]int64 {
	m := map[history.TP][]int64{}
	for at := range v.readVals {
		m[at.tp] = append(m[at.tp], at.off)
	}
	for _, offs := range m {
		slices.Sort(offs)
	}
	return m
}

// pollSkip: an assign consumer read offset i then j > i while the log holds
// an offset between them.
func pollSkip(v *view, r *Result) {
	known := v.knownOffsets()
	v.walkPolls(func(o *op, prev, cur history.Rec, first bool) {
		if first || cur.Offset <= prev.Offset {
			return
		}
		offs := known[o.TP()]
		i, _ := slices.BinarySearch(offs, prev.Offset+1)
		if i < len(offs) && offs[i] < cur.Offset {
			at := tpOff{o.TP(), offs[i]}
			r.note("p%d %s: read %d then %d, skipping %s (%s)", o.Process, o.TP(), prev.Offset, cur.Offset, at, v.readVals[at][0])
		}
	})
}

// nonmonotonicPoll: an assign consumer went back (or repeated an offset)
// within or between polls.
func nonmonotonicPoll(v *view, r *Result) {
	v.walkPolls(func(o *op, prev, cur history.Rec, first bool) {
		if !first && cur.Offset <= prev.Offset {
			r.note("p%d %s: read %d (%s) after %d (%s), %s", o.Process, o.TP(), cur.Offset, cur.Value, prev.Offset, prev.Value, o)
		}
	})
}

// hwRegression: one list_offsets process sees the latest offset decrease
// on a partition; and (G18, unless in.NoG18) a latest offset lower than
// offset+1 of a record acked or read before the list_offsets was invoked.
func hwRegression(v *view, r *Result) {
	type key struct {
		p  int
		tp history.TP
	}
	last := map[key]*op{}
	var lists []*op
	for _, o := range v.ops {
		if o.Type != history.ListOffsets || o.Phase != history.OK {
			continue
		}
		lists = append(lists, o)
		k := key{o.Process, o.TP()}
		if p := last[k]; p != nil && o.Offset < p.Offset {
			r.note("p%d %s: latest offset %d after %d", o.Process, o.TP(), o.Offset, p.Offset)
		}
		if p := last[k]; p == nil || o.Offset > p.Offset {
			last[k] = o
		}
	}
	if v.in.NoG18 || len(lists) == 0 {
		return
	}
	// Events per partition: (time, end offset that must be ≤ HW, op).
	// Completions sort before invokes only when strictly earlier.
	type event struct {
		t    int64
		need int64 // offset+1 known committed; -1 for a list_offsets invoke
		o    *op
	}
	evs := map[history.TP][]event{}
	for _, l := range lists {
		evs[l.TP()] = append(evs[l.TP()], event{l.invoke, -1, l})
	}
	for _, o := range v.ops {
		if o.Phase != history.OK {
			continue
		}
		need := int64(-1)
		switch o.Type {
		case history.Send:
			need = o.Offset + 1
		case history.Poll, history.Read:
			for _, rec := range o.Records {
				need = max(need, rec.Offset+1)
			}
		}
		if _, listed := evs[o.TP()]; listed && need > 0 {
			evs[o.TP()] = append(evs[o.TP()], event{o.complete, need, o})
		}
	}
	for _, tp := range sortedKeys(evs, history.TP.String) {
		es := evs[tp]
		slices.SortStableFunc(es, func(a, b event) int {
			if c := cmp.Compare(a.t, b.t); c != 0 {
				return c
			}
			return cmp.Compare(a.need, b.need) // invoke (-1) first on a tie
		})
		var need int64
		var why *op
		for _, e := range es {
			switch {
			case e.need > need:
				need, why = e.need, e.o
			case e.need < 0 && e.o.Offset < need:
				r.note("%s: latest offset %d from %s, but offset %d was seen by %s before it was invoked",
					tp, e.o.Offset, e.o, need-1, why)
			}
		}
	}
}

// leaderEpochRegression: per client and partition, leader epochs seen in
// send acks or list_offsets (non-zero ones) decrease, or records consumed in
// offset order carry a lower epoch than the record before; and the final
// read's epochs decrease along the log.
func leaderEpochRegression(v *view, r *Result) {
	type key struct {
		p  int
		tp history.TP
		t  history.Type
	}
	last := map[key]int32{}
	for _, o := range v.ops {
		if o.Phase != history.OK || o.LeaderEpoch <= 0 || (o.Type != history.Send && o.Type != history.ListOffsets) {
			continue
		}
		k := key{o.Process, o.TP(), o.Type}
		if e := last[k]; o.LeaderEpoch < e {
			r.note("p%d %s: %s saw leader epoch %d after %d", o.Process, o.TP(), o, o.LeaderEpoch, e)
		}
		last[k] = max(last[k], o.LeaderEpoch)
	}
	v.walkPolls(func(o *op, prev, cur history.Rec, first bool) {
		if !first && cur.Offset > prev.Offset && cur.LeaderEpoch < prev.LeaderEpoch {
			r.note("p%d %s: record %d has leader epoch %d after %d at offset %d", o.Process, o.TP(), cur.Offset, cur.LeaderEpoch, prev.LeaderEpoch, prev.Offset)
		}
	})
	for _, tp := range sortedKeys(v.final, history.TP.String) {
		recs := v.final[tp].recs
		for i := 1; i < len(recs); i++ {
			if recs[i].LeaderEpoch < recs[i-1].LeaderEpoch {
				r.note("%s final read: offset %d has leader epoch %d after %d", tp, recs[i].Offset, recs[i].LeaderEpoch, recs[i-1].LeaderEpoch)
			}
		}
	}
}

// dataLossEvents: polls on which franz-go reported ErrDataLoss.
func dataLossEvents(v *view, r *Result) {
	for _, o := range v.ops {
		if o.Type == history.Poll && o.DataLoss {
			r.note("p%d %s: %s at offset %d reported data loss", o.Process, o.TP(), o, o.Offset)
		}
	}
}
