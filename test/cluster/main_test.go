package cluster_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
)

// broker is the petrel binary of this test binary, built once.
var broker cluster.TestBinary

func TestMain(m *testing.M) {
	code := m.Run()
	broker.Remove()
	os.Exit(code)
}

// startNodes starts an n-node cluster of real processes in a run
// directory that is kept when the test fails; on failure the cleanup also
// prints the tails of the node logs. Problems (panics, races, exits of
// their own) are failures, checked at cleanup. Each of more adjusts the
// configuration before the nodes are laid out.
func startNodes(ctx context.Context, t *testing.T, n int, more ...func(*cluster.Config)) *cluster.Cluster {
	t.Helper()
	bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	bin, err := broker.Path(bctx)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "petrel-cluster-"+strings.ReplaceAll(t.Name(), "/", "_")+"-")
	if err != nil {
		t.Fatal(err)
	}
	cfg := cluster.Config{Binary: bin, Dir: dir, Nodes: n, Shards: 1, Memory: 256 << 20,
		JournalBytes: 16 << 20, ReadyTimeout: 60 * time.Second}
	for _, f := range more {
		f(&cfg)
	}
	c, err := cluster.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
		for _, p := range c.Problems(20) {
			t.Errorf("broker problem: %s", p)
		}
		if !t.Failed() {
			os.RemoveAll(dir)
			return
		}
		for _, n := range c.Nodes() {
			t.Logf("node %d (%s) log tail:\n%s", n.ID, n.LogPath, cluster.LogTail(n.LogPath))
		}
		t.Logf("run directory kept: %s", dir)
	})
	t0 := time.Now()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d nodes ready in %v (run directory %s)", n, time.Since(t0).Round(time.Millisecond), dir)
	return c
}
