package bench

import (
	"context"
	"errors"
	"maps"
	"os"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
)

func TestParsePids(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[int32]int
	}{
		{"0=4121,1=4122,2=4130", map[int32]int{0: 4121, 1: 4122, 2: 4130}},
		{" 7 = 99 ,", map[int32]int{7: 99}},
		{"", nil},
		{"0=1", nil},       // never init
		{"0=12,0=13", nil}, // node twice
		{"-1=12", nil},
		{"0:12", nil},
		{"x=12", nil},
		{"0=12x", nil},
	} {
		got, err := ParsePids(tc.in)
		if tc.want == nil {
			if !errors.Is(err, ErrUsage) {
				t.Errorf("ParsePids(%q) = %v, %v; want ErrUsage", tc.in, got, err)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tc.want) {
			t.Errorf("ParsePids(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestFailoverUsage: a round without PIDs kills nothing and says why.
func TestFailoverUsage(t *testing.T) {
	_, err := Failover(context.Background(), FailoverOptions{Brokers: []string{"127.0.0.1:1"}, Topic: "t"}, testLogger(t))
	if !errors.Is(err, ErrUsage) {
		t.Fatalf("no pids: %v, want ErrUsage", err)
	}
}

// TestFailoverCluster: one round against a real 3-node cluster kills the
// leader's process (and only it), another node leads, and the first
// acknowledgement after the kill is timed. Builds the broker: long.
func TestFailoverCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds petrel and runs 3 processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var bin cluster.TestBinary
	defer bin.Remove()
	path, err := bin.Path(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "petrel-bench-failover-")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.New(cluster.Config{Binary: path, Dir: dir, Nodes: 3, Shards: 1, Memory: 256 << 20,
		JournalBytes: 16 << 20, ReadyTimeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		c.Close()
		if !t.Failed() {
			os.RemoveAll(dir)
		} else {
			t.Logf("run directory kept: %s", dir)
		}
	}()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pids := map[int32]int{}
	for _, n := range c.Nodes() {
		pids[int32(n.ID)] = n.Pid()
	}
	res, err := Failover(ctx, FailoverOptions{Brokers: c.Seeds(), Topic: "failover", Pids: pids,
		RecordBytes: 100, Timeout: time.Minute}, testLogger(t))
	t.Logf("%+v", res)
	if err != nil {
		t.Fatal(err)
	}
	if res.KilledPid != pids[res.KilledNode] || res.NewLeader < 0 || res.NewLeader == res.KilledNode ||
		res.ToAckMs <= 0 || res.ToLeaderMs <= 0 || res.Acked == 0 {
		t.Fatalf("round %+v (pids %v)", res, pids)
	}
	select {
	case <-c.Node(int(res.KilledNode)).Exited():
	case <-time.After(10 * time.Second):
		t.Fatalf("node %d (pid %d) still running after the round", res.KilledNode, res.KilledPid)
	}
	for _, n := range c.Nodes() {
		if int32(n.ID) != res.KilledNode && !n.Running() {
			t.Errorf("node %d stopped, only node %d was to be killed", n.ID, res.KilledNode)
		}
	}
}
