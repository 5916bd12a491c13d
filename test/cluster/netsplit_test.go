package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
	"github.com/petrel-streaming/petrel/internal/chaos/netfault"
)

// cutShape is one network fault of TestNetsplit: which node ends up alone
// on the minority side.
type cutShape struct {
	name   string
	target func(ctx context.Context, adm *kadm.Client, topic string) (int32, error)
}

// cut is what one fault did and what the clients saw.
type cut struct {
	shape      string
	node       int32   // the node cut off from the two others
	led        []int32 // partitions it led just before the cut
	toAck      time.Duration
	stepDown   time.Duration // cut → its first NOT_LEADER_OR_FOLLOWER for a partition it led (-1: none)
	lastOK     time.Duration // cut → the answer to its last acknowledged probe (< 0: before the cut)
	healSteady time.Duration // heal → every partition with a leader and 3 in-sync replicas
	probes     []probeOutcome
}

// TestNetsplit: a node is cut off from the two others by the network
// (nftables, in a network namespace of the test's own), under an
// idempotent acks=all producer writing to every partition and a consumer
// reading alongside. Issue 5's partition test:
//
//   - the minority never acknowledges: produces sent straight to the
//     cut-off node, for every partition in turn (as a client that still
//     believes it leads would; picked and probed again until the
//     leaders stand still, since preferred leaders move back), are
//     all refused or time out once the cut is in place — any success is
//     a failure, however soon after the cut (a leader without a majority
//     cannot commit a new entry); before the cut the same probes succeed,
//     so the probe can fail the test;
//   - the majority elects a new leader of each partition the node led and
//     acknowledges writes again (the time to the first write is logged,
//     never asserted);
//   - after the heal every partition is steady again; at the end the
//     three replicas' high watermarks agree and their digests are equal,
//     and a fresh consumer finds every acknowledged record (the
//     producer's and the probes') at its offset, with no duplicate, dense
//     offsets and per-producer order.
//
// Clients (this process, 127.0.0.1) reach every node throughout: the cut
// is between nodes only (CHAOS.md's `isolate` fault), which is the hard
// case for safety — the isolated leader keeps receiving produce requests
// and must refuse them — and what a real switch failure between brokers
// looks like when clients sit elsewhere.
//
// -short runs one cut (the leader of partition 0 isolated); the long run
// also isolates a follower of partition 0 and splits the controller's
// leader from the two others (1|2).
func TestNetsplit(t *testing.T) {
	if !netfault.Enter(t) {
		return
	}
	const (
		topic      = "netsplit"
		partitions = 3
		nodes      = 3
	)
	budget := 4 * time.Minute
	shapes := []cutShape{{"leader of partition 0 isolated", leaderOf(0)}}
	if testing.Short() {
		budget = 85 * time.Second
	} else {
		shapes = append(shapes, cutShape{"follower of partition 0 isolated", followerOf(0)},
			cutShape{"controller split 1|2", controllerNode}, cutShape{"leader of partition 1 isolated", leaderOf(1)})
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	t.Log("no seed: the schedule is fixed (the shapes in order)")

	nf, err := netfault.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := nf.Sources(ctx, netfault.NodeSources(nodes)); err != nil {
		t.Fatal(err)
	}
	hosts := make([]string, nodes)
	gids := make([]uint32, nodes)
	for i := range nodes {
		hosts[i], gids[i] = netfault.NodeHost(i), netfault.NodeGID(i)
	}
	c := startNodes(ctx, t, nodes, func(cfg *cluster.Config) { cfg.Hosts, cfg.GIDs = hosts, gids; cfg.LogLevel = "debug" })
	wl := startRun(ctx, t, c, topic, partitions)
	defer wl.admCl.Close()
	admCl, adm, l, pr, stopConsumer := wl.admCl, wl.adm, wl.l, wl.pr, wl.stopConsumer
	stopAll := func() {
		pr.finish()
		stopConsumer()
	}

	var done []cut
	for i, sh := range shapes {
		r, err := splitOnce(ctx, t, nf, c, admCl, adm, l, topic, partitions, sh, fmt.Sprint(i))
		done = append(done, r)
		if err != nil {
			stopAll()
			t.Fatalf("cut %d (%s): %v", i, sh.name, err)
		}
		t.Logf("cut %d (%s): node %d (led %v) cut off; first ack on the majority after %v; node %d answered NOT_LEADER after %s; last probe it acknowledged answered %v from the cut; healed → steady in %v",
			i, sh.name, r.node, r.led, r.toAck.Round(time.Millisecond), r.node, durOrNone(r.stepDown), r.lastOK.Round(time.Millisecond),
			r.healSteady.Round(time.Millisecond))
		t.Logf("cut %d: %d probes to node %d; their errors:%s", i, len(r.probes), r.node, probeErrors(r.probes))
	}
	produced := pr.finish()
	stopConsumer()

	ends, final := settle(ctx, t, c, adm, topic, partitions)

	l.mu.Lock()
	defer l.mu.Unlock()
	reportRun(t, l, pr, produced, ends, start)
	// The probes' records are not the producer's (no sequence in their
	// value): check that they are found where they were acknowledged and
	// only once, apart from the producer's ordering check.
	probeValues := map[string]bool{}
	var probeAcks []rec
	for _, r := range done {
		for _, o := range r.probes {
			probeValues[o.v] = true
			if o.err == nil {
				probeAcks = append(probeAcks, rec{p: o.p, off: o.off, v: o.v})
			}
		}
	}
	ours := map[int32][]rec{}
	for p, rs := range final {
		for _, r := range rs {
			if probeValues[r.v] {
				continue
			}
			if seqOf(r.v) < 0 {
				t.Errorf("final read: %s is neither the producer's nor a probe's", r)
			}
			ours[p] = append(ours[p], r)
		}
	}
	for _, f := range check(l.acked, nil, ours) {
		if f.name == "gap" {
			continue // the probes' records fill those; density is checked below on everything
		}
		t.Errorf("%s: %d, e.g.\n  %s", f.name, f.count, strings.Join(f.examples, "\n  "))
	}
	for _, f := range check(probeAcks, l.reads, final) {
		if f.name == "reordered" {
			continue // probes carry no sequence
		}
		t.Errorf("%s (probes and final read): %d, e.g.\n  %s", f.name, f.count, strings.Join(f.examples, "\n  "))
	}
}

// splitOnce runs one fault: find the node, start probing it directly,
// cut it off, wait until the majority acknowledges writes to every
// partition it led and at least minCut passed, heal, wait for the
// cluster to be steady, and check the probes.
func splitOnce(ctx context.Context, t *testing.T, nf *netfault.Net, c *cluster.Cluster, cl *kgo.Client, adm *kadm.Client,
	l *ledger, topic string, partitions int, sh cutShape, tag string) (cut, error) {
	const minCut = 5 * time.Second // several election timeouts: a stale leader had time to act
	r := cut{shape: sh.name, node: -1, stepDown: -1}
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return r, err
	}
	all := make([]int32, partitions)
	for i := range all {
		all[i] = int32(i)
	}
	// Leadership moves on its own (preferred leaders come back after a
	// heal): pick the node, probe it, and cut only if the target and
	// every leader are still the same after the first probes.
	var pb *prober
	for attempt := 0; ; attempt++ {
		if attempt == 5 {
			return r, fmt.Errorf("the target or the leaders kept moving (5 attempts)")
		}
		node, st, err := targetState(ctx, adm, topic, partitions, sh)
		if err != nil {
			return r, err
		}
		pb = startProber(ctx, cl, node, topic, md.Topics[topic].ID, all, tag)
		if ok, _ := poll(ctx, 15*time.Second, func() bool {
			pb.mu.Lock()
			defer pb.mu.Unlock()
			return len(pb.outs) >= 2*partitions
		}); !ok {
			r.probes = pb.stop()
			return r, fmt.Errorf("fewer than %d probes answered in 15 s before the cut", 2*partitions)
		}
		node2, st2, err := targetState(ctx, adm, topic, partitions, sh)
		if err == nil && node2 == node && sameLeaders(st, st2) {
			r.node = node
			for p, ls := range st2 {
				if ls.leader == node {
					r.led = append(r.led, p)
				}
			}
			slices.Sort(r.led)
			break
		}
		pb.stop()
		t.Logf("cut %s: target or leaders moved while probing (node %d → %d, %v → %v, %v); again", tag, node, node2, st, st2, err)
	}
	others := []string{}
	for _, n := range c.Nodes() {
		if int32(n.ID) != r.node {
			others = append(others, netfault.NodeHost(n.ID))
		}
	}
	if err := nf.Isolate(ctx, netfault.NodeHost(int(r.node)), others...); err != nil {
		r.probes = pb.stop()
		return r, err
	}
	cutAt := time.Now()
	firstAck := map[int32]time.Duration{} // per partition led: cut → its first ack (±50 ms)
	ok, took := poll(ctx, 30*time.Second, func() bool {
		for _, p := range r.led {
			if _, seen := firstAck[p]; seen {
				continue
			}
			if at, acked := l.ackedSince(p, cutAt); acked {
				firstAck[p] = at.Sub(cutAt)
			}
		}
		return len(firstAck) == len(r.led) && time.Since(cutAt) >= minCut
	})
	for _, d := range firstAck {
		r.toAck = max(r.toAck, d)
	}
	r.probes = pb.stop()
	var states string
	if !ok {
		states = raftStates(ctx, c, topic, r.led)
	}
	healErr := nf.Heal(ctx)
	healAt := time.Now()
	if !ok {
		return r, fmt.Errorf("partitions %v: no acknowledged write on the majority %v after node %d was cut off; produce errors:%s\nraft state before the heal:%s",
			r.led, took, r.node, countsLocked(l), states)
	}
	if healErr != nil {
		return r, healErr
	}
	if err := judgeProbes(&r, cutAt); err != nil {
		return r, err
	}
	steady, _ := waitSteady(ctx, adm, topic, partitions, 30*time.Second)
	r.healSteady = time.Since(healAt)
	if !steady {
		return r, fmt.Errorf("not every partition led with 3 in-sync replicas %v after the heal", r.healSteady)
	}
	return r, nil
}

// targetState is the shape's target node and every partition's
// leadership (all partitions led), within 20 s.
func targetState(ctx context.Context, adm *kadm.Client, topic string, partitions int, sh cutShape) (int32, map[int32]leadership, error) {
	node := int32(-1)
	var st map[int32]leadership
	var lastErr error
	if ok, _ := poll(ctx, 20*time.Second, func() bool {
		node, lastErr = sh.target(ctx, adm, topic)
		if lastErr != nil {
			return false
		}
		st, lastErr = partitionsState(ctx, adm, topic)
		return lastErr == nil && len(st) == partitions
	}); !ok {
		return -1, nil, fmt.Errorf("no target node or not every partition led: %v", lastErr)
	}
	return node, st, nil
}

// sameLeaders reports whether every partition has the same leader and
// epoch in a and b.
func sameLeaders(a, b map[int32]leadership) bool {
	if len(a) != len(b) {
		return false
	}
	for p, x := range a {
		if y, ok := b[p]; !ok || x.leader != y.leader || x.epoch != y.epoch {
			return false
		}
	}
	return true
}

// judgeProbes fills the probe figures of r and fails when the cut-off
// node acknowledged a probe sent after the cut, or when no probe
// succeeded before the cut although the node led a partition then.
func judgeProbes(r *cut, cutAt time.Time) error {
	var okBefore int
	var minority []string
	for _, o := range r.probes {
		switch {
		case o.err == nil && o.invoked.Before(cutAt):
			okBefore++
			r.lastOK = o.answered.Sub(cutAt)
		case o.err == nil:
			minority = append(minority, fmt.Sprintf("%s acknowledged at %d/%d, sent %v after the cut, answered %v after it",
				o.v, o.p, o.off, o.invoked.Sub(cutAt).Round(time.Millisecond), o.answered.Sub(cutAt).Round(time.Millisecond)))
		case r.stepDown < 0 && !o.invoked.Before(cutAt) && slices.Contains(r.led, o.p) && errors.Is(o.err, kerr.NotLeaderForPartition):
			r.stepDown = o.answered.Sub(cutAt)
		}
	}
	if len(minority) > 0 {
		return fmt.Errorf("node %d, cut off from the majority, acknowledged %d produces:\n  %s", r.node, len(minority), strings.Join(minority, "\n  "))
	}
	if len(r.led) > 0 && okBefore == 0 {
		return fmt.Errorf("no probe to node %d (leading %v) succeeded before the cut: the probe cannot tell (errors:%s)", r.node, r.led, probeErrors(r.probes))
	}
	return nil
}

// probeErrors tallies the probes' errors.
func probeErrors(outs []probeOutcome) string {
	m := map[string]int{}
	for _, o := range outs {
		if o.err != nil {
			m[o.err.Error()]++
		}
	}
	return counts(m)
}

func durOrNone(d time.Duration) string {
	if d < 0 {
		return "(no NOT_LEADER answer while cut)"
	}
	return d.Round(time.Millisecond).String()
}

// leaderOf targets the leader of partition p.
func leaderOf(p int32) func(context.Context, *kadm.Client, string) (int32, error) {
	return func(ctx context.Context, adm *kadm.Client, topic string) (int32, error) {
		st, err := partitionsState(ctx, adm, topic)
		if err != nil {
			return -1, err
		}
		ls, ok := st[p]
		if !ok {
			return -1, fmt.Errorf("partition %d has no leader", p)
		}
		return ls.leader, nil
	}
}

// followerOf targets the in-sync follower of partition p with the lowest
// id.
func followerOf(p int32) func(context.Context, *kadm.Client, string) (int32, error) {
	return func(ctx context.Context, adm *kadm.Client, topic string) (int32, error) {
		st, err := partitionsState(ctx, adm, topic)
		if err != nil {
			return -1, err
		}
		ls, ok := st[p]
		if !ok || len(ls.isr) < 3 {
			return -1, fmt.Errorf("partition %d: no leader or fewer than 3 in-sync replicas", p)
		}
		isr := slices.Sorted(slices.Values(ls.isr))
		for _, id := range isr {
			if id != ls.leader {
				return id, nil
			}
		}
		return -1, fmt.Errorf("partition %d: no follower in %v", p, ls.isr)
	}
}

// controllerNode targets the controller (the leader of the controller's
// Raft group, as Metadata reports it).
func controllerNode(ctx context.Context, adm *kadm.Client, _ string) (int32, error) {
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return -1, err
	}
	if md.Controller < 0 {
		return -1, errors.New("no controller")
	}
	return md.Controller, nil
}

// raftStates is every node's Raft state of the partitions, for a failure
// report.
func raftStates(ctx context.Context, c *cluster.Cluster, topic string, ps []int32) string {
	var b strings.Builder
	for _, p := range ps {
		for _, n := range c.Nodes() {
			st, err := n.RaftStatus(ctx, topic, p)
			if err != nil {
				st = err.Error()
			}
			fmt.Fprintf(&b, "\n  partition %d, node %d: %s", p, n.ID, st)
		}
	}
	return b.String()
}
