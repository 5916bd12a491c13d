package group

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Record versions written, as Kafka 3.x writes them (doc.go draws them).
const (
	offsetKeyVersion   = 1 // OffsetCommitKey; 0 reads the same
	groupKeyVersion    = 2 // GroupMetadataKey
	offsetValueVersion = 3 // OffsetCommitValue with leader epoch
	groupValueVersion  = 3 // GroupMetadataValue with instance ids
)

func offsetKey(group string, tp topicPartition) []byte {
	k := kmsg.OffsetCommitKey{Version: offsetKeyVersion, Group: group, Topic: tp.topic, Partition: int32(tp.partition)}
	return k.AppendTo(nil)
}

// writeOffset records a commit (or, with del, its tombstone).
func (g *group) writeOffset(tp topicPartition, o committed, del bool) {
	r := Record{Key: offsetKey(g.name, tp)}
	if !del {
		v := kmsg.OffsetCommitValue{
			Version: offsetValueVersion, Offset: int64(o.offset), LeaderEpoch: o.leaderEpoch,
			Metadata: o.metadata, CommitTimestamp: o.commitMs,
		}
		r.Value = v.AppendTo(nil)
	}
	g.c.write(r)
}

// writeMetadata records the group's generation, protocol and members.
func (g *group) writeMetadata() {
	k := kmsg.GroupMetadataKey{Version: groupKeyVersion, Group: g.name}
	v := kmsg.GroupMetadataValue{
		Version:               groupValueVersion,
		ProtocolType:          g.protocolType,
		Generation:            g.generation,
		CurrentStateTimestamp: g.stateTime.UnixMilli(),
	}
	if g.protocol != "" {
		v.Protocol = kmsg.StringPtr(g.protocol)
	}
	if g.leader != "" {
		v.Leader = kmsg.StringPtr(g.leader)
	}
	for _, m := range g.sortedMembers() {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID = m.id
		vm.InstanceID = m.instanceID
		vm.ClientID = m.clientID
		vm.ClientHost = m.clientHost
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout.Milliseconds())
		vm.SessionTimeoutMillis = int32(m.sessionTimeout.Milliseconds())
		vm.Subscription = m.metadataFor(g.protocol)
		vm.Assignment = m.assignment
		v.Members = append(v.Members, vm)
	}
	g.c.write(Record{Key: k.AppendTo(nil), Value: v.AppendTo(nil)})
	g.hasMetadata = true
}

// writeTombstone records the group's deletion.
func (g *group) writeTombstone() {
	k := kmsg.GroupMetadataKey{Version: groupKeyVersion, Group: g.name}
	g.c.write(Record{Key: k.AppendTo(nil)})
}

// Replay applies one record read back from the log, oldest first, before
// any Handle. Groups come back as Kafka loads them once their members are
// gone: Empty, with their protocol type, generation and committed offsets.
// A nil value is a tombstone. Keys of versions 3 and up (records of other
// group types, written by newer Kafka) are skipped; a record that does not
// decode is an error wrapping model.ErrCorrupt, and leaves the state as it
// was.
func (c *Coordinator) Replay(key, value []byte) error {
	if len(key) < 2 {
		return fmt.Errorf("group: replay: %w: key of %d bytes", model.ErrCorrupt, len(key))
	}
	switch version := int16(binary.BigEndian.Uint16(key)); version {
	case 0, 1:
		return c.replayOffset(key, value)
	case 2:
		return c.replayGroup(key, value)
	default:
		if version < 0 {
			return fmt.Errorf("group: replay: %w: key version %d", model.ErrCorrupt, version)
		}
		return nil
	}
}

func (c *Coordinator) replayOffset(key, value []byte) error {
	var k kmsg.OffsetCommitKey
	if err := k.ReadFrom(key); err != nil {
		return fmt.Errorf("group: replay offset key: %w: %v", model.ErrCorrupt, err)
	}
	tp := topicPartition{topic: k.Topic, partition: model.PartitionID(k.Partition)}
	if value == nil {
		if g := c.groups[k.Group]; g != nil {
			delete(g.offsets, tp)
			c.dropIfUnused(g)
		}
		return nil
	}
	var v kmsg.OffsetCommitValue
	if err := v.ReadFrom(value); err != nil || v.Version < 0 {
		return fmt.Errorf("group: replay offset value: %w: version %d: %v", model.ErrCorrupt, v.Version, err)
	}
	epoch := v.LeaderEpoch
	if v.Version < 3 {
		epoch = -1
	}
	g := c.replayedGroup(k.Group)
	g.offsets[tp] = committed{offset: model.Offset(v.Offset), leaderEpoch: epoch, metadata: v.Metadata, commitMs: v.CommitTimestamp}
	return nil
}

func (c *Coordinator) replayGroup(key, value []byte) error {
	var k kmsg.GroupMetadataKey
	if err := k.ReadFrom(key); err != nil {
		return fmt.Errorf("group: replay group key: %w: %v", model.ErrCorrupt, err)
	}
	if value == nil {
		if g := c.groups[k.Group]; g != nil {
			g.hasMetadata = false
			g.protocolType, g.generation = "", 0
			c.dropIfUnused(g)
		}
		return nil
	}
	var v kmsg.GroupMetadataValue
	if err := v.ReadFrom(value); err != nil || v.Version < 0 {
		return fmt.Errorf("group: replay group value: %w: version %d: %v", model.ErrCorrupt, v.Version, err)
	}
	g := c.replayedGroup(k.Group)
	g.hasMetadata = true
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	if v.Version >= 2 {
		g.stateTime = time.UnixMilli(v.CurrentStateTimestamp)
	}
	return nil
}

func (c *Coordinator) replayedGroup(name string) *group {
	g := c.groups[name]
	if g == nil {
		g = newGroup(c, name)
		c.groups[name] = g
	}
	return g
}

// dropIfUnused forgets an Empty group with neither metadata, offsets nor
// pending member ids, and reports whether it did.
func (c *Coordinator) dropIfUnused(g *group) bool {
	if g.state == Empty && !g.hasMetadata && len(g.offsets) == 0 && len(g.members) == 0 && len(g.pending) == 0 {
		c.forget(g)
		return true
	}
	return false
}
