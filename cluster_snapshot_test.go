package petrel_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel"
)

// controllerRaft is the part of GET /v1/debug/controller/raft this test reads.
type controllerRaft struct {
	State         string `json:"state"`
	Commit        uint64 `json:"commit"`
	Applied       uint64 `json:"applied"`
	FirstIndex    uint64 `json:"first_index"`
	SnapshotIndex uint64 `json:"snapshot_index"`
}

func (c *testCluster) controllerRaft(ctx context.Context, i int) (controllerRaft, error) {
	var st controllerRaft
	err := getJSON(ctx, fmt.Sprintf("http://%s/v1/debug/controller/raft", c.brokers[i].AdminAddr()), &st)
	return st, err
}

// topicsOn is how many topics node i's own Metadata answer lists (a
// client that knows only node i and never learns other brokers' answers).
func (c *testCluster) topicsOn(ctx context.Context, i int) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafka[i]))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	resp, err := cl.Request(ctx, kmsg.NewPtrMetadataRequest())
	if err != nil {
		return 0, err
	}
	return len(resp.(*kmsg.MetadataResponse).Topics), nil
}

// TestClusterControllerSnapshot: the controller snapshots its state every
// few entries and compacts its log; a node that was down while the log
// moved past it catches up from a snapshot sent by the leader, a
// restarted node rebuilds its state from its own snapshot and the
// entries after it, and a node joining later (a learner) starts from a
// snapshot too. Every node then lists every topic.
func TestClusterControllerSnapshot(t *testing.T) {
	const every = 10
	c := startClusterWith(t, 3, func(cfg *petrel.Config) { cfg.ControllerSnapshotEvery = every })
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cl := c.client(kgo.MetadataMinAge(100 * time.Millisecond))
	adm := kadm.NewClient(cl)

	c.stop(2)
	const topics = 40
	for i := range topics {
		name := fmt.Sprintf("snap-%02d", i)
		if res, err := adm.CreateTopics(ctx, 1, 3, nil, name); err != nil || res.Error() != nil {
			t.Fatalf("create %s: %v %v", name, err, res.Error())
		}
	}
	var compacted controllerRaft
	for _, i := range []int{0, 1} {
		st, err := c.controllerRaft(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if st.SnapshotIndex < topics || st.FirstIndex <= 1 || st.FirstIndex > st.SnapshotIndex+1 {
			t.Fatalf("node %d after %d topics (snapshots every %d entries): %+v: no snapshot or log not compacted", i, topics, every, st)
		}
		compacted = st
	}
	t.Logf("controller on nodes 0 and 1: log from %d, snapshot at %d, commit %d", compacted.FirstIndex, compacted.SnapshotIndex, compacted.Commit)

	// Node 2 stopped before the first of these topics; its next entry is
	// gone from the leader's log: only a snapshot brings it up to date.
	c.restart(2)
	waitFor(ctx, t, "node 2 installs the controller's snapshot and lists every topic", func() (bool, string) {
		st, err := c.controllerRaft(ctx, 2)
		if err != nil {
			return false, err.Error()
		}
		n, err := c.topicsOn(ctx, 2)
		if err != nil {
			return false, err.Error()
		}
		return st.SnapshotIndex >= compacted.FirstIndex && n >= topics, fmt.Sprintf("%+v, %d topics", st, n)
	})
	const n = 50
	produceN(ctx, t, cl, "snap-39", 0, n)
	if seen := consumeAll(ctx, t, c, "snap-39", n); len(seen) != n {
		t.Fatalf("read %d distinct records, want %d", len(seen), n)
	}

	// A restart rebuilds the state from the node's own snapshot.
	c.stop(0)
	c.restart(0)
	waitFor(ctx, t, "node 0 lists every topic after a restart", func() (bool, string) {
		n, err := c.topicsOn(ctx, 0)
		if err != nil {
			return false, err.Error()
		}
		return n >= topics, fmt.Sprintf("%d topics", n)
	})

	// A node joining now gets the controller's state as a snapshot.
	joined := c.addNode(ctx)
	waitFor(ctx, t, "the joined node lists every topic", func() (bool, string) {
		st, err := c.controllerRaft(ctx, joined)
		if err != nil {
			return false, err.Error()
		}
		n, err := c.topicsOn(ctx, joined)
		if err != nil {
			return false, err.Error()
		}
		return st.SnapshotIndex > 0 && n >= topics, fmt.Sprintf("%+v, %d topics", st, n)
	})
}

// waitFor polls cond every 50 ms until it holds, failing the test with
// its last report when ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	last := ""
	for ctx.Err() == nil {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not before the deadline; last: %s", what, last)
}

// TestClusterFollowerBehindRetention: a replica that was down while
// retention removed the leader's oldest segments cannot catch up from the
// log (its next entry is gone): it gets a snapshot of the partition's
// metadata, restarts its log at the leader's log start and takes the
// entries after it. Made leader, it serves every record from there on.
func TestClusterFollowerBehindRetention(t *testing.T) {
	c := startClusterWith(t, 3, func(cfg *petrel.Config) { cfg.RetentionCheckInterval = 50 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cl := c.client(kgo.MetadataMinAge(100*time.Millisecond), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic("behind"))
	adm := kadm.NewClient(cl)
	createAssigned(ctx, t, cl, "behind", 0, 1, 2) // node 0 is the preferred leader
	one := "1048576"
	if res, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "segment.bytes", Value: &one},
		{Name: "retention.bytes", Value: &one}}, "behind"); err != nil || res[0].Err != nil {
		t.Fatalf("alter configs: %v %v", err, res)
	}
	c.stop(0)
	val := bytes.Repeat([]byte("r"), 16<<10)
	const n = 256 // 4 MiB: retention keeps about the last MiB
	for range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: val}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var start0 int64
	waitFor(ctx, t, "retention moves the log start", func() (bool, string) {
		starts, err := adm.ListStartOffsets(ctx, "behind")
		if err != nil {
			return false, err.Error()
		}
		o, _ := starts.Lookup("behind", 0)
		start0 = o.Offset
		return start0 > 0, fmt.Sprintf("start %d", start0)
	})
	c.restart(0)
	var st struct {
		SnapshotIndex uint64 `json:"snapshot_index"`
		HighWatermark int64  `json:"high_watermark"`
		FirstIndex    uint64 `json:"first_index"`
	}
	url := fmt.Sprintf("http://%s/v1/debug/partitions/kafka/behind/0/raft", c.brokers[0].AdminAddr())
	waitFor(ctx, t, "node 0 installs a snapshot and catches up", func() (bool, string) {
		if err := getJSON(ctx, url, &st); err != nil {
			return false, err.Error()
		}
		return st.SnapshotIndex > 0 && st.HighWatermark == n, fmt.Sprintf("%+v", st)
	})
	t.Logf("node 0: snapshot at index %d, log from index %d, high watermark %d (the leader's log start was %d)",
		st.SnapshotIndex, st.FirstIndex, st.HighWatermark, start0)
	waitFor(ctx, t, "node 0 leads again", func() (bool, string) {
		if _, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{"behind": {0: {}}}); err != nil {
			return false, err.Error()
		}
		md, err := adm.Metadata(ctx, "behind")
		if err != nil {
			return false, err.Error()
		}
		l := md.Topics["behind"].Partitions[0].Leader
		return l == 0, fmt.Sprintf("leader %d", l)
	})
	const more = 10
	for range more {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: val}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	starts, err := adm.ListStartOffsets(ctx, "behind")
	if err != nil {
		t.Fatal(err)
	}
	so, _ := starts.Lookup("behind", 0)
	cons := c.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"behind": {0: kgo.NewOffset().AtStart()}}))
	next := int64(-1)
	for next != n+more {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read up to %d of %d: %v", next, n+more, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			switch {
			case next < 0 && r.Offset < so.Offset:
				t.Fatalf("first record read at %d, below the log start %d", r.Offset, so.Offset)
			case next >= 0 && r.Offset != next:
				t.Fatalf("record at %d after %d", r.Offset, next-1)
			case !bytes.Equal(r.Value, val):
				t.Fatalf("record %d: %d bytes, not the ones written", r.Offset, len(r.Value))
			}
			next = r.Offset + 1
		})
	}
}
