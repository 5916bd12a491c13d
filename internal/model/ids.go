package model

import (
	"encoding/hex"
	"fmt"
	"strconv"
)

// Offset is a Kafka record offset within one partition. Offsets are dense
// over data records and never count Raft-only entries.
type Offset int64

// Index is a Raft log index within one partition's log. Every entry,
// data or Raft-only, takes exactly one index.
type Index uint64

// Term is a Raft term. It is also the Kafka leader epoch stamped into
// every batch the leader appends.
type Term uint64

// LeaderEpoch converts a term to the int32 Kafka puts on the wire.
func (t Term) LeaderEpoch() int32 { return int32(t) }

// NodeID identifies a broker in the cluster.
type NodeID int32

// ShardID identifies one shard (one core's worth of work) within a node.
type ShardID uint32

// PartitionID is a partition number within a topic.
type PartitionID int32

// TopicID is a topic's 16-byte UUID. A re-created topic gets a new one, so
// nothing keyed by TopicID can leak from a deleted topic into its successor.
type TopicID [16]byte

// IsZero reports whether the ID is unset.
func (id TopicID) IsZero() bool { return id == TopicID{} }

// String renders the ID as 32 lowercase hex digits.
func (id TopicID) String() string { return hex.EncodeToString(id[:]) }

// ParseTopicID parses the 32-hex-digit form produced by String.
func ParseTopicID(s string) (TopicID, error) {
	var id TopicID
	if len(s) != 32 {
		return id, fmt.Errorf("model: topic id %q: want 32 hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("model: topic id %q: %w", s, err)
	}
	return id, nil
}

// PartitionKey names one partition by topic ID, the identity storage uses.
type PartitionKey struct {
	Topic     TopicID
	Partition PartitionID
}

// String renders the key as "<topic id>-<partition>", which is also its
// directory name on disk.
func (k PartitionKey) String() string {
	return k.Topic.String() + "-" + strconv.FormatInt(int64(k.Partition), 10)
}

// NTP names one partition by namespace, topic name and partition, the
// identity users and the controller see.
type NTP struct {
	Namespace string
	Topic     string
	Partition PartitionID
}

// KafkaNamespace is the namespace of every topic visible through the Kafka API.
const KafkaNamespace = "kafka"

func (n NTP) String() string {
	return n.Namespace + "/" + n.Topic + "/" + strconv.FormatInt(int64(n.Partition), 10)
}
