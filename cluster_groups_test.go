package petrel_test

// Group coordinator failover in a 3-node cluster: a group's coordinator is
// the leader of its __consumer_offsets partition; when that node stops,
// the partition's new leader loads the coordinator from the replicated
// log, the committed offsets are all there, the consumer finds the new
// coordinator and goes on from them, and the stopped node serves again
// after a restart.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/group"
)

func TestClusterGroupCoordinatorFailover(t *testing.T) {
	const (
		topic  = "cg-events"
		gid    = "cg"
		nRound = 200
	)
	t0 := time.Now()
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	t.Logf("cluster started in %v", time.Since(t0))
	adm := kadm.NewClient(c.client())
	if res, err := adm.CreateTopics(ctx, 3, 3, nil, topic); err != nil || res[topic].Err != nil {
		t.Fatalf("create: %v %v", err, res[topic].Err)
	}
	ends := map[int32]int64{} // the end offset of each partition, from what was produced
	produce := func(from int) {
		cl := c.client()
		for p, offs := range produceN(ctx, t, cl, topic, from, nRound) {
			ends[p] = max(ends[p], slices.Max(offs)+1)
		}
		cl.Close()
	}
	gc := &groupConsumer{t: t, c: c, group: gid, topic: topic, seen: map[string]int{}}
	gc.open()

	// Round 1: consume and commit everything.
	produce(0)
	gc.consumeUntil(ctx, nRound, ends)
	coord := gc.coordinator(ctx, adm)
	offsetsPart := group.PartitionFor(gid, 16)
	if lead := leaderOf(ctx, t, c.client(), "__consumer_offsets", offsetsPart); lead != coord {
		t.Fatalf("coordinator of %q is node %d, but __consumer_offsets/%d is led by node %d", gid, coord, offsetsPart, lead)
	}
	t.Logf("round 1 consumed and committed at %v; coordinator node %d", time.Since(t0), coord)

	// Stop the coordinator: the offsets are on the survivors, exactly one
	// of them serves the group, and the group goes on with it.
	ts := time.Now()
	c.stop(int(coord))
	t.Logf("node %d stopped in %v", coord, time.Since(ts))
	survivors := kadm.NewClient(c.client())
	waitOffsets(ctx, t, survivors, gid, topic, ends)
	t.Logf("offsets served by the survivors %v after the stop", time.Since(ts))
	next := oneCoordinator(ctx, t, c, gid)
	if next == coord {
		t.Fatalf("node %d still the coordinator after it stopped", coord)
	}
	gc.committedBelow, gc.again = nRound, 0
	produce(nRound)
	gc.consumeUntil(ctx, 2*nRound, ends)
	if gc.redelivered > 0 {
		t.Errorf("%d records committed before the failover were delivered again: the new coordinator lost offsets", gc.redelivered)
	}
	t.Logf("round 2 (coordinator node %d) consumed and committed %v after the stop (%d records delivered again after the rebalance)",
		next, time.Since(ts), gc.again)

	// Restart the old coordinator: it serves the group again (through
	// its own listener), and after the second coordinator stops the
	// group goes on with the two left, whichever of them leads.
	c.restart(int(coord))
	only, err := kgo.NewClient(kgo.SeedBrokers(c.brokers[coord].Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer only.Close()
	waitOffsets(ctx, t, kadm.NewClient(only), gid, topic, ends)
	t.Logf("restarted node %d serves the group's offsets", coord)
	ts = time.Now()
	c.stop(int(next))
	waitOffsets(ctx, t, kadm.NewClient(c.client()), gid, topic, ends)
	third := oneCoordinator(ctx, t, c, gid)
	gc.committedBelow, gc.again = 2*nRound, 0
	produce(2 * nRound)
	gc.consumeUntil(ctx, 3*nRound, ends)
	if gc.redelivered > 0 {
		t.Errorf("%d records committed before the second failover were delivered again", gc.redelivered)
	}
	t.Logf("round 3 (coordinator node %d, node %d restarted) consumed and committed %v after the second stop (%d delivered again); total %v",
		third, coord, time.Since(ts), gc.again, time.Since(t0))
}

// groupConsumer is one member of a consumer group that commits what it
// has polled after every poll.
type groupConsumer struct {
	t            *testing.T
	c            *testCluster
	group, topic string
	cl           *kgo.Client
	seen         map[string]int // record value → times delivered
	// Records with values below committedBelow were committed (and the
	// commit read back); delivering one again means the group lost its
	// offsets. Others may come again after a rebalance (at least once).
	committedBelow int
	redelivered    int // deliveries again of records below committedBelow
	again          int // deliveries again of any record
}

func (g *groupConsumer) open() {
	g.cl = g.c.client(kgo.ConsumerGroup(g.group), kgo.ConsumeTopics(g.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(300*time.Millisecond))
}

// consumeUntil polls and commits until n distinct records were seen and
// the group's committed offsets are ends.
func (g *groupConsumer) consumeUntil(ctx context.Context, n int, ends map[int32]int64) {
	g.t.Helper()
	adm := kadm.NewClient(g.cl)
	var lastErr error
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := g.cl.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			if g.seen[string(r.Value)] > 0 {
				g.again++
				if v, _ := strconv.Atoi(string(r.Value)); v < g.committedBelow {
					g.redelivered++
				}
			}
			g.seen[string(r.Value)]++
		})
		if err := g.cl.CommitUncommittedOffsets(ctx); err != nil {
			lastErr = err // retried after the next poll: the group may be moving
			continue
		}
		if len(g.seen) < n {
			continue
		}
		got, err := committed(ctx, adm, g.group, g.topic)
		if err == nil && maps.Equal(got, ends) {
			return
		}
		lastErr = errors.Join(err, fmt.Errorf("committed %v, want %v", got, ends))
	}
	g.t.Fatalf("group %s: %d of %d records seen: %v (last: %v)", g.group, len(g.seen), n, ctx.Err(), lastErr)
}

// coordinator is the group's coordinator as FindCoordinator answers.
func (g *groupConsumer) coordinator(ctx context.Context, adm *kadm.Client) int32 {
	g.t.Helper()
	r := adm.FindGroupCoordinators(ctx, g.group)[g.group]
	if r.Err != nil {
		g.t.Fatalf("find coordinator: %v", r.Err)
	}
	return r.NodeID
}

// committed reads a group's committed offsets of one topic.
func committed(ctx context.Context, adm *kadm.Client, gid, topic string) (map[int32]int64, error) {
	os, err := adm.FetchOffsets(ctx, gid)
	if err != nil {
		return nil, err
	}
	if err := os.Error(); err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p, o := range os[topic] {
		out[p] = o.At
	}
	return out, nil
}

// waitOffsets polls until the group's committed offsets read as want.
func waitOffsets(ctx context.Context, t *testing.T, adm *kadm.Client, gid, topic string, want map[int32]int64) {
	t.Helper()
	var got map[int32]int64
	var err error
	for ctx.Err() == nil {
		if got, err = committed(ctx, adm, gid, topic); err == nil && maps.Equal(got, want) {
			return
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	t.Fatalf("committed offsets of %s: %v (%v), want %v", gid, got, err, want)
}

// oneCoordinator polls until every running node names the same running
// node as the group's coordinator (FindCoordinator sent to each), that
// node serves the group (an OffsetFetch sent to it answers) and every
// other answers NOT_COORDINATOR; it returns that node.
func oneCoordinator(ctx context.Context, t *testing.T, c *testCluster, gid string) int32 {
	t.Helper()
	cl := c.client()
	var last string
	for ctx.Err() == nil {
		var named, serving []int32
		var errs []string
		for i, b := range c.brokers {
			if b == nil {
				continue
			}
			// kgo sends each request at the highest version both
			// sides support: fill in both the old and the new forms.
			fc := kmsg.NewPtrFindCoordinatorRequest()
			fc.CoordinatorKey, fc.CoordinatorKeys = gid, []string{gid}
			fresp, err := fc.RequestWith(ctx, cl.Broker(i))
			if err == nil {
				node, code := fresp.NodeID, fresp.ErrorCode
				if len(fresp.Coordinators) == 1 {
					node, code = fresp.Coordinators[0].NodeID, fresp.Coordinators[0].ErrorCode
				}
				if err = kerr.ErrorForCode(code); err == nil {
					named = append(named, node)
				}
			}
			if err != nil {
				errs = append(errs, fmt.Sprintf("node %d: find coordinator: %v", i, err))
			}
			of := kmsg.NewPtrOffsetFetchRequest()
			of.Group = gid
			og := kmsg.NewOffsetFetchRequestGroup()
			og.Group = gid
			of.Groups = []kmsg.OffsetFetchRequestGroup{og}
			oresp, err := of.RequestWith(ctx, cl.Broker(i))
			var code int16
			if err == nil {
				code = oresp.ErrorCode
				if len(oresp.Groups) == 1 {
					code = oresp.Groups[0].ErrorCode
				}
			}
			switch {
			case err != nil:
				errs = append(errs, fmt.Sprintf("node %d: offset fetch: %v", i, err))
			case code == 0:
				serving = append(serving, int32(i))
			case code != kerr.NotCoordinator.Code:
				errs = append(errs, fmt.Sprintf("node %d: offset fetch: %v", i, kerr.ErrorForCode(code)))
			}
		}
		if len(errs) == 0 && len(serving) == 1 && slices.Min(named) == serving[0] && slices.Max(named) == serving[0] {
			return serving[0]
		}
		last = fmt.Sprintf("named %v, serving %v, errors %v", named, serving, errs)
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	t.Fatalf("no single coordinator for %s: %s\n%s", gid, last, offsetsReplicas(c, group.PartitionFor(gid, 16)))
	return -1
}

// offsetsReplicas describes each running node's replica of a partition
// of __consumer_offsets, as its admin API shows it (for failures).
func offsetsReplicas(c *testCluster, p int32) string {
	var out string
	for i, b := range c.brokers {
		if b == nil {
			continue
		}
		body := "?"
		resp, err := http.Get(fmt.Sprintf("http://%s/v1/partitions/kafka/__consumer_offsets/%d", b.AdminAddr(), p))
		if err == nil {
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(raw)
		}
		out += fmt.Sprintf("node %d: %s %v\n", i, body, err)
	}
	return out
}
