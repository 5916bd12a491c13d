package cluster

import (
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Defaults are the node settings a plan falls back to when a request says
// -1 ("the default").
type Defaults struct {
	Partitions        int32 // num.partitions
	ReplicationFactor int16 // default.replication.factor; capped at the registered brokers
}

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
// Placement spreads partitions over the brokers sorted by id, starting at
// an offset derived from the topic id, so the preferred leaders of many
// topics do not all land on the lowest broker.
func (t *Tables) PlanCreateTopic(req TopicRequest, id model.TopicID, d Defaults) (*CreateTopic, error) {
	c := &CreateTopic{Name: req.Name, ID: id, Partitions: req.Partitions, ReplicationFactor: req.ReplicationFactor, Configs: req.Configs}
	if len(req.Assignment) > 0 {
		// Kafka: with a manual assignment, count and factor must be -1.
		if req.Partitions != -1 || req.ReplicationFactor != -1 {
			return nil, fmt.Errorf("%w: topic %q: a replica assignment needs partitions and replication factor -1", ErrInvalidRequest, req.Name)
		}
		c.Partitions = int32(min(len(req.Assignment), MaxPartitionsPerTopic+1))
		c.ReplicationFactor = int16(min(len(req.Assignment[0]), MaxReplicationFactor+1))
		c.Assignment = req.Assignment
		return c, t.Validate(c)
	}
	if c.Partitions == -1 {
		c.Partitions = d.Partitions
	}
	if c.ReplicationFactor == -1 {
		c.ReplicationFactor = int16(min(int(d.ReplicationFactor), len(t.brokers)))
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

// place assigns partitions [from, total) rf replicas each, round robin over
// the sorted brokers from an offset derived from id. It returns nil when
// there are too few brokers (validation then reports it).
func (t *Tables) place(total, from, rf int, id model.TopicID) [][]model.NodeID {
	brokers := t.brokerIDs()
	n := len(brokers)
	if rf < 1 || rf > n || total <= from {
		return nil
	}
	h := fnv.New32a()
	h.Write(id[:])
	start := int(h.Sum32() % uint32(n))
	out := make([][]model.NodeID, 0, total-from)
	for p := from; p < total; p++ {
		replicas := make([]model.NodeID, rf)
		for j := range replicas {
			replicas[j] = brokers[(start+p+j)%n]
		}
		out = append(out, replicas)
	}
	return out
}

func isAssignmentErr(err error) bool { return errors.Is(err, ErrInvalidReplicaAssignment) }
