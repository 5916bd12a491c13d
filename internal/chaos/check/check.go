package check

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/history"
)

// Severities of a Result.
const (
	Safety        = "safety"   // a failure fails the run
	Liveness      = "liveness" // fails only against an explicit target
	Informational = "info"     // a figure; always passes
)

// maxExamples bounds Result.Examples.
const maxExamples = 8

// Result is one checker's verdict.
type Result struct {
	Name     string   `json:"name"`
	Passed   bool     `json:"passed"`
	Count    int      `json:"count"`              // anomalies found (or the figure for informational checks)
	Examples []string `json:"examples,omitempty"` // ≤ 8
	Severity string   `json:"severity"`           // "safety" | "liveness" | "info"
	Detail   string   `json:"detail,omitempty"`   // e.g. "acked=178911 lost=0"
	// Inconclusive: the checker ran out of budget (linearizable); neither
	// passed nor failed.
	Inconclusive bool `json:"inconclusive,omitempty"`
}

// Input is what the checkers look at.
type Input struct {
	Ops []history.Op
	// Final maps topic/partition to the final read, offset-ordered, from
	// offset 0 (or the log start) to the post-heal high watermark. Built from
	// the history's Read ops when nil. A partition with no entry had no final
	// read: checks that need one report its sends as unverified.
	Final map[history.TP][]history.Rec

	// LinTopic is the topic the linearizable check models ("lin" if empty).
	LinTopic string
	// LinTimeout is the linearizable check's budget (2 min if zero).
	LinTimeout time.Duration
	// NoG18 says ListOffsets(latest) is not promised linearizable (G18):
	// list_offsets ops are left out of the linearizable model and
	// hw-regression does not require HW > offsets acked or read before the
	// call. Default (false): both are checked.
	NoG18 bool

	// Faults are the run's injected faults (the fault log), for
	// minority-ack and liveness.
	Faults []FaultSpan
	// Replicas are every replica's digest per partition, read at the end
	// (replica-divergence); nil: not collected.
	Replicas map[history.TP][]Replica
	// Targets are the liveness targets (zero: figures only).
	Targets Targets
}

// checker is one row of CHAOS.md §2.5.
type checker struct {
	name     string
	severity string
	run      func(v *view, r *Result)
}

// checkers in the order All runs and prints them.
var checkers = []checker{
	{"lost-write", Safety, lostWrite},
	{"ack-offset-mismatch", Safety, ackOffsetMismatch},
	{"inconsistent-offsets", Safety, inconsistentOffsets},
	{"duplicate", Safety, duplicate},
	{"realtime-order", Safety, realtimeOrder},
	{"nonmonotonic-send", Safety, nonmonotonicSend},
	{"read-then-lost", Safety, readThenLost},
	{"g1a", Safety, g1a},
	{"poll-skip", Safety, pollSkip},
	{"nonmonotonic-poll", Safety, nonmonotonicPoll},
	{"hw-regression", Safety, hwRegression},
	{"leader-epoch-regression", Safety, leaderEpochRegression},
	{"data-loss-events", Safety, dataLossEvents},
	{"group-offset-regression", Safety, groupOffsetRegression},
	{"group-offset-lost", Safety, groupOffsetLost},
	{"unseen-final", Informational, unseenFinal},
	{"linearizable", Safety, linearizable},
	{"minority-ack", Safety, minorityAck},
	{"replica-divergence", Safety, replicaDivergence},
	{"liveness", Liveness, livenessCheck},
}

// Names lists the checks All runs, in order.
func Names() []string {
	names := make([]string, len(checkers))
	for i, c := range checkers {
		names[i] = c.name
	}
	return names
}

// All runs every checker, in a fixed order (Names), over one index of in.
func All(in Input) []Result {
	v := newView(in)
	out := make([]Result, len(checkers))
	for i, c := range checkers {
		out[i] = runOne(v, c)
	}
	return out
}

// Run runs the one check called name; false if there is none.
func Run(name string, in Input) (Result, bool) {
	for _, c := range checkers {
		if c.name == name {
			return runOne(newView(in), c), true
		}
	}
	return Result{}, false
}

func runOne(v *view, c checker) Result {
	r := Result{Name: c.name, Severity: c.severity}
	c.run(v, &r)
	r.Passed = !r.Inconclusive && (r.Count == 0 || c.severity == Informational)
	if len(r.Examples) > maxExamples {
		r.Examples = r.Examples[:maxExamples]
	}
	return r
}

// note counts one anomaly and keeps its example while there is room; the
// example is formatted only then, so a run with 10^5 anomalies stays cheap.
func (r *Result) note(format string, args ...any) {
	r.Count++
	if len(r.Examples) < maxExamples {
		r.Examples = append(r.Examples, fmt.Sprintf(format, args...))
	}
}

// Summarize counts passed and failed results; inconclusive ones are neither.
func Summarize(results []Result) (passed, failed int) {
	for _, r := range results {
		switch {
		case r.Passed:
			passed++
		case !r.Inconclusive:
			failed++
		}
	}
	return passed, failed
}

// formatExamples is how many examples Format prints under a failed check.
const formatExamples = 3

// Format prints one line per check as CHAOS.md §2.7 shows
// ("PASS lost-write            acked=… lost=0"): the detail, or the count if
// there is none. A failed check is followed by up to 3 of its examples,
// indented.
func Format(w io.Writer, results []Result) error {
	var b strings.Builder
	for _, r := range results {
		status := "PASS"
		switch {
		case r.Inconclusive:
			status = "INCONCLUSIVE"
		case !r.Passed:
			status = "FAIL"
		}
		figure := r.Detail
		if figure == "" {
			figure = strconv.Itoa(r.Count)
		}
		fmt.Fprintf(&b, "%s %-23s %s\n", status, r.Name, figure)
		if !r.Passed {
			for _, ex := range r.Examples[:min(len(r.Examples), formatExamples)] {
				fmt.Fprintf(&b, "     %s\n", ex)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// op is one operation: its completion (or, if it never completed, its invoke
// with Phase Info), with both times.
type op struct {
	history.Op
	invoke, complete int64 // complete is MaxInt64 if it never completed
}

func (o *op) String() string {
	return fmt.Sprintf("%s#%d(p%d %s)", o.Type, o.ID, o.Process, o.Phase)
}

// tpOff is one position in one partition's log.
type tpOff struct {
	tp  history.TP
	off int64
}

func (p tpOff) String() string { return p.tp.String() + "@" + strconv.FormatInt(p.off, 10) }

// finalLog is one partition's final read.
type finalLog struct {
	byOff map[int64]string
	offs  []int64 // sorted
	recs  []history.Rec
}

func (f *finalLog) describe(off int64) string {
	if v, ok := f.byOff[off]; ok {
		return "final has " + v
	}
	if len(f.offs) == 0 {
		return "final read is empty"
	}
	return fmt.Sprintf("final has nothing there (offsets %d..%d)", f.offs[0], f.offs[len(f.offs)-1])
}

// obs is one record some reader saw.
type obs struct {
	at    tpOff
	value string
	epoch int32
	by    *op // nil for a record of in.Final
}

// view indexes a history once for every checker; linear in its size.
type view struct {
	in    Input
	ops   []*op // in invoke order
	sends []*op
	// sendOf maps a value id to its (first) send.
	sendOf map[string]*op
	final  map[history.TP]*finalLog
	// reads is every record seen by a poll or a read, then the final reads.
	reads []obs
	// readVals: the distinct values read at each position.
	readVals map[tpOff][]string
	// readAt: the distinct positions each value was read at.
	readAt map[string][]tpOff
	// maxRead: the highest offset read per partition.
	maxRead map[history.TP]int64
	// sendTopics: topics that had sends (others' values are not ours).
	sendTopics map[string]bool
}

func newView(in Input) *view {
	if in.LinTopic == "" {
		in.LinTopic = "lin"
	}
	if in.LinTimeout <= 0 {
		in.LinTimeout = 2 * time.Minute
	}
	v := &view{
		in: in, sendOf: map[string]*op{}, readVals: map[tpOff][]string{},
		readAt: map[string][]tpOff{}, maxRead: map[history.TP]int64{}, sendTopics: map[string]bool{},
	}
	v.pair(in.Ops)
	final := in.Final
	if final == nil {
		final = map[history.TP][]history.Rec{}
		for _, o := range v.ops {
			if o.Type == history.Read && o.Phase == history.OK {
				final[o.TP()] = append(final[o.TP()], o.Records...)
			}
		}
	}
	v.final = make(map[history.TP]*finalLog, len(final))
	for tp, recs := range final {
		f := &finalLog{byOff: make(map[int64]string, len(recs))}
		for _, r := range recs {
			if _, dup := f.byOff[r.Offset]; !dup {
				f.byOff[r.Offset] = r.Value
				f.offs = append(f.offs, r.Offset)
				f.recs = append(f.recs, r)
			}
		}
		slices.Sort(f.offs)
		slices.SortStableFunc(f.recs, func(a, b history.Rec) int { return cmp.Compare(a.Offset, b.Offset) })
		v.final[tp] = f
	}
	for _, o := range v.ops {
		if (o.Type == history.Poll || o.Type == history.Read) && o.Phase == history.OK {
			for _, r := range o.Records {
				v.addRead(obs{at: tpOff{o.TP(), r.Offset}, value: r.Value, epoch: r.LeaderEpoch, by: o})
			}
		}
	}
	for tp, f := range v.final {
		for _, r := range f.recs {
			v.addRead(obs{at: tpOff{tp, r.Offset}, value: r.Value, epoch: r.LeaderEpoch})
		}
	}
	return v
}

// pair joins each invoke with its completion; an op never completed counts
// as info, completing at MaxInt64.
func (v *view) pair(ops []history.Op) {
	open := map[int64]*op{}
	for _, h := range ops {
		if h.Phase == history.Invoke {
			o := &op{Op: h, invoke: h.Time, complete: math.MaxInt64}
			o.Phase = history.Info
			open[h.ID] = o
			v.ops = append(v.ops, o)
			continue
		}
		o, ok := open[h.ID]
		if !ok {
			continue // a completion without invoke: nothing to pair (ReadAll of a cut file)
		}
		delete(open, h.ID)
		o.Op, o.complete = h, h.Time
	}
	for _, o := range v.ops {
		if o.Type != history.Send {
			continue
		}
		v.sends = append(v.sends, o)
		v.sendTopics[o.Topic] = true
		if _, dup := v.sendOf[o.Value]; !dup && o.Value != "" {
			v.sendOf[o.Value] = o
		}
	}
}

func (v *view) addRead(r obs) {
	v.reads = append(v.reads, r)
	if !slices.Contains(v.readVals[r.at], r.value) {
		v.readVals[r.at] = append(v.readVals[r.at], r.value)
	}
	if !slices.Contains(v.readAt[r.value], r.at) {
		v.readAt[r.value] = append(v.readAt[r.value], r.at)
	}
	if m, ok := v.maxRead[r.at.tp]; !ok || r.at.off > m {
		v.maxRead[r.at.tp] = r.at.off
	}
}

// okSends yields the acked sends.
func (v *view) okSends(yield func(*op) bool) {
	for _, s := range v.sends {
		if s.Phase == history.OK && !yield(s) {
			return
		}
	}
}

// splitValue parses a value id "p{producer}-{seq}".
func splitValue(value string) (producer string, seq int64, ok bool) {
	i := strings.LastIndexByte(value, '-')
	if i <= 0 {
		return "", 0, false
	}
	seq, err := strconv.ParseInt(value[i+1:], 10, 64)
	return value[:i], seq, err == nil
}
