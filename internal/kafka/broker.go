package kafka

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
)

// Broker is what the key files need from the node: read views of the
// controller tables and of local partitions, and the few operations that
// go through shards or the controller. The node implements it; any
// goroutine may call it.
type Broker interface {
	// NodeID is this broker's Kafka broker id.
	NodeID() int32
	// ClusterID is the cluster's id (Metadata v2+, DescribeCluster).
	ClusterID() string
	// Advertised is the host and port clients are told to connect to.
	Advertised() (host string, port int32)
	// Tables is the controller's current read view.
	Tables() *cluster.Tables
	// ReadState is the published state of a partition hosted here, or nil.
	ReadState(key model.PartitionKey) *partition.ReadState
	// Leadership is who leads a partition as far as this node knows,
	// hosted here or not (Metadata, leader hints in errors).
	Leadership(key model.PartitionKey) Leadership
	// Live reports whether a registered broker answers (this node: always).
	Live(id model.NodeID) bool
	// ElectPreferred moves each partition's leadership to its preferred
	// replica and waits for it (ElectLeaders): nil,
	// partition.ErrElectionNotNeeded, ErrPreferredUnavailable or
	// ErrNotLeader (no leader known) per key.
	ElectPreferred(ctx context.Context, keys []model.PartitionKey) []error
	// ControllerID is the leader of the controller group as this node
	// knows it, -1 while none is known (Metadata, DescribeCluster).
	ControllerID() model.NodeID
	// Produce appends validated batches to their partitions, grouped by
	// shard; done is called once per batch, from any goroutine, when the
	// batch is committed or failed.
	Produce(ctx context.Context, batches []ProduceBatch, done func(i int, r partition.ProduceResult))
	// CreateTopic proposes a planned topic and waits until its partitions
	// serve (or ctx ends).
	CreateTopic(ctx context.Context, cmd *cluster.CreateTopic) error
	// DeleteTopic proposes the deletion of a topic and waits for it.
	DeleteTopic(ctx context.Context, id model.TopicID) error
	// Propose proposes any other controller command and waits for its
	// result (AlterConfigs, CreatePartitions, AllocateProducerIDs).
	Propose(ctx context.Context, cmd cluster.Command) (cluster.Result, error)
	// DeleteRecords moves a local partition's log start (its shard's
	// Replica.DeleteRecords) and returns the new one.
	DeleteRecords(ctx context.Context, key model.PartitionKey, before model.Offset) (model.Offset, error)
	// Producers lists a local partition's active idempotent producers.
	Producers(ctx context.Context, key model.PartitionKey) ([]partition.ProducerInfo, error)
	// AutoCreateTopics reports whether unknown topics are created on use.
	AutoCreateTopics() bool
	// Defaults are the node's topic defaults (num.partitions, replication).
	Defaults() cluster.Defaults
	// CreatePartitions proposes a planned growth of a topic and waits
	// until its partitions serve (or ctx ends).
	CreatePartitions(ctx context.Context, cmd *cluster.CreatePartitions) error
	// DataDir is the node's one log directory (DescribeLogDirs).
	DataDir() string
	// PartitionBytes is the on-disk size of a local partition's log.
	PartitionBytes(key model.PartitionKey) (int64, error)
}

// Leadership is what a node knows of a partition's leader.
type Leadership struct {
	// Leader is the leading node, -1 while none is known.
	Leader model.NodeID
	// Epoch is the leader's epoch (the Raft term), -1 when unknown.
	Epoch int32
	// ISR are the in-sync replicas (the leader first); the partition's
	// replicas when this node does not know better.
	ISR []model.NodeID
}

// ProduceBatch is one validated batch for one partition.
type ProduceBatch struct {
	Key   model.PartitionKey
	Batch []byte
	// LogAppendTime, when non-zero, is stamped into the batch (topics with
	// message.timestamp.type=LogAppendTime) before it is proposed.
	LogAppendTime int64
	// Producer fields from the batch header (idempotence).
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32
	Count         int32
}

// topicOf resolves a request's topic by name or, when id is set, by id.
func topicOf(t *cluster.Tables, name string, id [16]byte) (*cluster.Topic, bool) {
	if id != ([16]byte{}) {
		return t.TopicByID(model.TopicID(id))
	}
	return t.TopicByName(name)
}

func partitionKey(tp *cluster.Topic, p int32) (model.PartitionKey, bool) {
	if p < 0 || int(p) >= len(tp.Partitions) {
		return model.PartitionKey{}, false
	}
	return model.PartitionKey{Topic: tp.ID, Partition: model.PartitionID(p)}, true
}

func errMsg(err error) *string {
	if err == nil {
		return nil
	}
	s := fmt.Sprint(err)
	return &s
}

// NewTopicID draws a random topic id (a version 4 UUID, as Kafka's).
func NewTopicID() model.TopicID {
	var id model.TopicID
	if _, err := rand.Read(id[:]); err != nil {
		panic(fmt.Sprintf("kafka: crypto/rand: %v", err)) // never fails on Linux (Go 1.24+ doc)
	}
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

// leaderState resolves a partition named by topic name and index to the
// read state of its local leader, checking the client's current leader
// epoch (-1: unchecked) as ListOffsets and OffsetForLeaderEpoch do. It
// returns the Kafka error code when there is none to serve.
func leaderState(b Broker, tp *cluster.Topic, known bool, partition, currentEpoch int32) (*partition.ReadState, int16) {
	_, rs, code := leaderKey(b, tp, known, partition)
	switch {
	case code != 0:
		return nil, code
	case currentEpoch >= 0 && currentEpoch > rs.LeaderEpoch:
		return nil, kerr.UnknownLeaderEpoch.Code
	case currentEpoch >= 0 && currentEpoch < rs.LeaderEpoch:
		return nil, kerr.FencedLeaderEpoch.Code
	}
	return rs, 0
}

// leaderKey resolves a partition of a topic looked up by name (known: it
// was found) to its key and its local leader's read state:
// UNKNOWN_TOPIC_OR_PARTITION when the tables do not have it,
// NOT_LEADER_OR_FOLLOWER when this node does not lead it.
func leaderKey(b Broker, tp *cluster.Topic, known bool, partition int32) (model.PartitionKey, *partition.ReadState, int16) {
	if !known {
		return model.PartitionKey{}, nil, kerr.UnknownTopicOrPartition.Code
	}
	key, ok := partitionKey(tp, partition)
	if !ok {
		return key, nil, kerr.UnknownTopicOrPartition.Code
	}
	rs, code := localLeader(b, key)
	return key, rs, code
}

// requestContext bounds an admin request by its TimeoutMillis (30 s when
// unset).
func requestContext(ctx context.Context, timeoutMillis int32) (context.Context, context.CancelFunc) {
	timeout := time.Duration(timeoutMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return context.WithTimeout(ctx, timeout)
}

// nameCounts counts how often each name appears in a request: a name
// given twice fails every copy, as Kafka answers.
func nameCounts[T any](items []T, name func(T) string) map[string]int {
	seen := make(map[string]int, len(items))
	for _, it := range items {
		seen[name(it)]++
	}
	return seen
}
