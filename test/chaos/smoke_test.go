package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/check"
	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
	"github.com/petrel-streaming/petrel/internal/chaos/diskfault"
)

// TestChaosSmoke: the CI smoke end to end (≈1.5–2.5 min): every check
// passes, the output has the §2.7 shape, and the recorded history, with
// acknowledged records cut from its final read, fails the checkers
// (negative control).
func TestChaosSmoke(t *testing.T) {
	t.Parallel() // own binaries, own run dir, own free ports
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bins := buildChaos(ctx, t, "petrel", cluster.BuildOptions{Race: cluster.RaceBuild()})
	root, dir, broker, harness := bins.root, bins.dir, bins.broker, bins.harness
	runDir := filepath.Join(dir, "run")
	cmd := exec.CommandContext(ctx, harness, "--smoke", "--keep", "--binary", broker, "--run-dir", runDir)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("petrel-chaos --smoke in %v:\n%s", time.Since(start).Round(time.Second), out.String())
	if err != nil {
		t.Fatalf("petrel-chaos: %v (run dir %s)", err, runDir)
	}
	text := out.String()
	faults := `(?m)^faults: kill=1 kill-all=1 pause=1 terminate=1 truncate-tail=1 \(healed 5\)$`
	if diskfault.Supported() == nil { // the FUSE layer adds power-fail of one node
		faults = `(?m)^faults: kill=1 kill-all=1 pause=1 power-fail=1 terminate=1 truncate-tail=1 \(healed 6\)$`
	}
	for _, re := range []string{
		`(?m)^petrel-chaos seed=\d+ mode=loopback nodes=1 `,
		faults,
		`(?m)^skipped: isolate: needs a cluster of 3 or more nodes`,
		`(?m)^ops: send invoked=\d+ ok=[1-9]\d* `,
		`(?m)^PASS lost-write +acked=[1-9]\d* lost=0$`,
		`(?m)^PASS broker-crash +0$`,
		`(?m)^chaos: \d+ passed, 0 failed$`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("output does not match %s", re)
		}
	}
	var sum struct {
		Seed   uint64         `json:"seed"`
		Failed int            `json:"failed"`
		Checks []check.Result `json:"checks"`
	}
	b, err := os.ReadFile(filepath.Join(runDir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil || sum.Failed != 0 || len(sum.Checks) < len(check.Names()) {
		t.Fatalf("summary.json: %v %+v", err, sum)
	}
	if !strings.Contains(text, string(bytes.TrimSpace(b))) {
		t.Error("the JSON line printed differs from summary.json")
	}

	t.Run("NegativeControl", func(t *testing.T) {
		ops := readOps(t, filepath.Join(runDir, "history.jsonl"))
		if r := results(ops)["lost-write"]; !r.Passed {
			t.Fatalf("the unmodified history fails lost-write: %+v", r)
		}
		lost := dropAcked(ops, 5)
		if lost == 0 {
			t.Fatal("no acknowledged record in the final read to drop")
		}
		res := results(ops)
		if r := res["lost-write"]; r.Passed || r.Count < lost {
			t.Fatalf("%d acked records removed from the final read, lost-write: %+v", lost, r)
		}
		if passed, failed := check.Summarize(check.All(check.Input{Ops: ops})); failed == 0 {
			t.Fatalf("summary %d passed, 0 failed on a history with lost writes", passed)
		}
	})
}
