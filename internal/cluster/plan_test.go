package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
)

// planState is a state with brokers 1..n registered (racks, when given,
// in order) and an applier that plans, validates and applies.
type planState struct {
	t     *testing.T
	s     *State
	index model.Index
}

func newPlanState(t *testing.T, n int, racks ...string) *planState {
	t.Helper()
	ps := &planState{t: t, s: NewState()}
	for i := range n {
		c := &RegisterBroker{NodeID: model.NodeID(i + 1), KafkaAddr: fmt.Sprintf("h%d:9092", i+1), RPCAddr: "h:2"}
		if i < len(racks) {
			c.Rack = racks[i]
		}
		ps.apply(c)
	}
	return ps
}

func (ps *planState) apply(c Command) Result {
	ps.t.Helper()
	ps.index++
	res, err := ps.s.Apply(ps.index, c)
	if err != nil {
		ps.t.Fatalf("apply %T: %v", c, err)
	}
	return res
}

func (ps *planState) create(name string, partitions int32, rf int16, id int) *CreateTopic {
	ps.t.Helper()
	c, err := ps.s.Tables().PlanCreateTopic(TopicRequest{Name: name, Partitions: partitions, ReplicationFactor: rf}, testTopicID(id), Defaults{})
	if err != nil {
		ps.t.Fatalf("plan %s: %v", name, err)
	}
	ps.apply(c)
	return c
}

// counts returns, per broker, the partitions it leads and holds over all
// topics, checking every partition's replicas are distinct.
func (ps *planState) counts() (leads, holds map[model.NodeID]int) {
	ps.t.Helper()
	leads, holds = map[model.NodeID]int{}, map[model.NodeID]int{}
	for _, b := range ps.s.Tables().Brokers() {
		leads[b.NodeID], holds[b.NodeID] = 0, 0
	}
	for _, tp := range ps.s.Tables().Topics() {
		for _, p := range tp.Partitions {
			for j, r := range p.Replicas {
				if slices.Contains(p.Replicas[:j], r) {
					ps.t.Fatalf("%s/%d: replicas %v repeat broker %d", tp.Name, p.ID, p.Replicas, r)
				}
				holds[r]++
			}
			leads[p.Replicas[0]]++
		}
	}
	return leads, holds
}

// spread is max - min of the counts.
func spread(m map[model.NodeID]int) int {
	lo, hi := -1, 0
	for _, v := range m {
		if lo < 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	return hi - lo
}

// TestPlaceEveryBrokerLeadsItsShare: 12 partitions over 3 brokers, each
// broker first replica of 4 and holder of 4 × the factor.
func TestPlaceEveryBrokerLeadsItsShare(t *testing.T) {
	for _, rf := range []int16{3, 2} {
		ps := newPlanState(t, 3)
		ps.create("t", 12, rf, 1)
		leads, holds := ps.counts()
		for id := model.NodeID(1); id <= 3; id++ {
			if leads[id] != 4 || holds[id] != 4*int(rf) {
				t.Errorf("rf %d: broker %d leads %d (want 4), holds %d (want %d)", rf, id, leads[id], holds[id], 4*rf)
			}
		}
	}
}

// TestPlaceCountsExistingTopics: single-partition topics, created one by
// one, do not pile up on one broker (a per-topic round robin would put
// each on whichever broker its id hashes to).
func TestPlaceCountsExistingTopics(t *testing.T) {
	ps := newPlanState(t, 3)
	for i := range 9 {
		ps.create(fmt.Sprintf("t%d", i), 1, 1, i+1)
	}
	leads, holds := ps.counts()
	for id := model.NodeID(1); id <= 3; id++ {
		if leads[id] != 3 || holds[id] != 3 {
			t.Errorf("broker %d: leads %d, holds %d; want 3 and 3", id, leads[id], holds[id])
		}
	}
	// A manual topic loads broker 1; the next planned topic avoids it.
	ps.apply(&CreateTopic{Name: "manual", ID: testTopicID(50), Partitions: 4, ReplicationFactor: 1,
		Assignment: [][]model.NodeID{{1}, {1}, {1}, {1}}})
	c := ps.create("after", 4, 1, 51)
	for p, r := range c.Assignment {
		if r[0] == 1 {
			t.Errorf("partition %d placed on broker 1, which already leads 7 partitions: %v", p, c.Assignment)
		}
	}
	if leads, _ := ps.counts(); leads[1] != 7 || leads[2] != 5 || leads[3] != 5 {
		t.Errorf("leads after the manual topic: %v, want 7, 5, 5", leads)
	}
}

func TestPlaceAddingPartitionsKeepsBalance(t *testing.T) {
	for _, rf := range []int16{1, 2, 3} {
		t.Run(fmt.Sprintf("rf%d", rf), func(t *testing.T) {
			ps := newPlanState(t, 3)
			ps.create("t", 5, rf, 1)
			for _, total := range []int32{7, 8, 12} {
				c, err := ps.s.Tables().PlanCreatePartitions("t", total, nil)
				if err != nil {
					t.Fatal(err)
				}
				ps.apply(c)
				leads, holds := ps.counts()
				if spread(leads) > 1 || spread(holds) > 1 {
					t.Fatalf("after growing to %d: leads %v holds %v", total, leads, holds)
				}
			}
			if leads, _ := ps.counts(); leads[1] != 4 || leads[2] != 4 || leads[3] != 4 {
				t.Errorf("12 partitions: leads %v, want 4 each", leads)
			}
		})
	}
}

func TestPlaceDeterministic(t *testing.T) {
	plan := func() [][]model.NodeID {
		ps := newPlanState(t, 5)
		ps.create("a", 7, 3, 1)
		c, err := ps.s.Tables().PlanCreateTopic(TopicRequest{Name: "b", Partitions: 11, ReplicationFactor: 2}, testTopicID(2), Defaults{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Assignment
	}
	a, b := plan(), plan()
	if !slices.EqualFunc(a, b, slices.Equal) {
		t.Fatalf("same tables, different plans:\n%v\n%v", a, b)
	}
}

// TestPlaceSpreadsRacks: with two racks of two brokers, every partition of
// factor 2 has a replica in each rack.
func TestPlaceSpreadsRacks(t *testing.T) {
	ps := newPlanState(t, 4, "a", "a", "b", "b")
	c := ps.create("t", 8, 2, 1)
	rack := map[model.NodeID]string{1: "a", 2: "a", 3: "b", 4: "b"}
	for p, r := range c.Assignment {
		if rack[r[0]] == rack[r[1]] {
			t.Errorf("partition %d: replicas %v both in rack %s", p, r, rack[r[0]])
		}
	}
	if leads, holds := ps.counts(); spread(leads) > 0 || spread(holds) > 0 {
		t.Errorf("leads %v holds %v", leads, holds)
	}
}

func TestPlanReplicationFactor(t *testing.T) {
	for _, tc := range []struct {
		brokers int
		rf      int16
		d       Defaults
		want    int16
		err     error
		msg     []string // substrings of the error message
	}{
		{brokers: 1, rf: -1, want: 1},
		{brokers: 2, rf: -1, want: 2},
		{brokers: 3, rf: -1, want: 3},
		{brokers: 5, rf: -1, want: 3},
		{brokers: 5, rf: -1, d: Defaults{ReplicationFactor: 1}, want: 1},
		{brokers: 5, rf: -1, d: Defaults{ReplicationFactor: 5}, want: 5},
		{brokers: 2, rf: -1, d: Defaults{ReplicationFactor: 3}, want: 2},
		{brokers: 3, rf: 3, want: 3},
		{brokers: 3, rf: 4, err: ErrInvalidReplicationFactor, msg: []string{"replication factor 4", "3 registered brokers"}},
		{brokers: 3, rf: 0, err: ErrInvalidReplicationFactor, msg: []string{"replication factor 0"}},
		{brokers: 3, rf: -2, err: ErrInvalidReplicationFactor, msg: []string{"replication factor -2"}},
		{brokers: 0, rf: -1, err: ErrInvalidReplicationFactor, msg: []string{"0 registered brokers"}},
	} {
		name := fmt.Sprintf("%d brokers rf %d default %d", tc.brokers, tc.rf, tc.d.ReplicationFactor)
		ps := newPlanState(t, tc.brokers)
		c, err := ps.s.Tables().PlanCreateTopic(TopicRequest{Name: "t", Partitions: 2, ReplicationFactor: tc.rf}, testTopicID(1), tc.d)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: got %v, want %v", name, err, tc.err)
				continue
			}
			for _, m := range tc.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%s: message %q lacks %q", name, err, m)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if c.ReplicationFactor != tc.want || len(c.Assignment[0]) != int(tc.want) {
			t.Errorf("%s: factor %d, assignment %v; want %d", name, c.ReplicationFactor, c.Assignment, tc.want)
		}
	}
}

func TestPlanManualAssignment(t *testing.T) {
	ps := newPlanState(t, 3)
	ps.create("t", 2, 2, 1)
	a := func(ps ...[]model.NodeID) [][]model.NodeID { return ps }
	for _, tc := range []struct {
		name   string
		create bool // CreateTopics, else CreatePartitions of t to 4
		assign [][]model.NodeID
		err    error
		msg    string
	}{
		{"ok", true, a([]model.NodeID{3, 1}, []model.NodeID{2, 3}), nil, ""},
		{"empty", true, a([]model.NodeID{}, []model.NodeID{}), ErrInvalidReplicaAssignment, "partition 0 has an empty replica list"},
		{"ragged", true, a([]model.NodeID{1, 2}, []model.NodeID{3}), ErrInvalidReplicaAssignment, "partition 1 has 1 replicas"},
		{"twice", true, a([]model.NodeID{1, 1}), ErrInvalidReplicaAssignment, "broker 1 more than once"},
		{"ghost", true, a([]model.NodeID{1, 7}), ErrInvalidReplicaAssignment, "broker 7, which is not registered"},
		{"grow ok", false, a([]model.NodeID{1, 3}, []model.NodeID{3, 2}), nil, ""},
		{"grow short", false, a([]model.NodeID{1, 3}), ErrInvalidReplicaAssignment, "2 partitions to place, 1 assigned"},
		{"grow factor", false, a([]model.NodeID{1, 3}, []model.NodeID{1, 2, 3}), ErrInvalidReplicaAssignment, "partition 3 has 3 replicas, not the replication factor 2"},
		{"grow twice", false, a([]model.NodeID{1, 3}, []model.NodeID{2, 2}), ErrInvalidReplicaAssignment, "partition 3 names broker 2 more than once"},
		{"grow ghost", false, a([]model.NodeID{0, 3}, []model.NodeID{1, 2}), ErrInvalidReplicaAssignment, "partition 2 names broker 0"},
	} {
		var err error
		var got [][]model.NodeID
		if tc.create {
			var c *CreateTopic
			c, err = ps.s.Tables().PlanCreateTopic(TopicRequest{Name: "m", Partitions: -1, ReplicationFactor: -1, Assignment: tc.assign}, testTopicID(9), Defaults{})
			if err == nil {
				got = c.Assignment
			}
		} else {
			var c *CreatePartitions
			c, err = ps.s.Tables().PlanCreatePartitions("t", 4, tc.assign)
			if err == nil {
				got = c.Assignment
			}
		}
		switch {
		case tc.err == nil && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err == nil && !slices.EqualFunc(got, tc.assign, slices.Equal):
			t.Errorf("%s: planned %v, asked %v", tc.name, got, tc.assign)
		case tc.err != nil && (!errors.Is(err, tc.err) || !strings.Contains(fmt.Sprint(err), tc.msg)):
			t.Errorf("%s: got %v, want %v with %q", tc.name, err, tc.err, tc.msg)
		}
	}
}
