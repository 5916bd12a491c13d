package cluster

import (
	"encoding/binary"
	"fmt"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Snapshot format (big-endian; strings are u16 length + bytes):
//
//	"PCS" version(u8)=1
//	applied index          u64
//	next producer id       i64
//	broker count           u32
//	  node id i32, kafka addr str, rpc addr str, rack str      (ascending id)
//	topic count            u32
//	  name str, id [16], replication factor i16, revision u64,
//	  partition count u32, then per partition u8 n + n × i32   (replicas)
//	  config count u16, then key str, value str                (ascending key)
//	                                                           (topics ascending by name)
//	crc32c                 u32   over every byte before it
//
// Leaders and resolved configs are derived, not stored. The same state
// always encodes to the same bytes.
const (
	snapshotMagic   = "PCS"
	snapshotVersion = 1
)

// AppendSnapshot appends the encoding of the state to dst.
func (s *State) AppendSnapshot(dst []byte) []byte {
	t := s.t
	at := len(dst)
	dst = append(append(dst, snapshotMagic...), snapshotVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.version))
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.nextProducerID))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(t.brokers)))
	for _, b := range t.Brokers() {
		dst = binary.BigEndian.AppendUint32(dst, uint32(b.NodeID))
		dst = appendString(dst, b.KafkaAddr)
		dst = appendString(dst, b.RPCAddr)
		dst = appendString(dst, b.Rack)
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
	if v := body[len(snapshotMagic)]; v != snapshotVersion {
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
	nb := r.count("brokers", 4, MaxBrokers, 10)
	lastID := model.NodeID(-1)
	for range nb {
		c := &RegisterBroker{}
		c.decodeBody(r)
		if r.err != nil {
			break
		}
		if c.NodeID <= lastID {
			r.fail("broker %d out of order", c.NodeID)
		} else if err := s.applyRegisterBroker(c); err != nil {
			r.fail("broker %d: %v", c.NodeID, err)
		}
		lastID = c.NodeID
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
	c.Assignment = r.assignment("partitions", MaxPartitionsPerTopic)
	c.Configs = r.configs("configs")
	if r.err != nil {
		return ""
	}
	c.Partitions = int32(len(c.Assignment))
	if err := t.validateCreateTopic(c); err != nil {
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
	tp := &Topic{Name: c.Name, ID: c.ID, ReplicationFactor: c.ReplicationFactor, Internal: IsInternalTopic(c.Name), Revision: revision}
	s.putTopic(c.ID, tp.withPartitions(c.Assignment).withConfigs(c.Configs, t.defaults))
	return c.Name
}
