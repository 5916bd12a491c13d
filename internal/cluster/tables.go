package cluster

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Broker is a registered broker.
type Broker struct {
	NodeID    model.NodeID
	KafkaAddr string
	RPCAddr   string
	Rack      string
	// Draining is set while the broker is decommissioned: placement and
	// PlanDecommission give it no new replicas. Re-registering keeps it.
	Draining bool
	// Maintenance is set while the broker is in maintenance mode: it
	// leads no partition (its node hands leadership away, no node gives
	// it any). Re-registering keeps it.
	Maintenance bool
}

// Partition is one partition's placement.
type Partition struct {
	ID       model.PartitionID
	Replicas []model.NodeID // preferred leader first
	// Leader is a placeholder until partition leadership is reported
	// back to the controller (clusters, issue 5): the preferred leader,
	// which on a single node is the only broker.
	Leader model.NodeID
	// Target is non-nil while a reassignment is in progress: the replica
	// set the partition moves to (its first is the new preferred
	// leader). The nodes' drivers move the Raft voters there and propose
	// CompleteReassignment, which makes it Replicas. nil when none.
	Target []model.NodeID
	// Moved is set once any reassignment of this partition completed:
	// a replica added later joins a running group instead of
	// bootstrapping one from Replicas.
	Moved bool
}

// Effective is the replica set the partition has, or is moving to: Target
// while a move is in progress, else Replicas. Shared: do not modify.
func (p *Partition) Effective() []model.NodeID {
	if p.Target != nil {
		return p.Target
	}
	return p.Replicas
}

// Topic is one topic. A *Topic is immutable once a State applied the
// command that made it: a later change makes a new *Topic, so read views
// share them safely. Callers must not modify one.
type Topic struct {
	Name              string
	ID                model.TopicID
	ReplicationFactor int16
	Partitions        []Partition
	Configs           map[string]string // the topic's own configs (overrides)
	Config            TopicConfig       // resolved against the node's broker defaults
	Internal          bool              // __consumer_offsets, __transaction_state: not deletable
	Revision          model.Index       // the index of the command that created it
}

// internalTopics may be created (by the node's coordinators) but never
// deleted through the Kafka API.
var internalTopics = []string{"__consumer_offsets", "__transaction_state"}

// IsInternalTopic reports whether name is an internal topic.
func IsInternalTopic(name string) bool { return slices.Contains(internalTopics, name) }

// Tables is the controller state: brokers, topics, partitions and configs,
// with the applied index as its version. A *Tables returned by
// State.Tables is an immutable read view: publish it with an
// atomic.Pointer and let any goroutine (every shard, the admin API) read
// it without locks. Inside a State, the State's owner alone mutates it.
type Tables struct {
	version        model.Index
	nextProducerID int64
	nodeIDHigh     model.NodeID // highest id AllocateNodeID gave; -1: none
	partitions     int          // over all topics, bounded by maxSnapshotPartitions
	brokers        map[model.NodeID]*Broker
	topics         map[model.TopicID]*Topic
	byName         map[string]*Topic
	byCollision    map[string]string // name with '.' as '_' → name
	defaults       map[string]string // broker-level topic config defaults (node-local)
}

func newTables() *Tables {
	return &Tables{
		nodeIDHigh:  -1,
		brokers:     map[model.NodeID]*Broker{},
		topics:      map[model.TopicID]*Topic{},
		byName:      map[string]*Topic{},
		byCollision: map[string]string{},
	}
}

// clone copies the maps (O(brokers + topics)) and shares the immutable
// *Broker and *Topic values: partitions are never copied.
func (t *Tables) clone() *Tables {
	c := *t
	c.brokers = maps.Clone(t.brokers)
	c.topics = maps.Clone(t.topics)
	c.byName = maps.Clone(t.byName)
	c.byCollision = maps.Clone(t.byCollision)
	return &c
}

// Version is the index of the last command applied.
func (t *Tables) Version() model.Index { return t.version }

// NextProducerID is the first producer id the next AllocateProducerIDs
// will return.
func (t *Tables) NextProducerID() int64 { return t.nextProducerID }

// Broker returns a registered broker.
func (t *Tables) Broker(id model.NodeID) (Broker, bool) {
	b, ok := t.brokers[id]
	if !ok {
		return Broker{}, false
	}
	return *b, true
}

// Brokers returns the registered brokers sorted by id.
func (t *Tables) Brokers() []Broker {
	out := make([]Broker, 0, len(t.brokers))
	for _, b := range t.brokers {
		out = append(out, *b)
	}
	slices.SortFunc(out, func(a, b Broker) int { return cmp.Compare(a.NodeID, b.NodeID) })
	return out
}

// brokerIDs returns the registered broker ids, sorted.
func (t *Tables) brokerIDs() []model.NodeID {
	return slices.Sorted(maps.Keys(t.brokers))
}

// TopicByName returns a topic by name.
func (t *Tables) TopicByName(name string) (*Topic, bool) {
	tp, ok := t.byName[name]
	return tp, ok
}

// TopicByID returns a topic by id.
func (t *Tables) TopicByID(id model.TopicID) (*Topic, bool) {
	tp, ok := t.topics[id]
	return tp, ok
}

// Topics returns every topic sorted by name.
func (t *Tables) Topics() []*Topic {
	out := slices.Collect(maps.Values(t.topics))
	slices.SortFunc(out, func(a, b *Topic) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// PartitionCount is the number of partitions over all topics.
func (t *Tables) PartitionCount() int { return t.partitions }

// DescribeConfigs describes a topic's configs for DescribeConfigs.
func (t *Tables) DescribeConfigs(tp *Topic) []ConfigEntry {
	return DescribeTopicConfigs(tp.Configs, t.defaults)
}

// TopicDefaults returns the broker-level topic config defaults the
// tables resolve with. The map is shared: do not modify it.
func (t *Tables) TopicDefaults() map[string]string { return t.defaults }
