package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
)

// round is one kill of a partition's leader and what the clients saw.
type round struct {
	partition         int32
	killed, newLeader int32
	toLeader          time.Duration // kill → a new leader in Metadata
	toAck             time.Duration // kill → first acknowledged write to the partition
	toReady           time.Duration // restart → the killed node ready
	steady            bool          // every partition had 3 in-sync replicas before the next round
}

// TestLeaderKill: kill -9 the leader of a partition, round after round,
// under an idempotent acks=all producer; no acknowledged record is lost,
// moved or duplicated, and the replicas end byte-identical.
func TestLeaderKill(t *testing.T) {
	const (
		topic      = "failover"
		partitions = 3
	)
	rounds, budget := 8, 5*time.Minute
	if testing.Short() {
		rounds, budget = 3, 110*time.Second
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	t.Log("no seed: the schedule is fixed (round i kills the leader of partition i mod 3)")
	c := startNodes(ctx, t, 3)
	wl := startRun(ctx, t, c, topic, partitions)
	defer wl.admCl.Close()
	adm, l, pr, stopConsumer := wl.adm, wl.l, wl.pr, wl.stopConsumer

	var done []round
	for i := range rounds {
		r, err := killLeader(ctx, t, c, adm, l, topic, int32(i%partitions), partitions)
		if err != nil {
			pr.finish()
			stopConsumer()
			t.Fatalf("round %d: %v", i, err)
		}
		t.Logf("round %d: partition %d: killed node %d; node %d leads after %v, first ack after %v; restarted node ready in %v; steady %v",
			i, r.partition, r.killed, r.newLeader, r.toLeader.Round(time.Millisecond), r.toAck.Round(time.Millisecond),
			r.toReady.Round(time.Millisecond), r.steady)
		done = append(done, r)
	}
	produced := pr.finish()
	stopConsumer()

	ends, final := settle(ctx, t, c, adm, topic, partitions)

	l.mu.Lock()
	defer l.mu.Unlock()
	report(t, done)
	reportRun(t, l, pr, produced, ends, start)
	for _, f := range check(l.acked, l.reads, final) {
		t.Errorf("%s: %d, e.g.\n  %s", f.name, f.count, strings.Join(f.examples, "\n  "))
	}
}

// killLeader runs one round: kill -9 the leader of partition p, wait for
// another leader and for the first acknowledgement after the kill, restart
// the node and wait until it is ready and the cluster steady.
func killLeader(ctx context.Context, t *testing.T, c *cluster.Cluster, adm *kadm.Client, l *ledger, topic string, p int32, partitions int) (round, error) {
	r := round{partition: p, killed: -1, newLeader: -1}
	var lastErr error
	if ok, _ := poll(ctx, 20*time.Second, func() bool {
		st, err := partitionsState(ctx, adm, topic)
		lastErr = err
		ls, found := st[p]
		if found && ls.leader >= 0 && int(ls.leader) < len(c.Nodes()) {
			r.killed = ls.leader
		}
		return found
	}); !ok {
		return r, fmt.Errorf("no leader for partition %d in Metadata (%v)", p, lastErr)
	}
	n := c.Node(int(r.killed))
	if err := n.Kill(); err != nil {
		return r, err
	}
	kill := time.Now()
	ok, took := poll(ctx, 30*time.Second, func() bool {
		st, err := partitionsState(ctx, adm, topic)
		lastErr = err
		if ls, found := st[p]; found && ls.leader != r.killed {
			r.newLeader = ls.leader
			return true
		}
		return false
	})
	if !ok {
		return r, fmt.Errorf("partition %d: no leader other than the killed node %d %v after the kill (%v)", p, r.killed, took, lastErr)
	}
	r.toLeader = took
	var at time.Time
	if ok, took := poll(ctx, 45*time.Second, func() bool {
		var acked bool
		at, acked = l.ackedSince(p, kill)
		return acked
	}); !ok {
		return r, fmt.Errorf("partition %d: no acknowledged write %v after its leader (node %d) was killed; produce errors:%s", p, took, r.killed, countsLocked(l))
	}
	r.toAck = at.Sub(kill)
	restart := time.Now()
	if err := n.Start(ctx); err != nil {
		return r, err
	}
	r.toReady = time.Since(restart)
	r.steady, _ = waitSteady(ctx, adm, topic, partitions, 20*time.Second)
	return r, nil
}

func countsLocked(l *ledger) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return counts(l.errs)
}

// waitSteady waits until every partition has a leader and three in-sync
// replicas (limit bounds it).
func waitSteady(ctx context.Context, adm *kadm.Client, topic string, partitions int, limit time.Duration) (bool, time.Duration) {
	return poll(ctx, limit, func() bool {
		st, err := partitionsState(ctx, adm, topic)
		if err != nil || len(st) != partitions {
			return false
		}
		for _, ls := range st {
			if len(ls.isr) != 3 {
				return false
			}
		}
		return true
	})
}

// compareReplicas waits until every node's replica of each partition has
// the high watermark end[p], then compares the replicas' digests below
// it: they must be equal.
func compareReplicas(ctx context.Context, t *testing.T, c *cluster.Cluster, topic string, end map[int32]int64) {
	t.Helper()
	for _, p := range slices.Sorted(mapKeys(end)) {
		var last []cluster.Digest
		var lastErr error
		ok, took := poll(ctx, 30*time.Second, func() bool {
			last, lastErr = nil, nil
			for _, n := range c.Nodes() {
				d, err := n.ReplicaDigest(ctx, topic, p, -1)
				if err != nil {
					lastErr = err
					return false
				}
				last = append(last, d)
				if d.HighWatermark != end[p] {
					return false
				}
			}
			return true
		})
		if !ok {
			t.Errorf("partition %d: replicas' high watermarks not all %d after %v: %+v (%v)", p, end[p], took, last, lastErr)
			continue
		}
		var ds []cluster.Digest
		for _, n := range c.Nodes() {
			d, err := n.ReplicaDigest(ctx, topic, p, end[p])
			if err != nil {
				t.Errorf("partition %d: %v", p, err)
				return
			}
			ds = append(ds, d)
		}
		for _, d := range ds[1:] {
			if d.CRC32C != ds[0].CRC32C || d.Batches != ds[0].Batches || d.Upto != ds[0].Upto {
				t.Errorf("partition %d: replicas differ below offset %d:\n  %+v\n  %+v", p, end[p], ds[0], d)
			}
		}
		if ds[0].Batches == 0 && end[p] > 0 {
			t.Errorf("partition %d: digest over no batch below %d: %+v", p, end[p], ds[0])
		}
		t.Logf("partition %d: 3 replicas equal below offset %d (%d batches, crc32c %08x), high watermarks equal after %v",
			p, end[p], ds[0].Batches, ds[0].CRC32C, took.Round(time.Millisecond))
	}
}

// report logs the failover figures: p50 and max of each duration.
func report(t *testing.T, rs []round) {
	t.Helper()
	fig := func(name string, get func(round) time.Duration) {
		var ds []time.Duration
		for _, r := range rs {
			ds = append(ds, get(r))
		}
		if len(ds) == 0 {
			return
		}
		slices.Sort(ds)
		t.Logf("%-28s p50 %v max %v (%d kills)", name, ds[len(ds)/2].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond), len(ds))
	}
	fig("kill → new leader (Metadata)", func(r round) time.Duration { return r.toLeader })
	fig("kill → first ack", func(r round) time.Duration { return r.toAck })
	fig("restart → ready", func(r round) time.Duration { return r.toReady })
	unsteady := 0
	for _, r := range rs {
		if !r.steady {
			unsteady++
		}
	}
	if unsteady > 0 {
		t.Logf("%d of %d rounds: not every partition had 3 in-sync replicas within 20 s of the restart", unsteady, len(rs))
	}
}
