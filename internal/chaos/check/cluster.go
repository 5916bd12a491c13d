package check

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/history"
)

// FaultSpan is one injected fault, on the history's clock (ns since the
// recorder started; the fault log shares its origin).
type FaultSpan struct {
	Fault    string `json:"fault"`
	Injected int64  `json:"injected"` // the fault is in place
	Heal     int64  `json:"heal"`     // its heal began (MaxInt64: never)
	// Minority are the nodes cut off from the majority from MinorityFrom
	// (the cut in place) until Heal: none may acknowledge a produce sent
	// to it after MinorityFrom and answered before Heal.
	Minority     []int32 `json:"minority,omitempty"`
	MinorityFrom int64   `json:"minority_from,omitempty"`
}

// Replica is one node's digest of its replica of a partition (the admin
// API's digest endpoint, read after the heal and the final read), or the
// error asking for it.
type Replica struct {
	Node          int32  `json:"node"`
	HighWatermark int64  `json:"hw"`
	Upto          int64  `json:"upto"` // the digest covers the batches below it
	CRC32C        uint32 `json:"crc"`
	Batches       int    `json:"batches"`
	Err           string `json:"err,omitempty"`
}

// Targets are the liveness targets of a run (0: none, the figure is only
// reported).
type Targets struct {
	// Unavailable bounds, per fault, the time from the fault in place to
	// the first acknowledged write on every partition.
	Unavailable time.Duration
	// Recovery bounds, per fault, the time from its heal to the first
	// acknowledged write on every partition.
	Recovery time.Duration
}

// minorityAck: an acknowledgement by a node cut off from the majority, of
// a produce sent straight to it after the cut and answered before the
// heal (G10). Only sends that name their node (the workload's probes)
// can be judged; Detail says how many there were.
func minorityAck(v *view, r *Result) {
	probes, refused := 0, 0
	for _, f := range v.in.Faults {
		if len(f.Minority) == 0 {
			continue
		}
		for _, s := range v.sends {
			if s.Node == nil || !slices.Contains(f.Minority, *s.Node) || s.invoke < f.MinorityFrom || s.complete > f.Heal {
				continue
			}
			probes++
			if s.Phase != history.OK {
				refused++
				continue
			}
			r.note("node %d, cut off by %s at %d ns, acknowledged %s at %s/%d (sent %v after the cut, answered %v before the heal)",
				*s.Node, f.Fault, f.MinorityFrom, s.Value, s.TP(), s.Offset,
				time.Duration(s.invoke-f.MinorityFrom), time.Duration(f.Heal-s.complete))
		}
	}
	r.Detail = fmt.Sprintf("acked=%d (probes to cut-off nodes: %d, refused or timed out: %d)", r.Count, probes, refused)
}

// replicaDivergence: for every partition, every replica answered, their
// high watermarks agree and their digests below it are equal.
func replicaDivergence(v *view, r *Result) {
	if v.in.Replicas == nil {
		r.Detail = "not collected"
		return
	}
	tps := make([]history.TP, 0, len(v.in.Replicas))
	for tp := range v.in.Replicas {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, func(a, b history.TP) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	replicas := 0
	for _, tp := range tps {
		rs := v.in.Replicas[tp]
		replicas += len(rs)
		var ok []Replica
		for _, x := range rs {
			if x.Err != "" {
				r.note("%s: node %d: %s", tp, x.Node, x.Err)
				continue
			}
			ok = append(ok, x)
		}
		if len(ok) < 2 {
			continue
		}
		a := ok[0]
		for _, b := range ok[1:] {
			switch {
			case a.HighWatermark != b.HighWatermark || a.Upto != b.Upto:
				r.note("%s: high watermarks differ: node %d hw=%d (digest below %d), node %d hw=%d (below %d)",
					tp, a.Node, a.HighWatermark, a.Upto, b.Node, b.HighWatermark, b.Upto)
			case a.CRC32C != b.CRC32C || a.Batches != b.Batches:
				r.note("%s: below %d node %d has crc32c=%08x in %d batches, node %d crc32c=%08x in %d batches",
					tp, a.Upto, a.Node, a.CRC32C, a.Batches, b.Node, b.CRC32C, b.Batches)
			}
		}
	}
	r.Detail = fmt.Sprintf("divergent=%d (partitions=%d replicas=%d)", r.Count, len(tps), replicas)
}

// LivenessFigures are the availability figures of a run (CHAOS.md §4).
type LivenessFigures struct {
	// Unavailable: per fault name, one duration per injection: the worst
	// partition's time from the fault in place to the completion of its
	// first acknowledged write invoked after it.
	Unavailable map[string][]time.Duration
	// Recovery: one per healed injection, the same from its heal.
	Recovery []time.Duration
	// Never: injections after which a partition had no acknowledged write
	// before the history ended (fault or heal), e.g. "kill@12.5s: after heal".
	Never []string
}

// Figures computes the liveness figures over every partition with acknowledged
// writes.
func Figures(in Input) LivenessFigures {
	return liveness(newView(in))
}

func liveness(v *view) LivenessFigures {
	// Per partition: ok sends by invoke time, and the earliest completion
	// among the sends from i on (suffix minimum).
	type acks struct{ invoke, sufMin []int64 }
	per := map[history.TP]*acks{}
	for s := range v.okSends {
		a := per[s.TP()]
		if a == nil {
			a = &acks{}
			per[s.TP()] = a
		}
		a.invoke = append(a.invoke, s.invoke)
		a.sufMin = append(a.sufMin, s.complete) // v.sends is in invoke order
	}
	for _, a := range per {
		for i := len(a.sufMin) - 2; i >= 0; i-- {
			a.sufMin[i] = min(a.sufMin[i], a.sufMin[i+1])
		}
	}
	// worst is the longest time from t to a partition's first ack invoked
	// at or after t; false when some partition had none.
	worst := func(t int64) (time.Duration, bool) {
		var w time.Duration
		for _, a := range per {
			i := sort.Search(len(a.invoke), func(i int) bool { return a.invoke[i] >= t })
			if i == len(a.invoke) {
				return 0, false
			}
			w = max(w, time.Duration(a.sufMin[i]-t))
		}
		return w, true
	}
	f := LivenessFigures{Unavailable: map[string][]time.Duration{}}
	for _, s := range v.in.Faults {
		at := fmt.Sprintf("%s@%.1fs", s.Fault, time.Duration(s.Injected).Seconds())
		if d, ok := worst(s.Injected); ok {
			f.Unavailable[s.Fault] = append(f.Unavailable[s.Fault], d)
		} else {
			f.Never = append(f.Never, at+": during the fault")
			continue
		}
		if s.Heal == math.MaxInt64 {
			continue
		}
		if d, ok := worst(s.Heal); ok {
			f.Recovery = append(f.Recovery, d)
		} else {
			f.Never = append(f.Never, at+": after its heal")
		}
	}
	return f
}

// Pct is the p-th percentile (nearest rank, 0 < p ≤ 100) of ds; 0 when
// empty.
func Pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// livenessCheck reports the figures; it fails only against in.Targets.
func livenessCheck(v *view, r *Result) {
	f := liveness(v)
	t := v.in.Targets
	var b strings.Builder
	names := make([]string, 0, len(f.Unavailable))
	for n := range f.Unavailable {
		names = append(names, n)
	}
	sort.Strings(names)
	worstName, worstD := "", time.Duration(-1)
	for _, n := range names {
		for _, d := range f.Unavailable[n] {
			if d > worstD {
				worstName, worstD = n, d
			}
			if t.Unavailable > 0 && d > t.Unavailable {
				r.note("%s: unavailable %v, target %v", n, d.Round(time.Millisecond), t.Unavailable)
			}
		}
	}
	for _, d := range f.Recovery {
		if t.Recovery > 0 && d > t.Recovery {
			r.note("recovery %v after a heal, target %v", d.Round(time.Millisecond), t.Recovery)
		}
	}
	for _, n := range f.Never {
		if t.Unavailable > 0 || t.Recovery > 0 {
			r.note("%s: a partition had no acknowledged write afterwards", n)
		}
	}
	switch {
	case len(v.in.Faults) == 0:
		b.WriteString("no fault")
	case worstD < 0:
		b.WriteString("no figure")
	default:
		fmt.Fprintf(&b, "worst unavailability %.1f s (%s); recovery p50 %.1f s max %.1f s",
			worstD.Seconds(), worstName, Pct(f.Recovery, 50).Seconds(), Pct(f.Recovery, 100).Seconds())
	}
	if len(f.Never) > 0 {
		fmt.Fprintf(&b, "; no ack after %d", len(f.Never))
	}
	if t.Unavailable > 0 || t.Recovery > 0 {
		fmt.Fprintf(&b, "; targets %v/%v, missed %d", t.Unavailable, t.Recovery, r.Count)
	}
	r.Detail = b.String()
}
