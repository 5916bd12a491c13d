//go:build failpoints

package failpoint_test

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/failpoint"
)

// arm sets name to spec for the test and disarms it after.
func arm(t *testing.T, name, spec string) {
	t.Helper()
	if err := failpoint.Set(name, spec); err != nil {
		t.Fatalf("Set(%s, %s): %v", name, spec, err)
	}
	t.Cleanup(func() { _ = failpoint.Set(name, "off") })
}

// kinds evaluates name n times and returns the kinds seen.
func kinds(name string, n int) string {
	var out []string
	for range n {
		out = append(out, failpoint.Inject(name).Kind.String())
	}
	return strings.Join(out, ",")
}

// TestChain: counted terms run in order, then the failpoint is off; an
// uncounted last term lasts; Get shows what is left and the hits.
func TestChain(t *testing.T) {
	const fp = "kafka/ack-before-commit"
	if got := kinds(fp, 2); got != "off,off" {
		t.Fatalf("disarmed: %s", got)
	}
	arm(t, fp, "2*off->1*on->skip")
	if got := kinds(fp, 6); got != "off,off,on,skip,skip,skip" {
		t.Fatalf("chain: %s", got)
	}
	st, err := failpoint.Get(fp)
	if err != nil || st.Spec != "2*off->1*on->skip" || st.Left != "skip" || st.Hits != 6 || st.Site == "" {
		t.Fatalf("status %+v %v", st, err)
	}
	arm(t, fp, "1*error")
	a := failpoint.Inject(fp)
	if err := a.Err(); !errors.Is(err, failpoint.ErrInjected) || !strings.Contains(err.Error(), fp) {
		t.Fatalf("error action: %v", err)
	}
	if got := kinds(fp, 2); got != "off,off" {
		t.Fatalf("after the counted terms: %s", got)
	}
	arm(t, fp, "off")
	if st, _ := failpoint.Get(fp); st.Spec != "off" || st.Left != "" {
		t.Fatalf("disarmed status %+v", st)
	}
}

// TestPanicAndSleep: panic (after its delay) with a Crash; sleep delays
// and returns off.
func TestPanicAndSleep(t *testing.T) {
	const fp = "storage/before-journal-sync"
	arm(t, fp, "1*sleep(30)->1*panic(20)")
	start := time.Now()
	if a := failpoint.Inject(fp); a.Kind != failpoint.Off {
		t.Fatalf("sleep returned %v", a.Kind)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("slept %v", d)
	}
	var got any
	start = time.Now()
	func() {
		defer func() { got = recover() }()
		failpoint.Inject(fp)
	}()
	c, ok := got.(failpoint.Crash)
	if !ok || c.Name != fp || !failpoint.IsCrashLine("panic: "+c.Error()) {
		t.Fatalf("recovered %#v", got)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("panicked after %v, want ≥ 20 ms", d)
	}
	if a := failpoint.Inject(fp); a.Kind != failpoint.Off {
		t.Fatal("a used-up panic term fired again")
	}
}

// TestCountsUnderConcurrency: a counted term fires exactly its count of
// times however many goroutines evaluate it.
func TestCountsUnderConcurrency(t *testing.T) {
	const fp = "storage/skip-fsync"
	arm(t, fp, "100*skip")
	var skips atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if failpoint.Inject(fp).Skip() {
					skips.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if skips.Load() != 100 {
		t.Fatalf("%d skips, want 100", skips.Load())
	}
}

// TestCallEarly: on, done runs at once and the later completion is
// swallowed; off, done is returned untouched.
func TestCallEarly(t *testing.T) {
	const fp = "kafka/ack-before-commit"
	var got []int
	record := func(v int) { got = append(got, v) }
	later := failpoint.CallEarly(fp, record, 1)
	later(2)
	arm(t, fp, "1*on")
	later = failpoint.CallEarly(fp, record, 3)
	later(4)
	later = failpoint.CallEarly(fp, record, 5)
	later(6)
	if want := "2,3,6"; join(got) != want {
		t.Fatalf("calls %s, want %s", join(got), want)
	}
}

func join(v []int) string {
	var s []string
	for _, x := range v {
		s = append(s, string(rune('0'+x)))
	}
	return strings.Join(s, ",")
}

// TestSetRefuses: unknown names and bad specs, leaving the point as it was.
func TestSetRefuses(t *testing.T) {
	if err := failpoint.Set("no/such", "on"); !errors.Is(err, failpoint.ErrUnknown) {
		t.Fatalf("unknown: %v", err)
	}
	arm(t, "raft/before-hardstate", "sleep(1)")
	if err := failpoint.Set("raft/before-hardstate", "explode"); !errors.Is(err, failpoint.ErrSpec) {
		t.Fatalf("bad spec: %v", err)
	}
	if st, _ := failpoint.Get("raft/before-hardstate"); st.Spec != "sleep(1)" {
		t.Fatalf("a refused Set changed the point: %+v", st)
	}
	if _, err := failpoint.Get("no/such"); !errors.Is(err, failpoint.ErrUnknown) {
		t.Fatalf("Get unknown: %v", err)
	}
	if n := len(failpoint.List()); n != len(failpoint.Points) {
		t.Fatalf("List has %d, %d declared", n, len(failpoint.Points))
	}
}

// TestLoadEnv: PETRELFP_ variables arm points; other variables are
// ignored; an unknown PETRELFP_ variable or a bad spec is an error naming it.
func TestLoadEnv(t *testing.T) {
	t.Cleanup(func() {
		for _, p := range failpoint.Points {
			_ = failpoint.Set(p.Name, "off")
		}
	})
	err := failpoint.LoadEnv([]string{"PETREL_NODE_ID=1", "HOME=/root",
		"PETRELFP_KAFKA_ACK_BEFORE_COMMIT=on", "PETRELFP_STORAGE_SKIP_FSYNC=2*skip"})
	if err != nil {
		t.Fatal(err)
	}
	if !failpoint.Inject("kafka/ack-before-commit").On() || kinds("storage/skip-fsync", 3) != "skip,skip,off" {
		t.Fatal("env did not arm the failpoints")
	}
	err = failpoint.LoadEnv([]string{"PETRELFP_KAFKA_ACK_BEFOR_COMMIT=on"})
	if !errors.Is(err, failpoint.ErrUnknown) || !strings.Contains(err.Error(), "PETRELFP_KAFKA_ACK_BEFOR_COMMIT") ||
		!strings.Contains(err.Error(), "PETRELFP_KAFKA_ACK_BEFORE_COMMIT") {
		t.Fatalf("unknown variable: %v", err)
	}
	err = failpoint.LoadEnv([]string{"PETRELFP_RAFT_BEFORE_HARDSTATE=panic(x)"})
	if !errors.Is(err, failpoint.ErrSpec) || !strings.Contains(err.Error(), "PETRELFP_RAFT_BEFORE_HARDSTATE") {
		t.Fatalf("bad spec: %v", err)
	}
}

// BenchmarkInjectDisarmed: the tagged build's cost when nothing is armed
// (one atomic load).
func BenchmarkInjectDisarmed(b *testing.B) {
	for b.Loop() {
		_ = failpoint.Inject("storage/skip-fsync")
	}
}
