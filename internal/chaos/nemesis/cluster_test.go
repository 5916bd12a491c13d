package nemesis_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/check"
	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
	"github.com/petrel-streaming/petrel/internal/chaos/nemesis"
)

// TestClusterFaults: on one node every cluster fault is unavailable for
// want of a cluster; on three without a network namespace only the
// network ones are, with the reason; the cluster smoke then keeps
// kill-leader and names isolate as skipped.
func TestClusterFaults(t *testing.T) {
	mk := func(nodes int) []nemesis.Fault {
		c, err := cluster.New(cluster.Config{Binary: "/nonexistent/petrel", Dir: t.TempDir(), Nodes: nodes})
		if err != nil {
			t.Fatal(err)
		}
		return nemesis.ClusterFaults(c, rand.New(rand.NewPCG(1, 2)), nemesis.NewLog(&bytes.Buffer{}, time.Now()),
			nemesis.ClusterOptions{Topic: "chaos", Partitions: 6, NetWhy: errors.New("not root")})
	}
	procs := map[string]bool{"kill-leader": true, "kill-follower": true, "leader-transfer-storm": true}
	one, three := mk(1), mk(3)
	if len(one) != 10 || len(three) != len(one) {
		t.Fatalf("%d and %d faults", len(one), len(three))
	}
	for i, f := range one {
		if err := f.Available(); !errors.Is(err, nemesis.ErrNeedsCluster) {
			t.Errorf("one node, %s: %v", f.Name, err)
		}
		g := three[i]
		var err error
		if g.Available != nil {
			err = g.Available()
		}
		switch {
		case procs[g.Name] && err != nil:
			t.Errorf("three nodes, %s: %v", g.Name, err)
		case !procs[g.Name] && (!errors.Is(err, nemesis.ErrNeedsNetns) || !strings.Contains(err.Error(), "not root")):
			t.Errorf("three nodes without netns, %s: %v", g.Name, err)
		}
	}
	s, skipped := nemesis.ClusterSmoke(three)
	if len(s.Steps) != 1 || s.Steps[0].Fault != "kill-leader" || len(skipped) != 1 || !strings.HasPrefix(skipped[0], "isolate: needs netns mode") {
		t.Fatalf("cluster smoke %+v skipped %q", s, skipped)
	}
	if s, skipped := nemesis.ClusterSmoke(one); len(s.Steps) != 0 || len(skipped) != 2 {
		t.Fatalf("cluster smoke on one node %+v skipped %q", s, skipped)
	}
}

// TestSpans: inject/heal pairs with their minority, from a log.
func TestSpans(t *testing.T) {
	evs := []nemesis.Event{
		{Time: 10, Ev: "inject", Fault: "isolate"}, {Time: 15, Ev: "detail", Fault: "isolate", Node: 2},
		{Time: 16, Ev: "minority", Fault: "isolate", Node: 2}, {Time: 17, Ev: "injected", Fault: "isolate"},
		{Time: 30, Ev: "heal", Fault: "isolate"}, {Time: 40, Ev: "healed", Fault: "isolate"},
		{Time: 50, Ev: "none"},
		{Time: 60, Ev: "inject", Fault: "kill"}, {Time: 61, Ev: "error", Fault: "kill"},
		{Time: 70, Ev: "inject", Fault: "kill-all"}, {Time: 72, Ev: "injected", Fault: "kill-all"},
	}
	var buf bytes.Buffer
	for _, e := range evs {
		b, _ := json.Marshal(e)
		buf.Write(append(b, '\n'))
	}
	read, err := nemesis.ReadLog(&buf)
	if err != nil || !reflect.DeepEqual(read, evs) {
		t.Fatalf("ReadLog: %v %+v", err, read)
	}
	got := nemesis.Spans(read)
	want := []check.FaultSpan{
		{Fault: "isolate", Injected: 17, Heal: 30, Minority: []int32{2}, MinorityFrom: 16},
		{Fault: "kill", Injected: 60, Heal: math.MaxInt64},
		{Fault: "kill-all", Injected: 72, Heal: math.MaxInt64},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("spans\n%+v\nwant\n%+v", got, want)
	}
}
