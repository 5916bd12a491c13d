package kafka

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
)

// stateBroker is the fake cluster with a real controller state behind
// it: Propose applies the command at the next index and Tables shows the
// result. proposeErr, when set, fails every proposal instead.
type stateBroker struct {
	*fakeBroker
	mu         sync.Mutex
	s          *cluster.State
	index      model.Index
	proposed   []cluster.Command
	proposeErr error
}

// newStateBroker rebuilds the fake cluster's tables as a State.
func newStateBroker(t *testing.T) *stateBroker {
	t.Helper()
	f := newFakeCluster(t)
	sb := &stateBroker{fakeBroker: f, s: cluster.NewState()}
	for _, b := range f.tables.Brokers() {
		sb.apply(t, &cluster.RegisterBroker{NodeID: b.NodeID, KafkaAddr: b.KafkaAddr, RPCAddr: b.RPCAddr, Rack: b.Rack})
	}
	for _, tp := range f.tables.Topics() {
		c := &cluster.CreateTopic{Name: tp.Name, ID: tp.ID, Partitions: int32(len(tp.Partitions)), ReplicationFactor: tp.ReplicationFactor}
		for _, p := range tp.Partitions {
			c.Assignment = append(c.Assignment, p.Replicas)
		}
		sb.apply(t, c)
	}
	return sb
}

func (sb *stateBroker) apply(t *testing.T, c cluster.Command) cluster.Result {
	t.Helper()
	res, err := sb.Propose(context.Background(), c)
	if err != nil {
		t.Fatalf("apply %T: %v", c, err)
	}
	return res
}

func (sb *stateBroker) Tables() *cluster.Tables {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.s.Tables()
}

func (sb *stateBroker) Propose(_ context.Context, c cluster.Command) (cluster.Result, error) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.proposeErr != nil {
		return cluster.Result{}, sb.proposeErr
	}
	sb.proposed = append(sb.proposed, c)
	sb.index++
	return sb.s.Apply(sb.index, c)
}

// target reads a partition's Target from the tables.
func (sb *stateBroker) target(topic string, p int) []model.NodeID {
	tp, _ := sb.Tables().TopicByName(topic)
	return tp.Partitions[p].Target
}

type reassignPart struct {
	p        int32
	replicas []int32 // nil: cancel
}

func reassignReq(v int16, topic string, parts ...reassignPart) *kmsg.AlterPartitionAssignmentsRequest {
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.Version = v
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = topic
	for _, p := range parts {
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition, rp.Replicas = p.p, p.replicas
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// codes formats a response's partitions as "p:CODE" (OK for 0).
func codes(resp *kmsg.AlterPartitionAssignmentsResponse) []string {
	var out []string
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			name := "OK"
			if p.ErrorCode != 0 {
				name = kerr.ErrorForCode(p.ErrorCode).(*kerr.Error).Message
			}
			out = append(out, fmt.Sprintf("%s/%d:%s", t.Topic, p.Partition, name))
		}
	}
	return out
}

// The fake cluster's topic t: p0 [2 1], p1 [3 2], p2 [1 3], p3 [1 2].
func TestAlterPartitionReassignments(t *testing.T) {
	for v := int16(0); v <= 1; v++ {
		sb := newStateBroker(t)
		api := alterPartitionReassignmentsAPI(sb)
		req := reassignReq(v, "t",
			reassignPart{0, []int32{3, 1}},
			reassignPart{1, nil},
			reassignPart{2, []int32{1, 1}},
			reassignPart{9, []int32{1}},
			reassignPart{3, []int32{1, 2}},
			reassignPart{2, []int32{9, 3}},
		)
		req.Version = v
		req.AllowReplicationFactorChange = true
		nope := kmsg.NewAlterPartitionAssignmentsRequestTopic()
		nope.Topic = "nope"
		nope.Partitions = []kmsg.AlterPartitionAssignmentsRequestTopicPartition{{Partition: 0, Replicas: []int32{1}}}
		req.Topics = append(req.Topics, nope)
		resp := call[*kmsg.AlterPartitionAssignmentsResponse](t, api, req)
		want := []string{"t/0:OK", "t/1:NO_REASSIGNMENT_IN_PROGRESS", "t/2:INVALID_REQUEST", "t/9:UNKNOWN_TOPIC_OR_PARTITION",
			"t/3:OK", "t/2:INVALID_REQUEST", "nope/0:UNKNOWN_TOPIC_OR_PARTITION"}
		if got := codes(resp); !slices.Equal(got, want) || resp.ErrorCode != 0 {
			t.Errorf("v%d: %q (top %d), want %q", v, got, resp.ErrorCode, want)
		}
		if got := sb.target("t", 0); !slices.Equal(got, []model.NodeID{3, 1}) {
			t.Errorf("v%d: p0 target %v", v, got)
		}
		if got := sb.target("t", 3); got != nil {
			t.Errorf("v%d: p3 (same replicas) target %v", v, got)
		}
		// One command for the topic, only the moves that passed the checks.
		if len(sb.proposed) != 1+3+2 { // setup: 3 brokers, 2 topics
			t.Fatalf("v%d: %d proposals", v, len(sb.proposed))
		}
		last := sb.proposed[len(sb.proposed)-1].(*cluster.AlterReassignments)
		if last.Topic != fakeTopicID || len(last.Moves) != 2 || last.Moves[0].Partition != 0 || last.Moves[1].Partition != 3 {
			t.Errorf("v%d: proposed %+v", v, last)
		}

		// Bad targets; a changed factor when the request forbids it (v1).
		req = reassignReq(v, "t", reassignPart{1, []int32{3, 9}}, reassignPart{2, []int32{}}, reassignPart{3, []int32{2, 1, 3}})
		req.AllowReplicationFactorChange = false
		resp = call[*kmsg.AlterPartitionAssignmentsResponse](t, api, req)
		want = []string{"t/1:INVALID_REPLICA_ASSIGNMENT", "t/2:INVALID_REPLICA_ASSIGNMENT", "t/3:INVALID_REPLICATION_FACTOR"}
		if v == 0 {
			want[2] = "t/3:OK" // v0 always allows it
		}
		if got := codes(resp); !slices.Equal(got, want) {
			t.Errorf("v%d: %q, want %q", v, got, want)
		}
		if v == 1 && resp.AllowReplicationFactorChange {
			t.Errorf("v1: AllowReplicationFactorChange not echoed")
		}

		// Cancelling p0's move sets its target back to its replicas.
		resp = call[*kmsg.AlterPartitionAssignmentsResponse](t, api, reassignReq(v, "t", reassignPart{0, nil}))
		if got := codes(resp); !slices.Equal(got, []string{"t/0:OK"}) {
			t.Errorf("v%d: cancel %q", v, got)
		}
		if got := sb.target("t", 0); !slices.Equal(got, []model.NodeID{2, 1}) {
			t.Errorf("v%d: p0 target after cancel %v", v, got)
		}
	}
}

func TestAlterPartitionReassignmentsProposeFails(t *testing.T) {
	sb := newStateBroker(t)
	sb.proposeErr = fmt.Errorf("waiting: %w", context.DeadlineExceeded)
	resp := call[*kmsg.AlterPartitionAssignmentsResponse](t, alterPartitionReassignmentsAPI(sb),
		reassignReq(1, "t", reassignPart{0, []int32{3, 1}}, reassignPart{1, []int32{9}}))
	want := []string{"t/0:REQUEST_TIMED_OUT", "t/1:INVALID_REPLICA_ASSIGNMENT"}
	if got := codes(resp); !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
	// A topic deleted between the read and the apply is unknown.
	sb.proposeErr = fmt.Errorf("x: %w", cluster.ErrUnknownTopicID)
	resp = call[*kmsg.AlterPartitionAssignmentsResponse](t, alterPartitionReassignmentsAPI(sb), reassignReq(0, "t", reassignPart{0, []int32{3, 1}}))
	if got := codes(resp); !slices.Equal(got, []string{"t/0:UNKNOWN_TOPIC_OR_PARTITION"}) {
		t.Errorf("deleted topic: %q", got)
	}
}

func TestListPartitionReassignments(t *testing.T) {
	sb := newStateBroker(t)
	api := listPartitionReassignmentsAPI(sb)
	list := func(topics []kmsg.ListPartitionReassignmentsRequestTopic) string {
		req := kmsg.NewPtrListPartitionReassignmentsRequest()
		req.Topics = topics
		resp := call[*kmsg.ListPartitionReassignmentsResponse](t, api, req)
		var b strings.Builder
		for _, tp := range resp.Topics {
			for _, p := range tp.Partitions {
				fmt.Fprintf(&b, "%s/%d replicas=%v adding=%v removing=%v;", tp.Topic, p.Partition, p.Replicas, p.AddingReplicas, p.RemovingReplicas)
			}
		}
		return b.String() + fmt.Sprintf("code=%d", resp.ErrorCode)
	}
	if got := list(nil); got != "code=0" {
		t.Fatalf("nothing moving: %s", got)
	}
	sb.apply(t, &cluster.AlterReassignments{Topic: fakeTopicID, Moves: []cluster.Move{
		{Partition: 0, Target: []model.NodeID{3, 1}}, {Partition: 2, Target: []model.NodeID{1, 3, 2}},
	}})
	sb.apply(t, &cluster.AlterReassignments{Topic: fakeOffsetsID, Moves: []cluster.Move{{Partition: 1, Target: []model.NodeID{1}}}})
	want := "__consumer_offsets/1 replicas=[2 3 1] adding=[1] removing=[2 3];" +
		"t/0 replicas=[2 1 3] adding=[3] removing=[2];t/2 replicas=[1 3 2] adding=[2] removing=[];code=0"
	if got := list(nil); got != want {
		t.Errorf("all:\n got %s\nwant %s", got, want)
	}
	named := []kmsg.ListPartitionReassignmentsRequestTopic{
		{Topic: "t", Partitions: []int32{2, 1, 7, -1}}, {Topic: "nope", Partitions: []int32{0}},
	}
	if got, want := list(named), "t/2 replicas=[1 3 2] adding=[2] removing=[];code=0"; got != want {
		t.Errorf("named:\n got %s\nwant %s", got, want)
	}
	sb.apply(t, &cluster.CompleteReassignment{Topic: fakeTopicID, Partition: 2, Replicas: []model.NodeID{1, 3, 2}})
	if got, want := list(named), "code=0"; got != want {
		t.Errorf("after completion: %s", got)
	}
}
