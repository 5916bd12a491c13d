package petrel_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestClusterDeleteRecordsFailover: DeleteRecords moves the log start on
// every replica (it is a Raft entry), so a new leader keeps it; its answer
// comes once the move is committed.
func TestClusterDeleteRecordsFailover(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cl := c.client(kgo.MetadataMinAge(100*time.Millisecond), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	createAssigned(ctx, t, cl, "trimmed", 0, 1, 2)
	const n = 100
	produceN(ctx, t, cl, "trimmed", 0, n)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "trimmed", Partition: 0, At: 40})
	res, err := adm.DeleteRecords(ctx, offs)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := res.Lookup("trimmed", 0); r.Err != nil || r.LowWatermark != 40 {
		t.Fatalf("delete records: %+v", r)
	}
	// The leader (node 0, preferred) stops: a follower leads now.
	c.stop(0)
	waitFor(ctx, t, "a new leader keeps the log start", func() (bool, string) {
		starts, err := adm.ListStartOffsets(ctx, "trimmed")
		if err != nil {
			return false, err.Error()
		}
		o, ok := starts.Lookup("trimmed", 0)
		if !ok || o.Err != nil {
			return false, "no start yet"
		}
		if o.Offset != 40 {
			t.Fatalf("log start %d on the new leader, want 40", o.Offset)
		}
		return true, ""
	})
	// And after a restart of the old leader, which leads again.
	c.restart(0)
	waitFor(ctx, t, "node 0 leads again", func() (bool, string) {
		_, _ = adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{"trimmed": {0: {}}})
		starts, err := adm.ListStartOffsets(ctx, "trimmed")
		md, merr := adm.Metadata(ctx, "trimmed")
		if err != nil || merr != nil {
			return false, "metadata or offsets failing"
		}
		o, _ := starts.Lookup("trimmed", 0)
		if l := md.Topics["trimmed"].Partitions[0].Leader; l != 0 || o.Err != nil {
			return false, "leader not back"
		}
		if o.Offset != 40 {
			t.Fatalf("log start %d after node 0 came back, want 40", o.Offset)
		}
		return true, ""
	})
}
