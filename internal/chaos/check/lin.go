package check

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/petrel-streaming/petrel/internal/chaos/history"
)

// The linearizable check (G3, G6, G18) models each partition of the lin
// topic as a log with porcupine:
//
//	send(v) → o        legal iff o = len(log); log = log + [v]
//	send(v) → ?        (info) Return = +∞: it may take effect at any time
//	                   after its invoke. Left out if no reader saw v (it did
//	                   not happen: the final read holds every record); its
//	                   output is the offset readers saw v at, if just one
//	list_offsets → hw  legal iff hw = len(log) (left out with NoG18)
//	poll/read → recs   legal iff log[o] = v for every record (o, v)
//
// Failed ops and indeterminate reads constrain nothing and are left out.

// linInput is one op's input.
type linInput struct {
	kind  history.Type
	value string        // send
	recs  []history.Rec // poll / read
}

// linOutput is a send's assigned offset or a list_offsets' latest offset.
type linOutput struct {
	off   int64
	known bool // false for an info send
}

// linState is an immutable view of the log: its first n values. States
// share a backing slice: an append at the end of the backing grows it in
// place (no state sees past its own n), an append that diverges copies.
// Porcupine checks one partition on one goroutine, so sharing is safe.
type linState struct {
	vals *[]string
	n    int64
	h    uint64 // FNV-1a over the n values, each followed by 0xff
}

func (s *linState) append(v string) *linState {
	h := s.h
	for i := 0; i < len(v); i++ {
		h = (h ^ uint64(v[i])) * 1099511628211
	}
	h = (h ^ 0xff) * 1099511628211
	b := *s.vals
	switch {
	case int64(len(b)) == s.n:
		*s.vals = append(b, v)
		return &linState{s.vals, s.n + 1, h}
	case b[s.n] == v:
		return &linState{s.vals, s.n + 1, h}
	}
	nb := make([]string, s.n+1, s.n+16)
	copy(nb, b[:s.n])
	nb[s.n] = v
	return &linState{&nb, s.n + 1, h}
}

var logModel = porcupine.Model{
	Init: func() any {
		return &linState{vals: new([]string), h: 14695981039346656037}
	},
	Step: func(state, input, output any) (bool, any) {
		s, in := state.(*linState), input.(linInput)
		switch in.kind {
		case history.Send:
			out := output.(linOutput)
			if out.known && out.off != s.n {
				return false, s
			}
			return true, s.append(in.value)
		case history.ListOffsets:
			return output.(linOutput).off == s.n, s
		default:
			for _, r := range in.recs {
				if r.Offset < 0 || r.Offset >= s.n || (*s.vals)[r.Offset] != r.Value {
					return false, s
				}
			}
			return true, s
		}
	},
	Equal: func(a, b any) bool {
		x, y := a.(*linState), b.(*linState)
		return x.n == y.n && x.h == y.h && (x.vals == y.vals || slices.Equal((*x.vals)[:x.n], (*y.vals)[:y.n]))
	},
	Hash: func(state any) uint64 { s := state.(*linState); return s.h ^ uint64(s.n) },
	DescribeOperation: func(input, output any) string {
		return describeLin(input.(linInput), output)
	},
	DescribeState: func(state any) string { return fmt.Sprintf("len=%d", state.(*linState).n) },
}

func describeLin(in linInput, output any) string {
	switch in.kind {
	case history.Send:
		if out := output.(linOutput); out.known {
			return fmt.Sprintf("send %s → %d", in.value, out.off)
		}
		return fmt.Sprintf("send %s → ?", in.value)
	case history.ListOffsets:
		return fmt.Sprintf("list_offsets → %d", output.(linOutput).off)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s →", in.kind)
	for i, r := range in.recs {
		if i == 4 {
			fmt.Fprintf(&b, " …(%d)", len(in.recs))
			break
		}
		fmt.Fprintf(&b, " %d:%s", r.Offset, r.Value)
	}
	return b.String()
}

// linOps turns the lin topic's ops into porcupine operations per partition.
func (v *view) linOps() map[history.TP][]porcupine.Operation {
	m := map[history.TP][]porcupine.Operation{}
	for _, o := range v.ops {
		if o.Topic != v.in.LinTopic || o.Phase == history.Fail {
			continue
		}
		p := porcupine.Operation{ClientId: o.Process, Call: o.invoke, Return: o.complete, Metadata: o}
		switch {
		case o.Type == history.Send && o.Phase == history.OK:
			p.Input, p.Output = linInput{kind: o.Type, value: o.Value}, linOutput{o.Offset, true}
		case o.Type == history.Send: // info: may take effect any time after its invoke
			out, read := v.infoSendOffset(o)
			if !read {
				continue
			}
			p.Input, p.Output, p.Return = linInput{kind: o.Type, value: o.Value}, out, math.MaxInt64
		case o.Phase != history.OK:
			continue
		case o.Type == history.ListOffsets && !v.in.NoG18:
			p.Input, p.Output = linInput{kind: o.Type}, linOutput{o.Offset, true}
		case o.Type == history.Poll || o.Type == history.Read:
			p.Input = linInput{kind: o.Type, recs: o.Records}
		default:
			continue
		}
		m[o.TP()] = append(m[o.TP()], p)
	}
	return m
}

// infoSendOffset decides what the model knows of an info send. One no
// reader saw did not take effect (the final read holds every record), so it
// is left out; one read at a single offset took effect there; one read at
// several offsets took effect somewhere. Fixing what the reads show keeps
// porcupine from trying every place for every info send (k! orders).
func (v *view) infoSendOffset(o *op) (out linOutput, read bool) {
	at := v.readAt[o.Value]
	if len(at) == 0 {
		return linOutput{}, false
	}
	if len(at) == 1 && at[0].tp == o.TP() {
		return linOutput{at[0].off, true}, true
	}
	return linOutput{}, true
}

// linearizable checks the lin topic with porcupine within in.LinTimeout;
// running out of budget is inconclusive, not a pass.
func linearizable(v *view, r *Result) {
	parts := v.linOps()
	start := time.Now()
	deadline := start.Add(v.in.LinTimeout)
	n, timedOut := 0, false
	for _, tp := range sortedKeys(parts, history.TP.String) {
		ops := parts[tp]
		n += len(ops)
		left := time.Until(deadline)
		if left <= 0 {
			timedOut = true
			break
		}
		switch porcupine.CheckOperationsTimeout(logModel, ops, left) {
		case porcupine.Unknown:
			timedOut = true
		case porcupine.Illegal:
			r.note("%s", whyIllegal(tp, ops, time.Until(deadline)))
		}
	}
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case len(parts) == 0:
		r.Detail = fmt.Sprintf("%s: no ops", v.in.LinTopic)
	case r.Count > 0:
		r.Detail = fmt.Sprintf("%s: not linearizable on %d partition(s) (%d ops, %s)", v.in.LinTopic, r.Count, n, took)
	case timedOut:
		r.Inconclusive = true
		r.Detail = fmt.Sprintf("%s: inconclusive after %s (%d ops)", v.in.LinTopic, v.in.LinTimeout, n)
	default:
		r.Detail = fmt.Sprintf("%s: ok (%d ops, %s)", v.in.LinTopic, n, took)
	}
}

// whyIllegal names the ops porcupine could linearize no further: the
// earliest-invoked ops outside its longest partial linearization.
func whyIllegal(tp history.TP, ops []porcupine.Operation, budget time.Duration) string {
	head := fmt.Sprintf("%s: no linearization of %d ops", tp, len(ops))
	if budget <= 0 {
		return head
	}
	res, info := porcupine.CheckOperationsVerbose(logModel, ops, budget)
	if res != porcupine.Illegal {
		return head
	}
	var longest []porcupine.Operation
	for _, parts := range info.PartialLinearizationsOperations() {
		for _, p := range parts {
			if len(p) > len(longest) {
				longest = p
			}
		}
	}
	in := map[*op]bool{}
	for _, p := range longest {
		in[p.Metadata.(*op)] = true
	}
	var stuck []string
	for _, p := range ops {
		if !in[p.Metadata.(*op)] && len(stuck) < 3 {
			stuck = append(stuck, fmt.Sprintf("%s (%s)", describeLin(p.Input.(linInput), p.Output), p.Metadata.(*op)))
		}
	}
	return fmt.Sprintf("%s: %d linearize, then none of: %s", head, len(longest), strings.Join(stuck, "; "))
}
