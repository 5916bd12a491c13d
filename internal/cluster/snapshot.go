package cluster

import (
	"encoding/binary"
	"fmt"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Snapshot format (big-endian; strings are u16 length + bytes; a replica
// list is u8 n + n × node id i32):
//
//	"PCS" version(u8)=4
//	applied index          u64
//	next producer id       i64
//	node id high water     i32   highest id AllocateNodeID gave, -1 none  (v4)
//	broker count           u32
//	  node id i32, kafka addr str, rpc addr str, rack str,
//	  flags u8 (1 draining | 2 maintenance)                    (ascending id)
//	topic count            u32
//	  name str, id [16], replication factor i16, revision u64,
//	  partition count u32, then per partition:
//	    replicas, flags u8 (1 moved | 2 moving), target replicas if moving
//	  config count u16, then key str, value str                (ascending key)
//	                                                           (topics ascending by name)
//	crc32c                 u32   over every byte before it
//
// Leaders and resolved configs are derived, not stored. The same state
// always encodes to the same bytes. Version 3 (no node id high water; it
// decodes as -1: the broker ids bound the next allocation) still
// decodes. Versions 1 (no draining, no flags) and 2 (a draining byte
// where the broker flags are) were never written to disk (nothing
// persisted controller snapshots then) and do not.
const (
	snapshotMagic   = "PCS"
	snapshotVersion = 4
	// snapshotVersionNoNodeIDs is the previous version: no node id high
	// water mark.
	snapshotVersionNoNodeIDs = 3
)

// Broker flags in a snapshot.
const (
	snapDraining    = 1
	snapMaintenance = 2
)

// Partition flags in a snapshot.
const (
	snapMoved  = 1
	snapMoving = 2
)

// AppendSnapshot appends the encoding of the state to dst.
func (s *State) AppendSnapshot(dst []byte) []byte {
	t := s.t
	at := len(dst)
	dst = append(append(dst, snapshotMagic...), snapshotVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.version))
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.nextProducerID))
	dst = binary.BigEndian.AppendUint32(dst, uint32(t.nodeIDHigh))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(t.brokers)))
	for _, b := range t.Brokers() {
		dst = binary.BigEndian.AppendUint32(dst, uint32(b.NodeID))
		dst = appendString(dst, b.KafkaAddr)
		dst = appendString(dst, b.RPCAddr)
		dst = appendString(dst, b.Rack)
		var flags byte
		if b.Draining {
			flags |= snapDraining
		}
		if b.Maintenance {
			flags |= snapMaintenance
		}
		dst = append(dst, flags)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(t.topics)))
	for _, tp := range t.Topics() {
		dst = appendString(dst, tp.Name)
		dst = append(dst, tp.ID[:]...)
		dst = binary.BigEndian.AppendUint16(dst, uint16(tp.ReplicationFactor))
		dst = binary.BigEndian.AppendUint64(dst, uint64(tp.Revision))
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(tp.Partitions)))
		for _, p := range tp.Partitions {
			dst = appendNodeIDs(dst, p.Replicas)
			var flags byte
			if p.Moved {
				flags |= snapMoved
			}
			if p.Target != nil {
				flags |= snapMoving
			}
			dst = append(dst, flags)
			if p.Target != nil {
				dst = appendNodeIDs(dst, p.Target)
			}
		}
		dst = appendConfigs(dst, tp.Configs)
	}
	return binary.BigEndian.AppendUint32(dst, model.CRC32C(dst[at:]))
}

// DecodeSnapshot rebuilds a State from AppendSnapshot's bytes. It checks
// the checksum, every bound, and that the content is a state Apply could
// have produced (valid names, no duplicates, registered replicas, valid
// configs); anything else is an error wrapping model.ErrCorrupt. It never
// panics. Call SetTopicDefaults on the result before applying.
func DecodeSnapshot(b []byte) (*State, error) {
	const trailer = 4
	if len(b) < len(snapshotMagic)+1+trailer || string(b[:len(snapshotMagic)]) != snapshotMagic {
		return nil, fmt.Errorf("cluster: snapshot header: %w", model.ErrCorrupt)
	}
	body, sum := b[:len(b)-trailer], binary.BigEndian.Uint32(b[len(b)-trailer:])
	if got := model.CRC32C(body); got != sum {
		return nil, fmt.Errorf("cluster: snapshot crc %08x, stored %08x: %w", got, sum, model.ErrCorrupt)
	}
	v := body[len(snapshotMagic)]
	if v != snapshotVersion && v != snapshotVersionNoNodeIDs {
		return nil, fmt.Errorf("cluster: snapshot version %d: %w", v, model.ErrCorrupt)
	}
	r := &reader{b: body[len(snapshotMagic)+1:]}
	s := NewState()
	t := s.t
	t.version = model.Index(r.u64("applied index"))
	t.nextProducerID = int64(r.u64("next producer id"))
	if r.err == nil && t.nextProducerID < 0 {
		r.fail("next producer id %d", t.nextProducerID)
	}
	if v >= snapshotVersion {
		t.nodeIDHigh = model.NodeID(int32(r.u32("node id high water")))
		if r.err == nil && t.nodeIDHigh < -1 {
			r.fail("node id high water %d", t.nodeIDHigh)
		}
	}
	nb := r.count("brokers", 4, MaxBrokers, 11)
	lastID := model.NodeID(-1)
	for range nb {
		c := &RegisterBroker{}
		c.decodeBody(r)
		flags := r.u8("broker flags")
		if r.err == nil && flags&^(snapDraining|snapMaintenance) != 0 {
			r.fail("broker %d flags %#x", c.NodeID, flags)
		}
		if r.err != nil {
			break
		}
		if c.NodeID <= lastID {
			r.fail("broker %d out of order", c.NodeID)
		} else if err := s.applyRegisterBroker(c); err != nil {
			r.fail("broker %d: %v", c.NodeID, err)
		} else {
			b := t.brokers[c.NodeID]
			b.Draining, b.Maintenance = flags&snapDraining != 0, flags&snapMaintenance != 0
		}
		lastID = c.NodeID
	}
	if r.err == nil {
		maint := 0
		for _, b := range t.brokers {
			if b.Maintenance {
				maint++
			}
		}
		if maint > 1 {
			r.fail("%d brokers in maintenance, at most 1", maint)
		}
	}
	nt := r.count("topics", 4, MaxTopics, 2+16+2+8+4+2)
	last := ""
	for range nt {
		if last = decodeSnapshotTopic(r, s, last); r.err != nil {
			break
		}
	}
	if err := r.done("snapshot"); err != nil {
		return nil, err
	}
	return s, nil
}

// decodeSnapshotTopic reads one topic and installs it, failing r when it is
// not one Apply could have made or does not sort after the topic named
// last. It returns the topic's name.
func decodeSnapshotTopic(r *reader, s *State, last string) string {
	t := s.t
	c := &CreateTopic{}
	c.Name = r.string("topic name", MaxTopicNameLen)
	c.ID = r.topicID("topic id")
	c.ReplicationFactor = int16(r.u16("replication factor"))
	revision := model.Index(r.u64("revision"))
	parts := decodeSnapshotPartitions(r)
	c.Configs = r.configs("configs")
	if r.err != nil {
		return ""
	}
	c.Partitions = int32(len(parts))
	if err := t.validateTopicHeader(c); err != nil {
		r.fail("topic %q: %v", c.Name, err)
		return ""
	}
	for _, p := range parts {
		err := t.checkReplicaSet(c.Name, int(p.ID), p.Replicas)
		if err == nil && p.Target != nil {
			err = t.checkReplicaSet(c.Name, int(p.ID), p.Target)
		}
		if err != nil {
			r.fail("topic %q: %v", c.Name, err)
			return ""
		}
	}
	if err := decls().checkAll(c.Configs); err != nil {
		r.fail("topic %q: %v", c.Name, err)
		return ""
	}
	if revision == 0 || revision > t.version {
		r.fail("topic %q: revision %d outside 1..%d", c.Name, revision, t.version)
		return ""
	}
	if last != "" && last >= c.Name {
		r.fail("topic %q out of order", c.Name)
		return ""
	}
	tp := &Topic{Name: c.Name, ID: c.ID, ReplicationFactor: c.ReplicationFactor, Internal: IsInternalTopic(c.Name),
		Revision: revision, Partitions: parts}
	s.putTopic(c.ID, tp.withConfigs(c.Configs, t.defaults))
	return c.Name
}

// decodeSnapshotPartitions reads a topic's partitions: replicas, flags and
// target. Replica sets are checked by the caller, against the brokers.
func decodeSnapshotPartitions(r *reader) []Partition {
	n := r.count("partitions", 4, MaxPartitionsPerTopic, 2)
	if n == 0 {
		return nil
	}
	parts := make([]Partition, n)
	for i := range parts {
		p := &parts[i]
		p.ID = model.PartitionID(i)
		p.Replicas = r.nodeIDs("replicas")
		flags := r.u8("partition flags")
		if flags&^(snapMoved|snapMoving) != 0 {
			r.fail("partition %d flags %#x", i, flags)
		}
		p.Moved = flags&snapMoved != 0
		if flags&snapMoving != 0 {
			if p.Target = r.nodeIDs("target"); p.Target == nil {
				p.Target = []model.NodeID{} // refused by the caller
			}
		}
		if r.err != nil {
			return nil
		}
		if len(p.Replicas) > 0 {
			p.Leader = p.Replicas[0]
		}
	}
	return parts
}
