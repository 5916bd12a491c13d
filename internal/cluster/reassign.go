package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Partition reassignment, as the controller records it. A partition with
// a non-nil Target is moving: every node's driver (internal/node) moves
// the partition's Raft voters from Replicas to Target by joint consensus
// and then proposes CompleteReassignment with the Target it finished, which
// makes it the partition's Replicas. Cancelling sets Target back to
// Replicas: the driver moves the voters back (they may already have
// changed) and completes the same way.
//
//	Replicas=[1 2 3] Target=nil      ── AlterReassignments target [4 2 3] ─►
//	Replicas=[1 2 3] Target=[4 2 3]  ── CompleteReassignment [4 2 3] ──────►
//	Replicas=[4 2 3] Target=nil Moved
//
// SetBrokerDraining marks a broker as decommissioned (or not): placement
// and PlanDecommission then leave it out.

// ErrNoReassignmentInProgress: a cancellation of a partition that is not
// moving (NO_REASSIGNMENT_IN_PROGRESS).
var ErrNoReassignmentInProgress = errors.New("no reassignment in progress")

// ErrStaleCompletion: a CompleteReassignment whose replicas are not the
// partition's current Target (the move was changed or cancelled since, or
// completed by another node first). Nothing changed; the proposer ignores
// it.
var ErrStaleCompletion = errors.New("cluster: stale reassignment completion")

// ErrUnknownBroker: a broker id that is not registered.
var ErrUnknownBroker = errors.New("unknown broker")

// ErrNoReplacementBroker: a decommission plan found no registered,
// non-draining broker to take a replica of the broker leaving.
var ErrNoReplacementBroker = errors.New("no broker can take the replicas")

// Move is one partition's reassignment: Target is the replica set to move
// to (preferred leader first), or nil to cancel the move in progress.
type Move struct {
	Partition model.PartitionID
	Target    []model.NodeID
}

// AlterReassignments starts, changes or cancels reassignments of
// partitions of one topic. Each move is judged on its own (Result.Moves);
// only a command naming no topic, an unknown one, no moves or a partition
// twice fails as a whole.
type AlterReassignments struct {
	Topic model.TopicID
	Moves []Move
}

// CompleteReassignment ends a move: applied only while the partition's
// Target equals Replicas, element by element.
type CompleteReassignment struct {
	Topic     model.TopicID
	Partition model.PartitionID
	Replicas  []model.NodeID
}

// SetBrokerDraining sets a broker's Draining flag (decommission).
type SetBrokerDraining struct {
	NodeID   model.NodeID
	Draining bool
}

// MoveResult is the outcome of one Move of an AlterReassignments, in the
// command's order: Err is nil when applied (or a no-op), else it wraps
// ErrUnknownTopic (no such partition), ErrInvalidReplicaAssignment or
// ErrNoReassignmentInProgress.
type MoveResult struct {
	Partition model.PartitionID
	Err       error
}

// Type implements Command.
func (*AlterReassignments) Type() CommandType { return TypeAlterReassignments }

// Type implements Command.
func (*CompleteReassignment) Type() CommandType { return TypeCompleteReassignment }

// Type implements Command.
func (*SetBrokerDraining) Type() CommandType { return TypeSetBrokerDraining }

// Move kinds on the wire: a cancellation carries no replicas, so it stays
// distinct from an (invalid) empty target.
const (
	moveCancel = 0
	moveTarget = 1
)

// AppendTo implements Command.
func (c *AlterReassignments) AppendTo(dst []byte) []byte {
	dst = append(header(dst, c.Type()), c.Topic[:]...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(c.Moves)))
	for _, m := range c.Moves {
		dst = binary.BigEndian.AppendUint32(dst, uint32(m.Partition))
		if m.Target == nil {
			dst = append(dst, moveCancel)
			continue
		}
		dst = appendNodeIDs(append(dst, moveTarget), m.Target)
	}
	return dst
}

func (c *AlterReassignments) decodeBody(r *reader) {
	c.Topic = r.topicID("topic id")
	n := r.count("moves", 4, MaxPartitionsPerTopic, 5)
	if n == 0 {
		return
	}
	c.Moves = make([]Move, n)
	for i := range c.Moves {
		m := &c.Moves[i]
		m.Partition = model.PartitionID(int32(r.u32("partition")))
		switch k := r.u8("move kind"); k {
		case moveCancel:
		case moveTarget:
			if m.Target = r.nodeIDs("target"); m.Target == nil && r.err == nil {
				m.Target = []model.NodeID{} // empty, not a cancellation
			}
		default:
			r.fail("move kind %d", k)
		}
	}
}

// AppendTo implements Command.
func (c *CompleteReassignment) AppendTo(dst []byte) []byte {
	dst = append(header(dst, c.Type()), c.Topic[:]...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.Partition))
	return appendNodeIDs(dst, c.Replicas)
}

func (c *CompleteReassignment) decodeBody(r *reader) {
	c.Topic = r.topicID("topic id")
	c.Partition = model.PartitionID(int32(r.u32("partition")))
	c.Replicas = r.nodeIDs("replicas")
}

// AppendTo implements Command.
func (c *SetBrokerDraining) AppendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(header(dst, c.Type()), uint32(c.NodeID))
	return appendBool(dst, c.Draining)
}

func (c *SetBrokerDraining) decodeBody(r *reader) {
	c.NodeID = model.NodeID(int32(r.u32("node id")))
	c.Draining = r.bool("draining")
}

// partitionOf returns partition p of tp, or an ErrUnknownTopic error.
func partitionOf(tp *Topic, p model.PartitionID) (*Partition, error) {
	if p < 0 || int(p) >= len(tp.Partitions) {
		return nil, fmt.Errorf("%w: topic %q has no partition %d", ErrUnknownTopic, tp.Name, p)
	}
	return &tp.Partitions[p], nil
}

// validateAlterReassignments checks the command as a whole and returns
// its topic.
func (t *Tables) validateAlterReassignments(c *AlterReassignments) (*Topic, error) {
	tp, err := t.topicByID(c.Topic)
	if err != nil {
		return nil, err
	}
	if len(c.Moves) == 0 {
		return nil, fmt.Errorf("%w: topic %q: a reassignment with no partitions", ErrInvalidRequest, tp.Name)
	}
	seen := make(map[model.PartitionID]bool, len(c.Moves))
	for _, m := range c.Moves {
		if seen[m.Partition] {
			return nil, fmt.Errorf("%w: topic %q: partition %d named more than once", ErrInvalidRequest, tp.Name, m.Partition)
		}
		seen[m.Partition] = true
	}
	return tp, nil
}

// checkMove judges one move against the partition as it is. It returns
// the partition's next Target and whether anything changes.
func (t *Tables) checkMove(tp *Topic, m Move) ([]model.NodeID, bool, error) {
	p, err := partitionOf(tp, m.Partition)
	if err != nil {
		return nil, false, err
	}
	if m.Target == nil {
		if p.Target == nil {
			return nil, false, fmt.Errorf("%w: topic %q partition %d is not being reassigned", ErrNoReassignmentInProgress, tp.Name, p.ID)
		}
		return p.Replicas, !slices.Equal(p.Target, p.Replicas), nil
	}
	if err := t.checkReplicaSet(tp.Name, int(p.ID), m.Target); err != nil {
		return nil, false, err
	}
	if p.Target == nil && slices.Equal(m.Target, p.Replicas) {
		return nil, false, nil // already there
	}
	return m.Target, !slices.Equal(m.Target, p.Target), nil
}

// CheckMoves judges each move as Apply would, without changing anything:
// the frontend's pre-check (errors in the moves' order, nil for a move
// that would apply).
func (t *Tables) CheckMoves(c *AlterReassignments) ([]error, error) {
	tp, err := t.validateAlterReassignments(c)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(c.Moves))
	for i, m := range c.Moves {
		_, _, errs[i] = t.checkMove(tp, m)
	}
	return errs, nil
}

func (s *State) applyAlterReassignments(c *AlterReassignments) (Result, error) {
	tp, err := s.t.validateAlterReassignments(c)
	if err != nil {
		return Result{}, err
	}
	res := Result{Moves: make([]MoveResult, len(c.Moves))}
	var next *Topic
	for i, m := range c.Moves {
		res.Moves[i].Partition = m.Partition
		target, change, err := s.t.checkMove(tp, m)
		if res.Moves[i].Err = err; err != nil || !change {
			continue
		}
		if next == nil {
			next = tp.withOwnPartitions()
		}
		next.Partitions[m.Partition].Target = slices.Clone(target)
	}
	if next != nil {
		s.putTopic(next.ID, next)
		tp = next
	}
	res.Topic = tp
	return res, nil
}

// validateCompleteReassignment returns the topic and the partition the
// completion ends.
func (t *Tables) validateCompleteReassignment(c *CompleteReassignment) (*Topic, *Partition, error) {
	tp, err := t.topicByID(c.Topic)
	if err != nil {
		return nil, nil, err
	}
	p, err := partitionOf(tp, c.Partition)
	if err != nil {
		return nil, nil, err
	}
	if p.Target == nil {
		return nil, nil, fmt.Errorf("%w: topic %q partition %d: completing %v, no move in progress", ErrStaleCompletion, tp.Name, p.ID, c.Replicas)
	}
	if !slices.Equal(p.Target, c.Replicas) {
		return nil, nil, fmt.Errorf("%w: topic %q partition %d: completing %v, target %v", ErrStaleCompletion, tp.Name, p.ID, c.Replicas, p.Target)
	}
	return tp, p, nil
}

func (s *State) applyCompleteReassignment(c *CompleteReassignment) (Result, error) {
	tp, p, err := s.t.validateCompleteReassignment(c)
	if err != nil {
		return Result{}, err
	}
	next := tp.withOwnPartitions()
	np := &next.Partitions[p.ID]
	np.Replicas, np.Target, np.Moved, np.Leader = p.Target, nil, true, p.Target[0]
	s.putTopic(next.ID, next)
	return Result{Topic: next}, nil
}

func (t *Tables) validateSetBrokerDraining(c *SetBrokerDraining) error {
	if _, ok := t.brokers[c.NodeID]; !ok {
		return fmt.Errorf("%w: broker %d is not registered", ErrUnknownBroker, c.NodeID)
	}
	return nil
}

func (s *State) applySetBrokerDraining(c *SetBrokerDraining) error {
	if err := s.t.validateSetBrokerDraining(c); err != nil {
		return err
	}
	s.updateBroker(c.NodeID, func(b *Broker) { b.Draining = c.Draining })
	return nil
}

// updateBroker replaces registered broker id by a copy that fn changed
// (a published *Broker never changes).
func (s *State) updateBroker(id model.NodeID, fn func(*Broker)) {
	b := *s.t.brokers[id]
	fn(&b)
	s.t.brokers[id] = &b
}

// withOwnPartitions returns a copy of tp with its own copy of the
// partition array (the elements' slices stay shared: replace them, never
// write into them), so a published topic never changes.
func (tp *Topic) withOwnPartitions() *Topic {
	c := *tp
	c.Partitions = slices.Clone(tp.Partitions)
	return &c
}
