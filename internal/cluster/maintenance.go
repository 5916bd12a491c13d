package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Maintenance mode (Redpanda's): a broker in maintenance leads nothing.
// The controller only records the flag; the nodes act on it
// (internal/node): the broker's own node hands every group it leads to a
// peer and keeps doing so while the flag is set, and no node moves a
// leadership to it (leader balancing and preferred-leader elections skip
// it). Its replicas stay in their groups and keep replicating.
//
//	SetBrokerMaintenance{id, true}   refused while another broker is in it
//	                                 or fewer than 2 brokers are registered
//	SetBrokerMaintenance{id, false}  always allowed; balancing then moves
//	                                 the preferred leaders back
//
// At most one broker is in maintenance at a time, as in Redpanda: with 3
// replicas per partition, two brokers out of leadership would leave one
// broker to lead every partition (and a third failure none).

// ErrMaintenanceRefused: SetBrokerMaintenance would put a second broker
// in maintenance, or the only broker of the cluster. Nothing changed.
var ErrMaintenanceRefused = errors.New("maintenance mode refused")

// SetBrokerMaintenance sets a broker's Maintenance flag.
type SetBrokerMaintenance struct {
	NodeID  model.NodeID
	Enabled bool
}

// Type implements Command.
func (*SetBrokerMaintenance) Type() CommandType { return TypeSetBrokerMaintenance }

// AppendTo implements Command.
func (c *SetBrokerMaintenance) AppendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(header(dst, c.Type()), uint32(c.NodeID))
	return appendBool(dst, c.Enabled)
}

func (c *SetBrokerMaintenance) decodeBody(r *reader) {
	c.NodeID = model.NodeID(int32(r.u32("node id")))
	c.Enabled = r.bool("enabled")
}

func (t *Tables) validateSetBrokerMaintenance(c *SetBrokerMaintenance) error {
	b, ok := t.brokers[c.NodeID]
	if !ok {
		return fmt.Errorf("%w: broker %d is not registered", ErrUnknownBroker, c.NodeID)
	}
	if !c.Enabled || b.Maintenance {
		return nil
	}
	if len(t.brokers) < 2 {
		return fmt.Errorf("%w: broker %d is the only registered broker: no other broker could lead its partitions", ErrMaintenanceRefused, c.NodeID)
	}
	if other, ok := t.InMaintenance(); ok {
		return fmt.Errorf("%w: broker %d is in maintenance already; at most one broker may be in maintenance at a time: disable it first", ErrMaintenanceRefused, other)
	}
	return nil
}

func (s *State) applySetBrokerMaintenance(c *SetBrokerMaintenance) error {
	if err := s.t.validateSetBrokerMaintenance(c); err != nil {
		return err
	}
	s.updateBroker(c.NodeID, func(b *Broker) { b.Maintenance = c.Enabled })
	return nil
}

// InMaintenance returns the broker in maintenance, if any (there is at
// most one).
func (t *Tables) InMaintenance() (model.NodeID, bool) {
	for _, id := range t.brokerIDs() {
		if t.brokers[id].Maintenance {
			return id, true
		}
	}
	return -1, false
}

// Maintenance reports whether broker id is registered and in maintenance.
func (t *Tables) Maintenance(id model.NodeID) bool {
	b, ok := t.brokers[id]
	return ok && b.Maintenance
}
