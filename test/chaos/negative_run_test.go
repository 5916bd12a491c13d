package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
)

// TestNegativeControlRun: CHAOS.md §2.5's negative control end to end. A
// broker built with -tags failpoints that acknowledges before the commit
// and skips fsync is crashed three times between the proposal and any
// write (petrel-chaos --negative-control); the run must report lost
// acknowledged records and exit 1. A run that passes, or exits 3 ("not
// caught"), means the harness cannot see lost writes: the test fails.
func TestNegativeControlRun(t *testing.T) {
	t.Parallel() // own binaries, own run dir, own free ports
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bins := buildChaos(ctx, t, "petrel-failpoints", cluster.BuildOptions{Tags: []string{"failpoints"}})
	root, dir, broker, harness := bins.root, bins.dir, bins.broker, bins.harness
	runDir := filepath.Join(dir, "run")
	rctx, rcancel := context.WithTimeout(ctx, 90*time.Second)
	defer rcancel()
	cmd := exec.CommandContext(rctx, harness, "--negative-control", "--binary", broker, "--run-dir", runDir)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	t.Logf("petrel-chaos --negative-control in %v:\n%s", took.Round(time.Second), out.String())
	var exit *exec.ExitError
	switch {
	case err == nil:
		t.Fatal("the negative control passed every check: the harness cannot see lost acknowledged writes")
	case !errors.As(err, &exit):
		t.Fatalf("petrel-chaos: %v", err)
	case exit.ExitCode() == 3:
		t.Fatal("negative control not caught (exit 3)")
	case exit.ExitCode() != 1:
		t.Fatalf("petrel-chaos exit %d, want 1 (checks failed)", exit.ExitCode())
	}
	text := out.String()
	for _, re := range []string{
		`(?m)^petrel-chaos seed=\d+ mode=loopback nodes=1 partitions=\d+ duration=negative-control `,
		`(?m)^faults: ack-loss=3 \(healed 3\)$`,
		`(?m)^FAIL lost-write +acked=[1-9]\d* lost=[1-9]\d*$`,
		`(?m)^PASS broker-crash +0$`, // the injected crashes are the harness's own
		`(?m)^PASS nemesis +0$`,      // every armed crash point fired
		`(?m)^negative control: caught by lost-write \([1-9]\d*\)$`,
		`(?m)^run directory kept: `,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("output does not match %s", re)
		}
	}
	var sum struct {
		NegativeControl string         `json:"negative_control"`
		Figures         map[string]int `json:"figures"`
	}
	b, err := os.ReadFile(filepath.Join(runDir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil || sum.Figures["acked_lost"] == 0 || sum.NegativeControl == "" {
		t.Fatalf("summary.json: %v %+v", err, sum)
	}
	if took > 60*time.Second {
		t.Errorf("the negative control took %v, budget 60 s", took.Round(time.Second))
	}
}
