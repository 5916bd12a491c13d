package cluster

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Defaults are the node settings a plan falls back to when a request says
// -1 ("the default").
type Defaults struct {
	Partitions int32 // num.partitions
	// ReplicationFactor is default.replication.factor, capped at the
	// registered brokers; 0 means DefaultReplicationFactor.
	ReplicationFactor int16
}

// DefaultReplicationFactor is the replication factor of a topic created
// with -1 when the node sets none: 3, or every registered broker when
// there are fewer (one on a single node).
const DefaultReplicationFactor = 3

// TopicRequest is a CreateTopics entry as a client sends it.
type TopicRequest struct {
	Name              string
	Partitions        int32            // -1: Defaults.Partitions
	ReplicationFactor int16            // -1: Defaults.ReplicationFactor
	Assignment        [][]model.NodeID // manual placement, or nil to let the plan place replicas
	Configs           map[string]string
}

// PlanCreateTopic is the frontend's half of creating a topic: it resolves
// defaults, places replicas when the request does not, and returns the
// command to propose, already validated against these tables. id is the
// new topic's random id, chosen by the caller (the plan reads no random
// source, so it is deterministic and testable).
//
// Placement (place) puts each partition's replicas on distinct brokers and
// balances leaders and replicas per broker over all topics. A manual
// assignment is checked as Kafka does (INVALID_REPLICA_ASSIGNMENT: an
// empty list, lists of different lengths, a broker twice or not
// registered); -1 replication takes Defaults.ReplicationFactor capped at
// the registered brokers.
func (t *Tables) PlanCreateTopic(req TopicRequest, id model.TopicID, d Defaults) (*CreateTopic, error) {
	c := &CreateTopic{Name: req.Name, ID: id, Partitions: req.Partitions, ReplicationFactor: req.ReplicationFactor, Configs: req.Configs}
	if len(req.Assignment) > 0 {
		// Kafka: with a manual assignment, count and factor must be -1.
		if req.Partitions != -1 || req.ReplicationFactor != -1 {
			return nil, fmt.Errorf("%w: topic %q: a replica assignment needs partitions and replication factor -1", ErrInvalidRequest, req.Name)
		}
		if len(req.Assignment) > MaxPartitionsPerTopic {
			return nil, fmt.Errorf("%w: topic %q: %d partitions: want 1 to %d", ErrInvalidPartitions, req.Name, len(req.Assignment), MaxPartitionsPerTopic)
		}
		// The first partition sets the factor the others must have; an
		// empty list is a bad assignment, not a bad factor.
		rf := len(req.Assignment[0])
		if err := t.checkAssignment(req.Name, req.Assignment, len(req.Assignment), 0, rf); err != nil {
			return nil, err
		}
		c.Partitions = int32(len(req.Assignment))
		c.ReplicationFactor = int16(min(rf, MaxReplicationFactor+1))
		c.Assignment = req.Assignment
		return c, t.Validate(c)
	}
	if c.Partitions == -1 {
		c.Partitions = d.Partitions
	}
	if c.ReplicationFactor == -1 {
		rf := int(d.ReplicationFactor)
		if rf < 1 {
			rf = DefaultReplicationFactor
		}
		c.ReplicationFactor = int16(max(1, min(rf, len(t.brokers))))
	}
	if err := t.validateCreateTopic(c); err != nil && !isAssignmentErr(err) {
		return nil, err
	}
	c.Assignment = t.place(int(c.Partitions), 0, int(c.ReplicationFactor), id)
	return c, t.Validate(c)
}

// PlanCreatePartitions is the frontend's half of CreatePartitions: it
// places the new partitions when assignment is nil and returns the command,
// validated. The topic is named by name, as CreatePartitions requests do.
func (t *Tables) PlanCreatePartitions(name string, newTotal int32, assignment [][]model.NodeID) (*CreatePartitions, error) {
	tp, ok := t.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w: topic %q", ErrUnknownTopic, name)
	}
	c := &CreatePartitions{ID: tp.ID, NewTotal: newTotal, Assignment: assignment}
	if assignment == nil {
		if err := t.checkPartitionCount(tp.Name, len(tp.Partitions), newTotal); err != nil {
			return nil, err
		}
		c.Assignment = t.place(int(newTotal), len(tp.Partitions), int(tp.ReplicationFactor), tp.ID)
	}
	return c, t.Validate(c)
}

// place assigns partitions [from, total) rf replicas each, on distinct
// registered brokers, balancing what every broker leads (first replica)
// and holds, counting the partitions of the existing topics:
//
//   - the leader of each new partition is the broker that leads the
//     fewest partitions, then holds the fewest replicas;
//   - each follower is the broker holding the fewest replicas, preferring
//     racks the partition does not use yet (when brokers have racks);
//   - ties go to the first broker in ring order (brokers sorted by id),
//     starting at an offset derived from id and moving one step per
//     partition for leaders, and just after the leader for followers, so
//     that on an empty cluster placement is Kafka's round robin and the
//     preferred leaders of many topics do not all land on one broker.
//
// The result depends only on the tables and the arguments. It returns nil
// when there are too few brokers (validation then reports it). Cost:
// O(existing partitions + new partitions × brokers × rf).
func (t *Tables) place(total, from, rf int, id model.TopicID) [][]model.NodeID {
	brokers := t.placeable(rf)
	n := len(brokers)
	if rf < 1 || rf > n || total <= from {
		return nil
	}
	leads, holds := t.loads(brokers)
	racks := make([]string, n)
	for i, b := range brokers {
		racks[i] = t.brokers[b].Rack
	}
	h := fnv.New32a()
	h.Write(id[:])
	start := int(h.Sum32() % uint32(n))
	out := make([][]model.NodeID, 0, total-from)
	used := make([]bool, n)
	for p := from; p < total; p++ {
		clear(used)
		leader := pick(n, (start+p)%n, func(i, best int) bool {
			return leads[i] < leads[best] || leads[i] == leads[best] && holds[i] < holds[best]
		}, used)
		replicas := append(make([]model.NodeID, 0, rf), brokers[leader])
		used[leader] = true
		leads[leader]++
		holds[leader]++
		for len(replicas) < rf {
			f := pick(n, (leader+1)%n, func(i, best int) bool {
				ni, nb := newRack(racks, used, i), newRack(racks, used, best)
				return ni && !nb || ni == nb && holds[i] < holds[best]
			}, used)
			replicas = append(replicas, brokers[f])
			used[f] = true
			holds[f]++
		}
		out = append(out, replicas)
	}
	return out
}

// placeable returns the brokers new replicas may go to, sorted: those
// not draining, or every registered broker when fewer than rf are not
// draining (validation then judges the factor against all of them).
func (t *Tables) placeable(rf int) []model.NodeID {
	all := t.brokerIDs()
	live := slices.DeleteFunc(slices.Clone(all), func(id model.NodeID) bool { return t.brokers[id].Draining })
	if len(live) < rf {
		return all
	}
	return live
}

// pick returns the unused broker index that less prefers over every
// other, scanning the ring from first (so ties go to the earliest).
func pick(n, first int, less func(i, best int) bool, used []bool) int {
	best := -1
	for k := range n {
		i := (first + k) % n
		if used[i] {
			continue
		}
		if best < 0 || less(i, best) {
			best = i
		}
	}
	return best
}

// newRack reports whether broker i has a rack that none of the used
// brokers has (false when it has none).
func newRack(racks []string, used []bool, i int) bool {
	if racks[i] == "" {
		return false
	}
	for j, u := range used {
		if u && racks[j] == racks[i] {
			return false
		}
	}
	return true
}

// loads counts, per broker of brokers (sorted ids), the partitions of
// existing topics it leads (first replica) and holds, counting a moving
// partition's target (where it will be) rather than its replicas.
func (t *Tables) loads(brokers []model.NodeID) (leads, holds []int) {
	leads, holds = make([]int, len(brokers)), make([]int, len(brokers))
	index := func(id model.NodeID) int {
		i, ok := slices.BinarySearch(brokers, id)
		if !ok {
			return -1
		}
		return i
	}
	for _, tp := range t.topics {
		for _, p := range tp.Partitions {
			for j, r := range p.Effective() {
				if i := index(r); i >= 0 {
					holds[i]++
					if j == 0 {
						leads[i]++
					}
				}
			}
		}
	}
	return leads, holds
}

func isAssignmentErr(err error) bool { return errors.Is(err, ErrInvalidReplicaAssignment) }
