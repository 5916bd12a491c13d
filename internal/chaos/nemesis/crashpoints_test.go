package nemesis_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/petrel-streaming/petrel/internal/chaos/nemesis"
	"github.com/petrel-streaming/petrel/internal/failpoint"
)

// TestWithFault: a fault replaces its placeholder by name, or is appended;
// the input is left alone.
func TestWithFault(t *testing.T) {
	var calls []string
	faults := fakeFaults(&calls)
	ph := nemesis.Placeholders(false)
	got := faults
	for _, f := range ph {
		got = nemesis.WithFault(got, f)
	}
	if len(got) != len(faults)+2 || len(faults) != 3 {
		t.Fatalf("%d faults", len(got))
	}
	byName := map[string]nemesis.Fault{}
	for _, f := range got {
		byName[f.Name] = f
	}
	if err := byName["crash-points"].Available(); !errors.Is(err, nemesis.ErrNeedsFailpointBuild) {
		t.Fatalf("crash-points without failpoints: %v", err)
	}
	if err := byName["clock-skew"].Available(); !errors.Is(err, nemesis.ErrNoClockSeam) {
		t.Fatalf("clock-skew: %v", err)
	}
	repl := nemesis.WithFault(got, nemesis.Fault{Name: "kill"})
	if len(repl) != len(got) || repl[0].Inject != nil || got[0].Inject == nil {
		t.Fatal("kill not replaced in a copy")
	}
	if len(nemesis.Placeholders(true)) != 1 {
		t.Fatal("with failpoints, crash-points is no placeholder")
	}
}

// TestNegativeControlPlan: the fixed schedule, and an environment that
// names real failpoints.
func TestNegativeControlPlan(t *testing.T) {
	s := nemesis.NegativeControl()
	if len(s.Steps) != 3 || s.Steps[0].Fault != "ack-loss" || s.WarmUp == 0 {
		t.Fatalf("schedule %+v", s)
	}
	for _, kv := range nemesis.NegativeControlEnv {
		name, _, _ := strings.Cut(kv, "=")
		found := false
		for _, p := range failpoint.Points {
			found = found || failpoint.EnvName(p.Name) == name
		}
		if !found {
			t.Errorf("%s arms no declared failpoint", name)
		}
	}
	for _, name := range nemesis.CrashPointNames {
		if !failpoint.Known(name) {
			t.Errorf("crash point %s is not declared", name)
		}
	}
}
