package cluster_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
)

// cmdline is the command line of a running process.
func cmdline(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// flag is the value following name in args ("" when absent).
func flag(args []string, name string) string {
	if i := slices.Index(args, name); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// brokersSeen asks the cluster, through any node, how many brokers it has.
func brokersSeen(ctx context.Context, t *testing.T, c *cluster.Cluster) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return len(md.Brokers)
}

// TestThreeNodes: three processes form one cluster (each with --seeds
// naming every node's RPC address), one is killed with SIGKILL and
// restarted alone on its data dir and ports, and all are ready again with
// a clean log.
func TestThreeNodes(t *testing.T) {
	c, err := cluster.New(cluster.Config{Binary: petrelBinary(t), Dir: t.TempDir(), Nodes: 3, Shards: 1,
		Memory: 256 << 20, JournalBytes: 16 << 20, ReadyTimeout: 45 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			for _, n := range c.Nodes() {
				t.Logf("node %d log tail:\n%s", n.ID, cluster.LogTail(n.LogPath))
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("3 nodes ready in %v", time.Since(t0).Round(time.Millisecond))
	var rpc []string
	for _, n := range c.Nodes() {
		rpc = append(rpc, n.RPCAddr)
	}
	for _, n := range c.Nodes() {
		args := cmdline(t, n.Pid())
		if got, want := flag(args, "--seeds"), strings.Join(rpc, ","); got != want {
			t.Errorf("node %d --seeds %q, want %q", n.ID, got, want)
		}
		if got := flag(args, "--node-id"); got != strconv.Itoa(n.ID) {
			t.Errorf("node %d --node-id %q", n.ID, got)
		}
	}
	if got := brokersSeen(ctx, t, c); got != 3 {
		t.Fatalf("metadata lists %d brokers, want 3", got)
	}

	n := c.Node(1)
	before := cmdline(t, n.Pid())
	if err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("node 1 killed and ready again in %v", time.Since(t1).Round(time.Millisecond))
	if after := cmdline(t, n.Pid()); !slices.Equal(before, after) {
		t.Fatalf("restart changed the command line:\n%q\n%q", before, after)
	}
	for _, n := range c.Nodes() {
		if err := n.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := brokersSeen(ctx, t, c); got != 3 {
		t.Fatalf("after the restart metadata lists %d brokers, want 3", got)
	}
	if err := c.Start(ctx); err != nil { // every node runs: nothing to do
		t.Fatal(err)
	}
	for _, e := range c.Exits() {
		if !e.Expected {
			t.Errorf("unexpected exit %+v", e)
		}
	}
	if p := c.Problems(0); len(p) != 0 {
		t.Fatalf("problems: %v", p)
	}
}
