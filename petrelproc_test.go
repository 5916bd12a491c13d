package petrel_test

// The `petrel serve` process of the crash test: built once per test run and
// run as a one-node internal/chaos/cluster (free loopback ports, ready via
// /v1/status/ready, killed or terminated by its own PID only).

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
)

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// buildPetrel builds ./cmd/petrel once per test binary run, with -race
// when the tests run under it.
func buildPetrel(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "petrel-bin-")
		if err != nil {
			buildErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		buildBin, buildErr = cluster.Build(ctx, cluster.BuildOptions{
			ModuleDir: ".", Out: filepath.Join(dir, "petrel"), Race: cluster.RaceBuild()})
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	t.Cleanup(func() { _ = os.RemoveAll(filepath.Dir(buildBin)) })
	return buildBin
}

// petrelProc is one `petrel serve` process this test started: a one-node
// chaos cluster on dataDir (internal/chaos/cluster does the process work).
type petrelProc struct {
	c      *cluster.Cluster
	n      *cluster.Node
	kafka  string
	exited <-chan struct{} // closed once the process exited
}

// startPetrel starts the binary on dataDir with free loopback ports and
// waits until it is ready. The process is killed (by PID) at test end if
// still running.
func startPetrel(t *testing.T, bin, dataDir string, round int) *petrelProc {
	t.Helper()
	for attempt := 0; ; attempt++ {
		c, err := cluster.New(cluster.Config{Binary: bin, Dir: t.TempDir(), DataDirs: []string{dataDir}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if err = c.Start(context.Background()); err == nil {
			n := c.Node(0)
			return &petrelProc{c: c, n: n, kafka: n.KafkaAddr, exited: n.Exited()}
		}
		if attempt == 2 {
			t.Fatalf("start petrel (round %d): %v", round, err)
		}
		t.Logf("start petrel (round %d, attempt %d): %v; retrying on other ports", round, attempt, err)
	}
}

// kill sends SIGKILL to the process and waits for it to be gone.
func (p *petrelProc) kill(t *testing.T) {
	t.Helper()
	if err := p.n.Kill(); err != nil {
		t.Fatalf("%v\n%s", err, p.logTail())
	}
	p.scanLog(t)
}

// terminate sends SIGTERM and expects a clean exit (status 0) within 30 s.
func (p *petrelProc) terminate(t *testing.T) {
	t.Helper()
	took, err := p.n.Terminate()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGTERM: clean exit in %v", took.Round(time.Millisecond))
	p.scanLog(t)
}

// scanLog fails on a panic, fatal error or race report in the broker's log,
// or an exit the test did not cause.
func (p *petrelProc) scanLog(t *testing.T) {
	t.Helper()
	if probs := p.c.Problems(8); len(probs) > 0 {
		t.Fatalf("broker problems %v:\n%s", probs, p.logTail())
	}
}

// logTail is the end of the broker's log, for failure messages.
func (p *petrelProc) logTail() string { return cluster.LogTail(p.n.LogPath) }

// newClient is a franz-go client of addr; the caller closes it.
func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > 1000 {
		t.Fatalf("%s=%q: want 1..1000", name, s)
	}
	return v
}
