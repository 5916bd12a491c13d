package cluster_test

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// rec is one record at one place of the topic.
type rec struct {
	p   int32
	off int64
	v   string
}

func (r rec) String() string { return fmt.Sprintf("%s@%d/%d", r.v, r.p, r.off) }

// value is the record value of producer sequence number seq; seqOf reads
// it back (-1 when the value is not one of ours).
func value(seq int) string { return "v" + strconv.Itoa(seq) }

func seqOf(v string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
	if err != nil || !strings.HasPrefix(v, "v") {
		return -1
	}
	return n
}

// ledger is what the clients observed during the run: acknowledged
// records, produce errors and the concurrent consumer's reads. Safe for use
// by any goroutine; bounded by the number of records produced.
type ledger struct {
	mu       sync.Mutex
	acked    []rec
	lastAck  map[int32]time.Time // time of the latest acknowledgement per partition
	errs     map[string]int      // produce errors by message
	errTotal int
	reads    map[[2]int64]string // (partition, offset) → value, concurrent consumer
	readN    int
	readErrs map[string]int
	conflict []string // the concurrent consumer read two values at one offset
	dataLoss []string // kgo.ErrDataLoss seen by the concurrent consumer
}

func newLedger() *ledger {
	return &ledger{lastAck: map[int32]time.Time{}, errs: map[string]int{}, reads: map[[2]int64]string{}, readErrs: map[string]int{}}
}

func (l *ledger) ack(r rec, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked = append(l.acked, r)
	l.lastAck[r.p] = at
}

func (l *ledger) produceErr(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs[err.Error()]++
	l.errTotal++
}

// ackedSince reports whether partition p had an acknowledgement after t,
// and when.
func (l *ledger) ackedSince(p int32, t time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := l.lastAck[p]
	return at, at.After(t)
}

func (l *ledger) read(r rec) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.readN++
	k := [2]int64{int64(r.p), r.off}
	if prev, ok := l.reads[k]; ok && prev != r.v && len(l.conflict) < 20 {
		l.conflict = append(l.conflict, fmt.Sprintf("offset %d/%d read as %s and as %s", r.p, r.off, prev, r.v))
	}
	l.reads[k] = r.v
}

func (l *ledger) readErr(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.readErrs[err.Error()]++
	var loss *kgo.ErrDataLoss
	if errors.As(err, &loss) && len(l.dataLoss) < 20 {
		l.dataLoss = append(l.dataLoss, err.Error())
	}
}

// counts are the error tallies, most frequent first, for the report.
func counts(m map[string]int) string {
	type kv struct {
		k string
		n int
	}
	var all []kv
	for k, n := range m {
		all = append(all, kv{k, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || all[i].n == all[j].n && all[i].k < all[j].k })
	var b strings.Builder
	for i, e := range all {
		if i == 12 {
			fmt.Fprintf(&b, "\n  … %d more kinds", len(all)-i)
			break
		}
		fmt.Fprintf(&b, "\n  %6d × %s", e.n, e.k)
	}
	return b.String()
}

// finding is one kind of anomaly with its count and first examples.
type finding struct {
	name     string
	count    int
	examples []string
}

func (f *finding) add(format string, args ...any) {
	f.count++
	if len(f.examples) < 8 {
		f.examples = append(f.examples, fmt.Sprintf(format, args...))
	}
}

// check compares what the clients observed with the final read (every
// partition read from its start, records in offset order) and returns the
// anomalies found, each non-empty one a failure:
//
//	gap        offsets of a partition not dense from 0
//	duplicate  one value at two places
//	lost       an acknowledged offset absent from the final read
//	moved      an acknowledged offset holding another value
//	reordered  a later-sequenced acknowledged record at a lower offset
//	unstable   the concurrent consumer read another value at an offset
func check(acked []rec, reads map[[2]int64]string, final map[int32][]rec) []finding {
	gap, dup, lost, moved := finding{name: "gap"}, finding{name: "duplicate"}, finding{name: "lost"}, finding{name: "moved"}
	order, unstable := finding{name: "reordered"}, finding{name: "unstable"}
	at := map[[2]int64]string{}
	where := map[string]rec{}
	for _, p := range slices.Sorted(mapKeys(final)) {
		next := int64(0)
		for _, r := range final[p] {
			if r.off != next {
				gap.add("partition %d: offset %d follows %d", p, r.off, next-1)
			}
			next = r.off + 1
			at[[2]int64{int64(p), r.off}] = r.v
			if prev, ok := where[r.v]; ok {
				dup.add("%s also at %d/%d", r, prev.p, prev.off)
			} else {
				where[r.v] = r
			}
		}
	}
	byPart := map[int32][]rec{}
	for _, a := range acked {
		byPart[a.p] = append(byPart[a.p], a)
		got, ok := at[[2]int64{int64(a.p), a.off}]
		switch {
		case !ok:
			lost.add("%s acknowledged, offset absent (value found: %v)", a, where[a.v])
		case got != a.v:
			moved.add("%s acknowledged, offset holds %s (value at %v)", a, got, where[a.v])
		}
	}
	for p, rs := range byPart {
		slices.SortFunc(rs, func(a, b rec) int { return seqOf(a.v) - seqOf(b.v) })
		for i := 1; i < len(rs); i++ {
			if rs[i].off <= rs[i-1].off {
				order.add("partition %d: %s after %s", p, rs[i], rs[i-1])
			}
		}
	}
	for _, k := range slices.SortedFunc(mapKeys(reads), func(a, b [2]int64) int {
		if a[0] != b[0] {
			return int(a[0] - b[0])
		}
		return int(a[1] - b[1])
	}) {
		if got, ok := at[k]; !ok || got != reads[k] {
			unstable.add("offset %d/%d read as %s during the run, final read %q (present %v)", k[0], k[1], reads[k], got, ok)
		}
	}
	var out []finding
	for _, f := range []finding{gap, dup, lost, moved, order, unstable} {
		if f.count > 0 {
			out = append(out, f)
		}
	}
	return out
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
