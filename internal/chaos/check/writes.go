package check

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/petrel-streaming/petrel/internal/chaos/history"
)

// Checks of what was written against what was read: G1, G2, G5, G6.

// lostWrite: an ok send absent from the final read at its offset; an info
// send some reader saw but absent from the final read; Jepsen's inference
// (a reader saw a higher offset of the partition, and the acked value was
// never read anywhere). A partition with acked sends and no final read is an
// anomaly too: its sends are unverified, and the harness is broken.
func lostWrite(v *view, r *Result) {
	var acked, lost, infoSeen int
	unverified := map[history.TP]int{}
	for s := range v.okSends {
		acked++
		tp := s.TP()
		f := v.final[tp]
		switch {
		case f != nil && f.byOff[s.Offset] != s.Value:
			lost++
			r.note("%s acked %s: %s%s", tpOff{tp, s.Offset}, s.Value, f.describe(s.Offset), v.seenElsewhere(s.Value))
		case f == nil:
			unverified[tp]++
			if m, read := v.maxRead[tp]; read && s.Offset < m && len(v.readAt[s.Value]) == 0 {
				lost++
				r.note("%s acked %s: never read, though offset %d was (Jepsen inference)", tpOff{tp, s.Offset}, s.Value, m)
			}
		}
	}
	for _, s := range v.sends {
		if s.Phase != history.Info || len(v.readAt[s.Value]) == 0 {
			continue
		}
		infoSeen++
		if f := v.final[s.TP()]; f != nil && !slices.ContainsFunc(v.readAt[s.Value], func(p tpOff) bool {
			return p.tp == s.TP() && f.byOff[p.off] == s.Value
		}) {
			lost++
			r.note("%s info send read at %s, absent from the final read", s.Value, v.readAt[s.Value][0])
		}
	}
	for _, tp := range sortedKeys(unverified, history.TP.String) {
		r.note("%s: no final read, %d acked sends unverified", tp, unverified[tp])
	}
	r.Detail = fmt.Sprintf("acked=%d lost=%d", acked, lost)
	if infoSeen > 0 {
		r.Detail += fmt.Sprintf(" (info later seen: %d)", infoSeen)
	}
	if len(unverified) > 0 {
		r.Detail += fmt.Sprintf(" unverified partitions=%d", len(unverified))
	}
}

// seenElsewhere says where else a value was read, for an example.
func (v *view) seenElsewhere(value string) string {
	at := v.readAt[value]
	if len(at) == 0 {
		return ", never read"
	}
	return ", read at " + at[0].String()
}

// ackOffsetMismatch: a value read at an acked offset differs from the value
// sent there, or the ack's offset is negative.
func ackOffsetMismatch(v *view, r *Result) {
	for s := range v.okSends {
		at := tpOff{s.TP(), s.Offset}
		if s.Offset < 0 {
			r.note("%s acked at negative offset %s", s.Value, at)
			continue
		}
		for _, w := range v.readVals[at] {
			if w != s.Value {
				r.note("%s acked %s, read %s there", at, s.Value, w)
				break
			}
		}
	}
}

// inconsistentOffsets: one (partition, offset) seen with two values, across
// every ack and every read.
func inconsistentOffsets(v *view, r *Result) {
	acks := map[tpOff][]string{}
	for s := range v.okSends {
		at := tpOff{s.TP(), s.Offset}
		if !slices.Contains(acks[at], s.Value) {
			acks[at] = append(acks[at], s.Value)
		}
	}
	bad := map[tpOff]string{}
	for at, vals := range acks {
		for _, w := range v.readVals[at] {
			if !slices.Contains(vals, w) {
				vals = append(vals, w)
			}
		}
		if len(vals) > 1 {
			bad[at] = strings.Join(vals, ", ")
		}
	}
	for at, vals := range v.readVals {
		if _, acked := acks[at]; !acked && len(vals) > 1 {
			bad[at] = strings.Join(vals, ", ")
		}
	}
	for _, at := range sortedKeys(bad, tpOff.String) {
		r.note("%s holds %s", at, bad[at])
	}
}

// duplicate: one value read at two offsets. A safety anomaly for an
// idempotent producer's value; counted for the others, as a figure.
func duplicate(v *view, r *Result) {
	nonIdem := 0
	for _, value := range sortedKeys(v.readAt, func(s string) string { return s }) {
		at := v.readAt[value]
		if len(at) < 2 {
			continue
		}
		if s := v.sendOf[value]; s != nil && s.Idempotent {
			r.note("idempotent %s at %s and %s", value, at[0], at[1])
		} else {
			nonIdem++
		}
	}
	r.Detail = fmt.Sprintf("idempotent=%d (non-idempotent producer: %d, informational)", r.Count, nonIdem)
}

// readThenLost: a record some poll or read saw is missing or different in
// the final read of its partition (an uncommitted read).
func readThenLost(v *view, r *Result) {
	seen := map[obsKey]bool{}
	for _, o := range v.reads {
		f := v.final[o.at.tp]
		if o.by == nil || f == nil || f.byOff[o.at.off] == o.value {
			continue
		}
		k := obsKey{o.at, o.value}
		if seen[k] {
			continue
		}
		seen[k] = true
		r.note("%s read %s by %s: %s", o.at, o.value, o.by, f.describe(o.at.off))
	}
}

type obsKey struct {
	at    tpOff
	value string
}

// g1a: a definitely-failed send is read (aborted read), or a value that was
// never sent is read on a topic the workload writes.
func g1a(v *view, r *Result) {
	for _, s := range v.sends {
		if s.Phase == history.Fail && len(v.readAt[s.Value]) > 0 {
			r.note("%s failed (%s) but was read at %s", s.Value, s.Err, v.readAt[s.Value][0])
		}
	}
	for _, value := range sortedKeys(v.readAt, func(s string) string { return s }) {
		at := v.readAt[value][0]
		if v.sendOf[value] == nil && v.sendTopics[at.tp.Topic] {
			r.note("%s read at %s was never sent", value, at)
		}
	}
}

// unseenFinal: info sends no reader ever saw (they did not happen, or the
// final read missed them): a figure.
func unseenFinal(v *view, r *Result) {
	info := 0
	for _, s := range v.sends {
		if s.Phase != history.Info || s.Node != nil {
			continue // probes (sent straight to a node) mostly meet non-leaders
		}
		info++
		if len(v.readAt[s.Value]) == 0 {
			r.note("%s (%s) info send never read", s.Value, s.TP())
		}
	}
	r.Detail = fmt.Sprintf("%d of %d info sends never read (informational; probes left out)", r.Count, info)
}

// sortedKeys returns m's keys ordered by key (a string form), so examples
// come out the same run after run.
func sortedKeys[K comparable, V any](m map[K]V, key func(K) string) []K {
	ks := slices.Collect(maps.Keys(m))
	slices.SortFunc(ks, func(a, b K) int { return cmp.Compare(key(a), key(b)) })
	return ks
}
