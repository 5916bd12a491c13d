package cluster

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/petrel-streaming/petrel/internal/model"
)

// ErrIndexOrder: Apply was given an index not above the last applied one
// (a replayed entry, or a caller bug). Nothing changed.
var ErrIndexOrder = errors.New("cluster: apply index not above the applied index")

// State is the controller state machine. It is deterministic: the same
// commands at the same indexes give the same state and the same snapshot
// bytes on every node. It does no I/O and reads no clock.
//
// One owner (the goroutine applying controller group 0's committed
// entries) calls Apply, Validate, AppendSnapshot and SetTopicDefaults;
// others read the *Tables it publishes.
type State struct {
	t         *Tables
	published *Tables // the last read view handed out, until the next change
}

// NewState returns the empty state: no brokers, no topics, version 0.
func NewState() *State { return &State{t: newTables()} }

// Result is what applying a command produced.
type Result struct {
	// Topic is the topic after CreateTopic, CreatePartitions or
	// AlterConfigs, or the removed topic after DeleteTopic.
	Topic *Topic
	// FirstProducerID is the first id of the block AllocateProducerIDs
	// reserved: ids [FirstProducerID, FirstProducerID+Count) are the
	// caller's.
	FirstProducerID int64
	// Moves is AlterReassignments' outcome per move, in the command's
	// order (Topic is then the topic after the change).
	Moves []MoveResult
	// NodeID is the id AllocateNodeID gave.
	NodeID model.NodeID
}

// Version is the last applied index.
func (s *State) Version() model.Index { return s.t.version }

// Validate checks cmd against the current state (see Tables.Validate).
func (s *State) Validate(cmd Command) error { return s.t.Validate(cmd) }

// Tables returns an immutable read view of the current state. It is
// cheap: the maps are copied once per change (topics and brokers are few)
// and topics, with their partitions, are shared.
func (s *State) Tables() *Tables {
	if s.published == nil {
		s.published = s.t.clone()
	}
	return s.published
}

// SetTopicDefaults sets the broker-level topic config defaults (keyed by
// topic config name) that topics' configs resolve against. They are
// node-local settings, not replicated and not in snapshots: the node sets
// them after NewState or DecodeSnapshot, before applying.
func (s *State) SetTopicDefaults(defaults map[string]string) error {
	if err := decls().checkAll(defaults); err != nil {
		return fmt.Errorf("broker default: %w", err)
	}
	s.t.defaults = maps.Clone(defaults)
	for id, tp := range s.t.topics {
		s.putTopic(id, tp.withConfigs(tp.Configs, s.t.defaults))
	}
	s.published = nil
	return nil
}

// Apply applies the command committed at index. Commands are re-validated
// (another proposal may have committed since the frontend checked): an
// invalid command changes nothing but the applied index and returns the
// validation error, the same on every node. An index not above the
// applied one returns ErrIndexOrder and changes nothing.
func (s *State) Apply(index model.Index, cmd Command) (Result, error) {
	if index <= s.t.version {
		return Result{}, fmt.Errorf("%w: %d after %d", ErrIndexOrder, index, s.t.version)
	}
	s.t.version = index
	s.published = nil
	if err := encodable(cmd); err != nil {
		return Result{}, err
	}
	switch c := cmd.(type) {
	case *RegisterBroker:
		return Result{}, s.applyRegisterBroker(c)
	case *CreateTopic:
		return s.applyCreateTopic(index, c)
	case *DeleteTopic:
		return s.applyDeleteTopic(c)
	case *CreatePartitions:
		return s.applyCreatePartitions(c)
	case *AlterConfigs:
		return s.applyAlterConfigs(c)
	case *AllocateProducerIDs:
		return s.applyAllocateProducerIDs(c)
	case *AlterReassignments:
		return s.applyAlterReassignments(c)
	case *CompleteReassignment:
		return s.applyCompleteReassignment(c)
	case *SetBrokerDraining:
		return Result{}, s.applySetBrokerDraining(c)
	case *SetBrokerMaintenance:
		return Result{}, s.applySetBrokerMaintenance(c)
	case *AllocateNodeID:
		return s.applyAllocateNodeID()
	}
	return Result{}, s.t.Validate(cmd) // a foreign Command type: its error
}

func (s *State) applyRegisterBroker(c *RegisterBroker) error {
	if err := s.t.validateRegisterBroker(c); err != nil {
		return err
	}
	b := &Broker{NodeID: c.NodeID, KafkaAddr: c.KafkaAddr, RPCAddr: c.RPCAddr, Rack: c.Rack}
	if old, ok := s.t.brokers[c.NodeID]; ok {
		// A restart re-registers; decommission and maintenance survive it.
		b.Draining, b.Maintenance = old.Draining, old.Maintenance
	}
	s.t.brokers[c.NodeID] = b
	return nil
}

func (s *State) applyCreateTopic(index model.Index, c *CreateTopic) (Result, error) {
	if err := s.t.validateCreateTopic(c); err != nil {
		return Result{}, err
	}
	tp := &Topic{
		Name: c.Name, ID: c.ID, ReplicationFactor: c.ReplicationFactor,
		Internal: IsInternalTopic(c.Name), Revision: index,
	}
	tp = tp.withPartitions(c.Assignment).withConfigs(c.Configs, s.t.defaults)
	s.putTopic(c.ID, tp)
	return Result{Topic: tp}, nil
}

func (s *State) applyDeleteTopic(c *DeleteTopic) (Result, error) {
	tp, err := s.t.validateDeleteTopic(c)
	if err != nil {
		return Result{}, err
	}
	delete(s.t.topics, tp.ID)
	delete(s.t.byName, tp.Name)
	delete(s.t.byCollision, collisionKey(tp.Name))
	s.t.partitions -= len(tp.Partitions)
	return Result{Topic: tp}, nil
}

func (s *State) applyCreatePartitions(c *CreatePartitions) (Result, error) {
	tp, err := s.t.validateCreatePartitions(c)
	if err != nil {
		return Result{}, err
	}
	next := tp.withPartitions(c.Assignment)
	s.putTopic(tp.ID, next)
	return Result{Topic: next}, nil
}

func (s *State) applyAlterConfigs(c *AlterConfigs) (Result, error) {
	tp, configs, err := s.t.validateAlterConfigs(c)
	if err != nil {
		return Result{}, err
	}
	next := tp.withConfigs(configs, s.t.defaults)
	s.putTopic(tp.ID, next)
	return Result{Topic: next}, nil
}

func (s *State) applyAllocateProducerIDs(c *AllocateProducerIDs) (Result, error) {
	if err := s.t.validateAllocateProducerIDs(c); err != nil {
		return Result{}, err
	}
	first := s.t.nextProducerID
	s.t.nextProducerID += c.Count
	return Result{FirstProducerID: first}, nil
}

// putTopic installs tp (new or replacing the topic with the same id) in
// every index and keeps the partition count.
func (s *State) putTopic(id model.TopicID, tp *Topic) {
	if old, ok := s.t.topics[id]; ok {
		s.t.partitions -= len(old.Partitions)
	}
	s.t.topics[id] = tp
	s.t.byName[tp.Name] = tp
	s.t.byCollision[collisionKey(tp.Name)] = tp.Name
	s.t.partitions += len(tp.Partitions)
}

// withPartitions returns a copy of tp with partitions for assignment
// appended. The old partition slice is shared by capacity-clipped copy:
// appending never writes into a published topic's array.
func (tp *Topic) withPartitions(assignment [][]model.NodeID) *Topic {
	c := *tp
	c.Partitions = slices.Grow(slices.Clip(tp.Partitions), len(assignment))
	for _, replicas := range assignment {
		r := slices.Clone(replicas)
		c.Partitions = append(c.Partitions, Partition{ID: model.PartitionID(len(c.Partitions)), Replicas: r, Leader: r[0]})
	}
	return &c
}

// withConfigs returns a copy of tp with configs (already validated) as its
// own and its resolved config recomputed against defaults.
func (tp *Topic) withConfigs(configs, defaults map[string]string) *Topic {
	c := *tp
	c.Configs = cloneConfigs(configs)
	resolved, err := Resolve(c.Configs, defaults)
	if err != nil {
		// Unreachable: both were validated before they were stored.
		panic(fmt.Sprintf("cluster: resolving validated configs of %q: %v", tp.Name, err))
	}
	c.Config = resolved
	return &c
}
