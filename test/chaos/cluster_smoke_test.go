package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/check"
	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
	"github.com/petrel-streaming/petrel/internal/chaos/history"
	"github.com/petrel-streaming/petrel/internal/chaos/nemesis"
	"github.com/petrel-streaming/petrel/internal/chaos/netfault"
)

// TestChaosSmokeCluster: the short cluster sequence end to end
// (petrel-chaos --smoke --nodes 3, ≈ 40–60 s): kill -9 of a partition's
// leader and its restart, then, when this machine allows a network
// namespace (root, nft, unshare), a partition's leader isolated from the
// two other nodes and healed; final read; every check passes, among them
// minority-ack (with probes sent to the cut-off node), replica-divergence
// (21 replicas equal) and the liveness figures. Then the recorded history,
// with one refused probe to the cut-off node turned into an
// acknowledgement, must fail minority-ack: the check can see what it is
// there for.
func TestChaosSmokeCluster(t *testing.T) {
	t.Parallel() // own binaries, own run dir, own free ports (own namespace in netns mode)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bins := buildChaos(ctx, t, "petrel", cluster.BuildOptions{Race: cluster.RaceBuild()})
	runDir := filepath.Join(bins.dir, "run")
	cmd := exec.CommandContext(ctx, bins.harness, "--smoke", "--nodes", "3", "--keep", "--binary", bins.broker, "--run-dir", runDir)
	cmd.Dir = bins.root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	t.Logf("petrel-chaos --smoke --nodes 3 in %v:\n%s", took.Round(time.Second), out.String())
	if err != nil {
		t.Fatalf("petrel-chaos: %v (run dir %s)", err, runDir)
	}
	netns := netfault.Unavailable() == ""
	text := out.String()
	res := []string{
		`(?m)^PASS lost-write +acked=[1-9]\d* lost=0( |$)`, // "(info later seen: N)" may follow
		`(?m)^PASS replica-divergence +divergent=0 \(partitions=7 replicas=21\)$`,
		`(?m)^PASS liveness +worst unavailability \d+\.\d s \((kill-leader|isolate)\); recovery p50 `,
		`(?m)^unavailability \(fault → first ack on every partition\):.* kill-leader p50=`,
		`(?m)^PASS broker-crash +0$`,
		`(?m)^PASS nemesis +0$`,
		`(?m)^chaos: \d+ passed, 0 failed$`,
	}
	if netns {
		res = append(res, `(?m)^petrel-chaos seed=\d+ mode=netns nodes=3 partitions=7 duration=smoke `,
			`(?m)^faults: isolate=1 kill-leader=1 \(healed 2\)$`,
			`(?m)^PASS minority-ack +acked=0 \(probes to cut-off nodes: [1-9]\d*, refused or timed out: [1-9]\d*\)$`)
	} else {
		res = append(res, `(?m)^petrel-chaos seed=\d+ mode=loopback nodes=3 `, `(?m)^network: loopback mode `,
			`(?m)^faults: kill-leader=1 \(healed 1\)$`, `(?m)^skipped: isolate: needs netns mode`)
	}
	for _, re := range res {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("output does not match %s", re)
		}
	}
	if took > 2*time.Minute {
		t.Errorf("the cluster smoke took %v, budget 2 min", took.Round(time.Second))
	}
	var sum struct {
		Nodes           int                        `json:"nodes"`
		UnavailabilityS map[string]json.RawMessage `json:"unavailability_s"`
	}
	b, err := os.ReadFile(filepath.Join(runDir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil || sum.Nodes != 3 || sum.UnavailabilityS["kill-leader"] == nil {
		t.Fatalf("summary.json: %v %+v", err, sum)
	}
	if !netns {
		return
	}

	t.Run("MinorityAckCaught", func(t *testing.T) {
		ops := readOps(t, filepath.Join(runDir, "history.jsonl"))
		spans := readSpans(t, filepath.Join(runDir, "faults.jsonl"))
		in := check.Input{Ops: ops, Faults: spans}
		if r, _ := check.Run("minority-ack", in); !r.Passed {
			t.Fatalf("the recorded history fails minority-ack: %+v", r)
		}
		if !ackOneMinorityProbe(ops, spans) {
			t.Fatal("no probe to the cut-off node inside the cut to edit")
		}
		if r, _ := check.Run("minority-ack", in); r.Passed || r.Count != 1 {
			t.Fatalf("an acknowledgement by the cut-off node was not caught: %+v", r)
		}
	})
}

func readOps(t *testing.T, path string) []history.Op {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ops, err := history.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

// readSpans reads the fault log as the harness does.
func readSpans(t *testing.T, path string) []check.FaultSpan {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, err := nemesis.ReadLog(f)
	if err != nil {
		t.Fatal(err)
	}
	return nemesis.Spans(evs)
}

// ackOneMinorityProbe turns the completion of one refused probe to a
// cut-off node, sent after the cut and answered before the heal, into an
// acknowledgement, as a broker acking without a majority would answer.
func ackOneMinorityProbe(ops []history.Op, spans []check.FaultSpan) bool {
	invoked := map[int64]int64{}
	for i := range ops {
		o := &ops[i]
		if o.Type != history.Send || o.Node == nil {
			continue
		}
		if o.Phase == history.Invoke {
			invoked[o.ID] = o.Time
			continue
		}
		for _, s := range spans {
			if len(s.Minority) == 1 && *o.Node == s.Minority[0] && o.Phase != history.OK &&
				invoked[o.ID] >= s.MinorityFrom && o.Time <= s.Heal {
				o.Phase, o.Offset, o.Err = history.OK, 0, ""
				return true
			}
		}
	}
	return false
}
