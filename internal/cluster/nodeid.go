package cluster

import (
	"fmt"
	"math"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Node id allocation. A node started without a node id that joins a
// formed cluster asks for one: a seed proposes AllocateNodeID and answers
// the Result's NodeID. The apply gives
//
//	max(highest registered broker id, highest id allocated before) + 1
//
// and records it as the new high-water mark, which is replicated and in
// snapshots. Applies are serialised by the log, so two nodes joining at
// once get distinct ids; the high-water mark never goes down, so an id is
// never handed out twice, even when the node it went to never registered
// or was decommissioned. A re-proposed command (a lost forward) allocates
// again: ids may have gaps, never duplicates.

// AllocateNodeID reserves a new node id; its Result's NodeID is the id.
type AllocateNodeID struct{}

// Type implements Command.
func (*AllocateNodeID) Type() CommandType { return TypeAllocateNodeID }

// AppendTo implements Command.
func (c *AllocateNodeID) AppendTo(dst []byte) []byte { return header(dst, c.Type()) }

func (c *AllocateNodeID) decodeBody(*reader) {}

// nextNodeID is the id the next AllocateNodeID gives, or an error when
// the ids are exhausted.
func (t *Tables) nextNodeID() (model.NodeID, error) {
	high := int64(t.nodeIDHigh)
	for id := range t.brokers {
		high = max(high, int64(id))
	}
	if high >= math.MaxInt32 {
		return 0, fmt.Errorf("%w: node ids exhausted (node %d exists)", ErrInvalidRequest, high)
	}
	return model.NodeID(high + 1), nil
}

func (s *State) applyAllocateNodeID() (Result, error) {
	id, err := s.t.nextNodeID()
	if err != nil {
		return Result{}, err
	}
	s.t.nodeIDHigh = id
	return Result{NodeID: id}, nil
}

// NodeIDHighWater is the highest node id AllocateNodeID gave so far (-1:
// none). The next allocation is above it and above every broker's id.
func (t *Tables) NodeIDHighWater() model.NodeID { return t.nodeIDHigh }
