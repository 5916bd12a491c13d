package nemesis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/nemesis"
)

func fakeFaults(calls *[]string) []nemesis.Fault {
	mk := func(name string, hold [2]time.Duration) nemesis.Fault {
		return nemesis.Fault{Name: name, Hold: hold,
			Inject: func(context.Context) error { *calls = append(*calls, "inject "+name); return nil },
			Heal:   func(context.Context) error { *calls = append(*calls, "heal "+name); return nil },
		}
	}
	return []nemesis.Fault{
		mk("kill", [2]time.Duration{0, 3 * time.Second}),
		mk("pause", [2]time.Duration{2 * time.Second, 8 * time.Second}),
		{Name: "isolate", Available: func() error { return nemesis.ErrNeedsCluster }},
	}
}

// TestPlanSeeded: same seed, same schedule; bounds respected; unusable
// faults never drawn; roughly 1/6 no-fault cycles.
func TestPlanSeeded(t *testing.T) {
	var calls []string
	faults := fakeFaults(&calls)
	o := nemesis.PlanOptions{Duration: 4 * time.Hour}
	a, b := nemesis.Plan(42, faults, o), nemesis.Plan(42, faults, o)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different schedules")
	}
	if reflect.DeepEqual(a, nemesis.Plan(43, faults, o)) {
		t.Fatal("different seeds, same schedule")
	}
	var total time.Duration = a.WarmUp
	none := 0
	for _, st := range a.Steps {
		total += st.Hold + st.Gap + 2*time.Second
		if st.Gap < 5*time.Second || st.Gap > 10*time.Second {
			t.Fatalf("gap %v outside U(5,10) s", st.Gap)
		}
		switch st.Fault {
		case "":
			none++
		case "kill":
			if st.Hold > 3*time.Second {
				t.Fatalf("kill held %v", st.Hold)
			}
		case "pause":
			if st.Hold < 2*time.Second || st.Hold > 8*time.Second {
				t.Fatalf("pause held %v", st.Hold)
			}
		default:
			t.Fatalf("drew %q", st.Fault)
		}
	}
	if total > o.Duration {
		t.Fatalf("schedule of %v over the %v budget", total, o.Duration)
	}
	frac := float64(none) / float64(len(a.Steps))
	if len(a.Steps) < 300 || frac < 0.10 || frac > 0.25 {
		t.Fatalf("%d steps, %.2f no-fault (want about 1/6)", len(a.Steps), frac)
	}
}

// TestSmoke: the fixed sequence, unusable faults left out and named.
func TestSmoke(t *testing.T) {
	var calls []string
	s, skipped := nemesis.Smoke(fakeFaults(&calls))
	var names []string
	for _, st := range s.Steps {
		names = append(names, st.Fault)
	}
	if got := strings.Join(names, ","); got != "kill,pause" {
		t.Fatalf("smoke steps %s", got)
	}
	if len(skipped) != 5 || !strings.Contains(skipped[0], "isolate: needs a cluster of 3 or more nodes") {
		t.Fatalf("skipped %q", skipped)
	}
}

// TestRun: inject/heal pairs in order, events logged as JSON lines with
// increasing times, failures reported.
func TestRun(t *testing.T) {
	var calls []string
	faults := fakeFaults(&calls)
	faults = append(faults, nemesis.Fault{Name: "terminate",
		Inject: func(context.Context) error { return errors.New("no exit within 30s") },
		Heal:   func(context.Context) error { return nil }})
	var buf bytes.Buffer
	log := nemesis.NewLog(&buf, time.Now())
	s := nemesis.Schedule{Steps: []nemesis.Step{
		{Fault: "kill", Hold: time.Millisecond}, {}, {Fault: "terminate"}, {Fault: "isolate"}, {Fault: "pause"},
	}}
	rep := nemesis.Run(context.Background(), s, faults, log)
	if got := strings.Join(calls, ","); got != "inject kill,heal kill,inject pause,heal pause" {
		t.Fatalf("calls %s", got)
	}
	if rep.Injected["kill"] != 1 || rep.Healed["pause"] != 1 || rep.None != 1 || rep.Injected["isolate"] != 0 {
		t.Fatalf("report %+v", rep)
	}
	if len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "terminate inject") {
		t.Fatalf("errors %q", rep.Errors)
	}
	var last int64 = -1
	var evs []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var e nemesis.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if e.Time < last {
			t.Fatalf("time went back: %s", line)
		}
		last = e.Time
		evs = append(evs, e.Ev)
	}
	want := "inject,injected,heal,healed,none,inject,error,heal,healed,skip,inject,injected,heal,healed"
	if got := strings.Join(evs, ","); got != want {
		t.Fatalf("events %s\nwant   %s", got, want)
	}
}

// TestRunCancelHeals: a cancelled run still heals the injected fault.
func TestRunCancelHeals(t *testing.T) {
	var calls []string
	ctx, cancel := context.WithCancel(context.Background())
	faults := []nemesis.Fault{{Name: "pause",
		Inject: func(context.Context) error { cancel(); return nil },
		Heal: func(ctx context.Context) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			calls = append(calls, "heal")
			return nil
		}}}
	rep := nemesis.Run(ctx, nemesis.Schedule{Steps: []nemesis.Step{{Fault: "pause", Hold: time.Hour}, {Fault: "pause"}}},
		faults, nemesis.NewLog(&bytes.Buffer{}, time.Now()))
	if len(calls) != 1 || rep.Healed["pause"] != 1 || rep.Injected["pause"] != 1 {
		t.Fatalf("calls %v report %+v", calls, rep)
	}
}
