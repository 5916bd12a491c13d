package cluster

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

// TestReassignKeepsPublishedTables: a view published before a move, a
// completion or a drain does not see it; the next view does.
func TestReassignKeepsPublishedTables(t *testing.T) {
	ps := newPlanState(t, 3)
	ps.create("t", 2, 2, 1)
	old := ps.s.Tables()
	oldTopic, _ := old.TopicByName("t")
	before := slices.Clone(oldTopic.Partitions[0].Replicas)
	target := []model.NodeID{3, before[0]}
	if slices.Contains(before, 3) {
		target = []model.NodeID{before[1], before[0]}
	}
	res := ps.apply(&AlterReassignments{Topic: testTopicID(1), Moves: []Move{{Partition: 0, Target: target}}})
	if len(res.Moves) != 1 || res.Moves[0].Err != nil {
		t.Fatalf("moves %+v", res.Moves)
	}
	mid := ps.s.Tables()
	ps.apply(&CompleteReassignment{Topic: testTopicID(1), Partition: 0, Replicas: target})
	ps.apply(&SetBrokerDraining{NodeID: 2, Draining: true})
	if p := oldTopic.Partitions[0]; p.Target != nil || p.Moved || !slices.Equal(p.Replicas, before) {
		t.Fatalf("published partition changed: %+v", p)
	}
	if b, _ := old.Broker(2); b.Draining {
		t.Fatal("published broker changed")
	}
	midTopic, _ := mid.TopicByName("t")
	if p := midTopic.Partitions[0]; !slices.Equal(p.Target, target) || p.Moved {
		t.Fatalf("view during the move: %+v", p)
	}
	cur, _ := ps.s.Tables().TopicByName("t")
	if p := cur.Partitions[0]; p.Target != nil || !p.Moved || !slices.Equal(p.Replicas, target) || p.Leader != target[0] {
		t.Fatalf("view after completion: %+v", p)
	}
	if b, _ := ps.s.Tables().Broker(2); !b.Draining {
		t.Fatal("broker 2 not draining")
	}
}

// TestCheckMovesAgreesWithApply: the frontend's per-move pre-check gives
// the codes Apply gives.
func TestCheckMovesAgreesWithApply(t *testing.T) {
	ps := newPlanState(t, 3)
	ps.create("t", 3, 2, 1)
	c := &AlterReassignments{Topic: testTopicID(1), Moves: []Move{
		{Partition: 0, Target: []model.NodeID{1, 2, 3}}, {Partition: 1}, {Partition: 2, Target: []model.NodeID{1, 1}}, {Partition: 9, Target: []model.NodeID{1}},
	}}
	errs, err := ps.s.Tables().CheckMoves(c)
	if err != nil {
		t.Fatal(err)
	}
	res := ps.apply(c)
	want := []error{nil, ErrNoReassignmentInProgress, ErrInvalidReplicaAssignment, ErrUnknownTopic}
	for i, w := range want {
		if ErrorCode(errs[i]) != ErrorCode(w) || ErrorCode(res.Moves[i].Err) != ErrorCode(w) || res.Moves[i].Partition != c.Moves[i].Partition {
			t.Errorf("move %d: check %v, apply %v, want %v", i, errs[i], res.Moves[i].Err, w)
		}
	}
	if _, err := ps.s.Tables().CheckMoves(&AlterReassignments{Topic: testTopicID(9), Moves: c.Moves}); !errors.Is(err, ErrUnknownTopicID) {
		t.Errorf("unknown topic: %v", err)
	}
}

// TestPlanDecommissionProperties: on random clusters, the plan takes every
// replica off the broker, keeps the set's order and size with the
// replacement where the broker was, picks only registered, non-draining
// brokers outside the set, and applies without error; a second plan
// finds nothing, and completing the moves empties the broker.
func TestPlanDecommissionProperties(t *testing.T) {
	seeds := 30
	if testing.Short() {
		seeds = 10
	}
	start := uint64(time.Now().UnixNano())
	for k := range seeds {
		seed := start + uint64(k)
		rng := rand.New(rand.NewPCG(seed, seed))
		n := 4 + rng.IntN(4)
		racks := make([]string, n)
		for i := range racks {
			if rng.IntN(2) == 0 {
				racks[i] = fmt.Sprintf("r%d", rng.IntN(3))
			}
		}
		ps := newPlanState(t, n, racks...)
		for i := range 1 + rng.IntN(4) {
			ps.create(fmt.Sprintf("t%d", i), int32(1+rng.IntN(12)), int16(1+rng.IntN(3)), i+1)
		}
		leaving := model.NodeID(1 + rng.IntN(n))
		ps.apply(&SetBrokerDraining{NodeID: leaving, Draining: true})
		tables := ps.s.Tables()
		cmds, err := tables.PlanDecommission(leaving)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for _, c := range cmds {
			tp, _ := tables.TopicByID(c.Topic)
			for _, m := range c.Moves {
				was := tp.Partitions[m.Partition].Replicas
				at := slices.Index(was, leaving)
				if at < 0 || len(m.Target) != len(was) {
					t.Fatalf("seed %d: %s/%d %v -> %v", seed, tp.Name, m.Partition, was, m.Target)
				}
				for i := range was {
					if i != at && m.Target[i] != was[i] {
						t.Fatalf("seed %d: %s/%d %v -> %v: order changed", seed, tp.Name, m.Partition, was, m.Target)
					}
				}
				if r := m.Target[at]; r == leaving || slices.Contains(was, r) {
					t.Fatalf("seed %d: %s/%d %v -> %v: bad replacement", seed, tp.Name, m.Partition, was, m.Target)
				}
			}
			res := ps.apply(c)
			for _, m := range res.Moves {
				if m.Err != nil {
					t.Fatalf("seed %d: apply: %v", seed, m.Err)
				}
			}
		}
		st, err := ps.s.Tables().DecommissionStatus(leaving)
		if err != nil || st.Moving != st.Partitions {
			t.Fatalf("seed %d: status %+v %v", seed, st, err)
		}
		if again, err := ps.s.Tables().PlanDecommission(leaving); err != nil || len(again) != 0 {
			t.Fatalf("seed %d: second plan %v %v", seed, again, err)
		}
		// Completing every move empties the broker.
		for _, tp := range ps.s.Tables().Topics() {
			for _, p := range tp.Partitions {
				if p.Target != nil {
					ps.apply(&CompleteReassignment{Topic: tp.ID, Partition: p.ID, Replicas: p.Target})
				}
			}
		}
		if st, _ := ps.s.Tables().DecommissionStatus(leaving); !st.Done() {
			t.Fatalf("seed %d: after completion %+v", seed, st)
		}
		if _, holds := ps.counts(); holds[leaving] != 0 {
			t.Fatalf("seed %d: broker %d still holds %d", seed, leaving, holds[leaving])
		}
	}
}

// TestSnapshotKeepsMoves: targets, moved flags and draining survive a
// snapshot, and a bad flag byte is corrupt.
func TestSnapshotKeepsMoves(t *testing.T) {
	ps := newPlanState(t, 3)
	ps.create("t", 2, 2, 1)
	tp, _ := ps.s.Tables().TopicByName("t")
	r0 := tp.Partitions[0].Replicas
	ps.apply(&AlterReassignments{Topic: tp.ID, Moves: []Move{{Partition: 0, Target: []model.NodeID{r0[1], r0[0]}}}})
	ps.apply(&CompleteReassignment{Topic: tp.ID, Partition: 0, Replicas: []model.NodeID{r0[1], r0[0]}})
	ps.apply(&AlterReassignments{Topic: tp.ID, Moves: []Move{{Partition: 1, Target: []model.NodeID{1, 2, 3}}}})
	ps.apply(&SetBrokerDraining{NodeID: 3, Draining: true})
	snap := ps.s.AppendSnapshot(nil)
	got, err := DecodeSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.AppendSnapshot(nil), snap) {
		t.Fatal("re-encoding differs")
	}
	gt, _ := got.Tables().TopicByName("t")
	if p := gt.Partitions[0]; !p.Moved || p.Target != nil || p.Leader != r0[1] {
		t.Errorf("p0 %+v", p)
	}
	if p := gt.Partitions[1]; p.Moved || !slices.Equal(p.Target, []model.NodeID{1, 2, 3}) {
		t.Errorf("p1 %+v", p)
	}
	if b, _ := got.Tables().Broker(3); !b.Draining {
		t.Error("broker 3 not draining")
	}
}
