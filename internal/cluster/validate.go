package cluster

import (
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Validate checks cmd against these tables without changing anything: the
// frontend's pre-check before it proposes. Apply runs the same checks
// again, because in a cluster another proposal may commit in between.
func (t *Tables) Validate(cmd Command) error {
	if err := encodable(cmd); err != nil {
		return err
	}
	switch c := cmd.(type) {
	case *RegisterBroker:
		return t.validateRegisterBroker(c)
	case *CreateTopic:
		return t.validateCreateTopic(c)
	case *DeleteTopic:
		_, err := t.validateDeleteTopic(c)
		return err
	case *CreatePartitions:
		_, err := t.validateCreatePartitions(c)
		return err
	case *AlterConfigs:
		_, _, err := t.validateAlterConfigs(c)
		return err
	case *AllocateProducerIDs:
		return t.validateAllocateProducerIDs(c)
	case *AlterReassignments:
		_, err := t.validateAlterReassignments(c)
		return err
	case *CompleteReassignment:
		_, _, err := t.validateCompleteReassignment(c)
		return err
	case *SetBrokerDraining:
		return t.validateSetBrokerDraining(c)
	case *SetBrokerMaintenance:
		return t.validateSetBrokerMaintenance(c)
	case *AllocateNodeID:
		_, err := t.nextNodeID()
		return err
	}
	return fmt.Errorf("%w: %T", ErrUnknownCommand, cmd)
}

// encodable refuses a command that DecodeCommand would not read back (a
// config value or a delete list beyond the codec's bounds): proposing it
// would put an entry in the log that no node can apply.
func encodable(cmd Command) error {
	if cmd == nil {
		return fmt.Errorf("%w: nil command", ErrInvalidRequest)
	}
	if _, err := DecodeCommand(cmd.AppendTo(nil)); err != nil {
		return fmt.Errorf("%w: %s beyond the command's bounds: %v", ErrInvalidRequest, cmd.Type(), err)
	}
	return nil
}

func (t *Tables) validateRegisterBroker(c *RegisterBroker) error {
	if c.NodeID < 0 {
		return fmt.Errorf("%w: broker id %d is negative", ErrInvalidRequest, c.NodeID)
	}
	for _, a := range []struct{ what, v string }{{"kafka address", c.KafkaAddr}, {"rpc address", c.RPCAddr}} {
		if err := checkHostPort(a.v); err != nil {
			return fmt.Errorf("%w: broker %d %s %q: %s", ErrInvalidRequest, c.NodeID, a.what, a.v, err)
		}
	}
	if len(c.Rack) > MaxRackLen {
		return fmt.Errorf("%w: broker %d rack of %d bytes, at most %d", ErrInvalidRequest, c.NodeID, len(c.Rack), MaxRackLen)
	}
	if _, ok := t.brokers[c.NodeID]; !ok && len(t.brokers) >= MaxBrokers {
		return fmt.Errorf("%w: %d brokers registered, at most %d", ErrInvalidRequest, len(t.brokers), MaxBrokers)
	}
	return nil
}

// checkHostPort accepts host:port with a port in 1..65535. Pure: no lookup.
func checkHostPort(s string) error {
	if len(s) > MaxAddrLen {
		return fmt.Errorf("longer than %d bytes", MaxAddrLen)
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q not in 1..65535", port)
	}
	return nil
}

// CheckTopicName applies Kafka's rules: 1 to 249 characters of
// [a-zA-Z0-9._-], and not "." or "..". Errors wrap ErrInvalidTopic.
func CheckTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: topic name is empty", ErrInvalidTopic)
	case name == "." || name == "..":
		return fmt.Errorf("%w: topic name cannot be %q", ErrInvalidTopic, name)
	case len(name) > MaxTopicNameLen:
		return fmt.Errorf("%w: topic name of %d characters, at most %d", ErrInvalidTopic, len(name), MaxTopicNameLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: topic name %q: character %q at %d; allowed are ASCII letters, digits, '.', '_' and '-'", ErrInvalidTopic, name, c, i)
		}
	}
	return nil
}

// collisionKey is the name Kafka compares for collisions: metric names
// replace '.' with '_', so "a.b" and "a_b" cannot both exist.
func collisionKey(name string) string { return strings.ReplaceAll(name, ".", "_") }

func (t *Tables) validateCreateTopic(c *CreateTopic) error {
	if err := t.validateTopicHeader(c); err != nil {
		return err
	}
	if err := t.checkAssignment(c.Name, c.Assignment, int(c.Partitions), 0, int(c.ReplicationFactor)); err != nil {
		return err
	}
	return decls().checkAll(c.Configs)
}

// validateTopicHeader checks all of a new topic but its assignment and
// configs: name, id, partition count, replication factor.
func (t *Tables) validateTopicHeader(c *CreateTopic) error {
	if err := CheckTopicName(c.Name); err != nil {
		return err
	}
	if _, ok := t.byName[c.Name]; ok {
		return fmt.Errorf("%w: topic %q", ErrTopicExists, c.Name)
	}
	if other, ok := t.byCollision[collisionKey(c.Name)]; ok {
		return fmt.Errorf("%w: topic %q collides with existing topic %q ('.' and '_' are the same in metric names)", ErrInvalidTopic, c.Name, other)
	}
	if c.ID.IsZero() {
		return fmt.Errorf("%w: topic %q: zero topic id", ErrInvalidRequest, c.Name)
	}
	if _, ok := t.topics[c.ID]; ok {
		return fmt.Errorf("%w: topic %q: topic id %s already in use", ErrInvalidRequest, c.Name, c.ID)
	}
	if len(t.topics) >= MaxTopics {
		return fmt.Errorf("%w: %d topics exist, at most %d", ErrInvalidRequest, len(t.topics), MaxTopics)
	}
	if err := t.checkPartitionCount(c.Name, 0, c.Partitions); err != nil {
		return err
	}
	return checkReplicationFactor(c.Name, c.ReplicationFactor, len(t.brokers))
}

// checkPartitionCount checks a new partition total for a topic that has
// have partitions now.
func (t *Tables) checkPartitionCount(name string, have int, total int32) error {
	if total < 1 || total > MaxPartitionsPerTopic {
		return fmt.Errorf("%w: topic %q: %d partitions: want 1 to %d", ErrInvalidPartitions, name, total, MaxPartitionsPerTopic)
	}
	if int(total) <= have {
		return fmt.Errorf("%w: topic %q has %d partitions: the new total %d must be larger", ErrInvalidPartitions, name, have, total)
	}
	if t.partitions-have+int(total) > maxSnapshotPartitions {
		return fmt.Errorf("%w: topic %q: %d partitions exist, at most %d in the cluster", ErrInvalidPartitions, name, t.partitions, maxSnapshotPartitions)
	}
	return nil
}

// checkReplicationFactor checks a topic's factor against the registered
// brokers, as Kafka words it.
func checkReplicationFactor(name string, rf int16, brokers int) error {
	switch {
	case rf < 1:
		return fmt.Errorf("%w: topic %q: replication factor %d: want -1 (the default) or at least 1", ErrInvalidReplicationFactor, name, rf)
	case rf > MaxReplicationFactor:
		return fmt.Errorf("%w: topic %q: replication factor %d: at most %d", ErrInvalidReplicationFactor, name, rf, MaxReplicationFactor)
	case int(rf) > brokers:
		return fmt.Errorf("%w: topic %q: replication factor %d larger than the %d registered brokers", ErrInvalidReplicationFactor, name, rf, brokers)
	}
	return nil
}

// checkAssignment checks a manual (or planned) assignment of partitions
// [first, first+n) of a topic: n replica lists of rf distinct registered
// brokers each. Messages name partitions by their index in the topic.
func (t *Tables) checkAssignment(name string, a [][]model.NodeID, n, first, rf int) error {
	if len(a) != n {
		return fmt.Errorf("%w: topic %q: %d partitions to place, %d assigned", ErrInvalidReplicaAssignment, name, n, len(a))
	}
	for i, replicas := range a {
		p := first + i
		if len(replicas) != 0 && len(replicas) != rf {
			return fmt.Errorf("%w: topic %q: partition %d has %d replicas, not the replication factor %d", ErrInvalidReplicaAssignment, name, p, len(replicas), rf)
		}
		if err := t.checkReplicaSet(name, p, replicas); err != nil {
			return err
		}
	}
	return nil
}

// checkReplicaSet checks one partition's replica list (a placement or a
// reassignment's target): not empty, at most MaxReplicationFactor,
// distinct registered brokers.
func (t *Tables) checkReplicaSet(name string, p int, replicas []model.NodeID) error {
	switch {
	case len(replicas) == 0:
		return fmt.Errorf("%w: topic %q: partition %d has an empty replica list", ErrInvalidReplicaAssignment, name, p)
	case len(replicas) > MaxReplicationFactor:
		return fmt.Errorf("%w: topic %q: partition %d has %d replicas, at most %d", ErrInvalidReplicaAssignment, name, p, len(replicas), MaxReplicationFactor)
	}
	for j, id := range replicas {
		if _, ok := t.brokers[id]; !ok {
			return fmt.Errorf("%w: topic %q: partition %d names broker %d, which is not registered", ErrInvalidReplicaAssignment, name, p, id)
		}
		if slices.Contains(replicas[:j], id) {
			return fmt.Errorf("%w: topic %q: partition %d names broker %d more than once", ErrInvalidReplicaAssignment, name, p, id)
		}
	}
	return nil
}

func (t *Tables) topicByID(id model.TopicID) (*Topic, error) {
	if id.IsZero() {
		return nil, fmt.Errorf("%w: zero topic id", ErrInvalidRequest)
	}
	tp, ok := t.topics[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownTopicID, id)
	}
	return tp, nil
}

func (t *Tables) validateDeleteTopic(c *DeleteTopic) (*Topic, error) {
	tp, err := t.topicByID(c.ID)
	if err != nil {
		return nil, err
	}
	if tp.Internal {
		return nil, fmt.Errorf("%w: topic %q is internal and cannot be deleted", ErrInternalTopic, tp.Name)
	}
	return tp, nil
}

func (t *Tables) validateCreatePartitions(c *CreatePartitions) (*Topic, error) {
	tp, err := t.topicByID(c.ID)
	if err != nil {
		return nil, err
	}
	if err := t.checkPartitionCount(tp.Name, len(tp.Partitions), c.NewTotal); err != nil {
		return nil, err
	}
	return tp, t.checkAssignment(tp.Name, c.Assignment, int(c.NewTotal)-len(tp.Partitions), len(tp.Partitions), int(tp.ReplicationFactor))
}

// validateAlterConfigs returns the topic and its configs after the change.
func (t *Tables) validateAlterConfigs(c *AlterConfigs) (*Topic, map[string]string, error) {
	var tp *Topic
	switch {
	case !c.ID.IsZero():
		var err error
		if tp, err = t.topicByID(c.ID); err != nil {
			return nil, nil, err
		}
	case c.Name != "":
		var ok bool
		if tp, ok = t.byName[c.Name]; !ok {
			return nil, nil, fmt.Errorf("%w: topic %q", ErrUnknownTopic, c.Name)
		}
	default:
		return nil, nil, fmt.Errorf("%w: alter configs names no topic", ErrInvalidRequest)
	}
	table := decls()
	if err := table.checkAll(c.Set); err != nil {
		return nil, nil, err
	}
	if c.Replace {
		if len(c.Delete) > 0 {
			return nil, nil, fmt.Errorf("%w: a replacing alter configs deletes nothing by key", ErrInvalidRequest)
		}
		return tp, cloneConfigs(c.Set), nil
	}
	next := cloneConfigs(tp.Configs)
	for k, v := range c.Set {
		next[k] = v
	}
	for _, k := range c.Delete {
		if _, ok := table.lookup(k); !ok {
			return nil, nil, fmt.Errorf("%w: unknown topic config %q", ErrInvalidConfig, k)
		}
		if _, ok := c.Set[k]; ok {
			return nil, nil, fmt.Errorf("%w: config %q both set and deleted", ErrInvalidRequest, k)
		}
		delete(next, k)
	}
	return tp, next, nil
}

func cloneConfigs(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (t *Tables) validateAllocateProducerIDs(c *AllocateProducerIDs) error {
	if c.Count < 1 || c.Count > MaxProducerIDBlock {
		return fmt.Errorf("%w: producer id block of %d: want 1 to %d", ErrInvalidRequest, c.Count, MaxProducerIDBlock)
	}
	if t.nextProducerID > math.MaxInt64-c.Count {
		return fmt.Errorf("%w: producer ids exhausted", ErrInvalidRequest)
	}
	return nil
}
