package cluster

import (
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Decommissioning a broker, as the admin API drives it:
//
//	propose SetBrokerDraining{id, true}
//	for each cmd of tables.PlanDecommission(id): propose cmd
//	poll tables.DecommissionStatus(id) until Partitions == 0
//
// Recommissioning: SetBrokerDraining{id, false}, then the commands of
// PlanRecommission(id), which cancel the moves still taking replicas off
// the broker.

// PlanDecommission plans moving every replica off broker id: for each
// partition with id among its replicas or its move's target, a Target
// that replaces id (in its place, so a preferred leader's replacement is
// the new preferred leader) by a registered, non-draining broker outside
// the set. The replacement is the broker holding the fewest replicas
// (counting moves as where they go, and the replicas this plan already
// gave), preferring a rack the rest of the set does not use, ties going
// around a ring of broker ids that starts at a place derived from the
// topic id and partition. One command per topic, by topic name; nil when
// nothing is on the broker.
//
// Errors: ErrUnknownBroker; ErrNoReplacementBroker (e.g. 3 brokers and a
// partition with 3 replicas) naming the first partition that cannot move.
func (t *Tables) PlanDecommission(id model.NodeID) ([]*AlterReassignments, error) {
	if _, ok := t.brokers[id]; !ok {
		return nil, fmt.Errorf("%w: broker %d is not registered", ErrUnknownBroker, id)
	}
	brokers := t.brokerIDs()
	_, holds := t.loads(brokers)
	racks := make([]string, len(brokers))
	for i, b := range brokers {
		racks[i] = t.brokers[b].Rack
	}
	// used: brokers that cannot take the replica; others: the rest of
	// the set, whose racks a replacement should not repeat.
	used, others := make([]bool, len(brokers)), make([]bool, len(brokers))
	var out []*AlterReassignments
	for _, tp := range t.Topics() {
		var cmd *AlterReassignments
		for _, p := range tp.Partitions {
			set := p.Effective()
			at := slices.Index(set, id)
			if at < 0 {
				continue // not on the broker, or already moving off it
			}
			for i, b := range brokers {
				used[i] = slices.Contains(set, b) || t.brokers[b].Draining
				others[i] = slices.Contains(set, b) && b != id
			}
			h := fnv.New32a()
			h.Write(tp.ID[:])
			first := int((h.Sum32() + uint32(p.ID)) % uint32(len(brokers)))
			best := pick(len(brokers), first, func(i, best int) bool {
				ni, nb := newRack(racks, others, i), newRack(racks, others, best)
				return ni && !nb || ni == nb && holds[i] < holds[best]
			}, used)
			if best < 0 {
				return nil, fmt.Errorf("%w: broker %d: topic %q partition %d has replicas %v and no other registered broker that is not draining can take broker %d's replica (%d brokers registered); add a broker or lower the partition's replication factor first",
					ErrNoReplacementBroker, id, tp.Name, p.ID, set, id, len(brokers))
			}
			target := slices.Clone(set)
			target[at] = brokers[best]
			holds[best]++
			if cmd == nil {
				cmd = &AlterReassignments{Topic: tp.ID}
				out = append(out, cmd)
			}
			cmd.Moves = append(cmd.Moves, Move{Partition: p.ID, Target: target})
		}
	}
	return out, nil
}

// PlanRecommission plans cancelling the moves that take replicas off
// broker id: those in progress whose Replicas include id and whose Target
// does not. One command per topic, by name; nil when there are none.
func (t *Tables) PlanRecommission(id model.NodeID) ([]*AlterReassignments, error) {
	if _, ok := t.brokers[id]; !ok {
		return nil, fmt.Errorf("%w: broker %d is not registered", ErrUnknownBroker, id)
	}
	var out []*AlterReassignments
	for _, tp := range t.Topics() {
		var cmd *AlterReassignments
		for _, p := range tp.Partitions {
			if p.Target == nil || !slices.Contains(p.Replicas, id) || slices.Contains(p.Target, id) {
				continue
			}
			if cmd == nil {
				cmd = &AlterReassignments{Topic: tp.ID}
				out = append(out, cmd)
			}
			cmd.Moves = append(cmd.Moves, Move{Partition: p.ID})
		}
	}
	return out, nil
}

// PartitionRef names a partition.
type PartitionRef struct {
	Topic     string
	Partition model.PartitionID
}

// DecommissionStatus is how far a broker's decommission has come.
type DecommissionStatus struct {
	NodeID   model.NodeID
	Draining bool
	// Partitions counts the partitions with a replica on the broker, now
	// or in their move's target; Listed names the first
	// MaxListedPartitions of them (by topic name, then partition).
	Partitions int
	Listed     []PartitionRef
	// Moving counts those of them with a move in progress.
	Moving int
}

// Done reports whether the broker is draining and holds nothing.
func (s DecommissionStatus) Done() bool { return s.Draining && s.Partitions == 0 }

// MaxListedPartitions bounds DecommissionStatus.Listed.
const MaxListedPartitions = 128

// DecommissionStatus reports broker id's decommission: whether it is
// draining and the partitions still on it. Error: ErrUnknownBroker.
func (t *Tables) DecommissionStatus(id model.NodeID) (DecommissionStatus, error) {
	b, ok := t.brokers[id]
	if !ok {
		return DecommissionStatus{}, fmt.Errorf("%w: broker %d is not registered", ErrUnknownBroker, id)
	}
	st := DecommissionStatus{NodeID: id, Draining: b.Draining}
	for _, tp := range t.Topics() {
		for _, p := range tp.Partitions {
			if !slices.Contains(p.Replicas, id) && !slices.Contains(p.Target, id) {
				continue
			}
			st.Partitions++
			if p.Target != nil {
				st.Moving++
			}
			if len(st.Listed) < MaxListedPartitions {
				st.Listed = append(st.Listed, PartitionRef{Topic: tp.Name, Partition: p.ID})
			}
		}
	}
	return st, nil
}
