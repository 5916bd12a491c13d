package cluster

import (
	"encoding/binary"
	"fmt"

	"github.com/petrel-streaming/petrel/internal/model"
)

// CommandType is the first byte of an encoded command.
type CommandType uint8

// Command types. Values are on disk (in the controller log): never reuse
// or renumber one.
const (
	TypeRegisterBroker      CommandType = 1
	TypeCreateTopic         CommandType = 2
	TypeDeleteTopic         CommandType = 3
	TypeCreatePartitions    CommandType = 4
	TypeAlterConfigs        CommandType = 5
	TypeAllocateProducerIDs CommandType = 6
	// Reassignment and decommission (reassign.go).
	TypeAlterReassignments   CommandType = 7
	TypeCompleteReassignment CommandType = 8
	TypeSetBrokerDraining    CommandType = 9
	// Maintenance mode (maintenance.go).
	TypeSetBrokerMaintenance CommandType = 10
	// Node id allocation for joining nodes (nodeid.go).
	TypeAllocateNodeID CommandType = 11
)

// commandVersion is the encoding version of every command type today. A
// decoder refuses versions it does not know: a newer node's command in an
// older node's log is an upgrade-order error, not something to guess at.
const commandVersion = 1

func (t CommandType) String() string {
	switch t {
	case TypeRegisterBroker:
		return "register-broker"
	case TypeCreateTopic:
		return "create-topic"
	case TypeDeleteTopic:
		return "delete-topic"
	case TypeCreatePartitions:
		return "create-partitions"
	case TypeAlterConfigs:
		return "alter-configs"
	case TypeAllocateProducerIDs:
		return "allocate-producer-ids"
	case TypeAlterReassignments:
		return "alter-reassignments"
	case TypeCompleteReassignment:
		return "complete-reassignment"
	case TypeSetBrokerDraining:
		return "set-broker-draining"
	case TypeSetBrokerMaintenance:
		return "set-broker-maintenance"
	case TypeAllocateNodeID:
		return "allocate-node-id"
	}
	return fmt.Sprintf("command-type(%d)", uint8(t))
}

// Command is one change to the controller state, proposed by a frontend
// and applied, in log order, by every node's backend.
type Command interface {
	Type() CommandType
	// AppendTo appends the encoding (type, version, body) to dst.
	AppendTo(dst []byte) []byte
	// decodeBody reads the body of this command's current version.
	decodeBody(r *reader)
}

// RegisterBroker adds a broker or updates its addresses and rack.
type RegisterBroker struct {
	NodeID    model.NodeID
	KafkaAddr string // host:port clients connect to
	RPCAddr   string // host:port of the node-to-node transport
	Rack      string // "" when none
}

// CreateTopic creates a topic with a complete assignment: the proposer
// resolves defaults and places replicas (see PlanCreateTopic), so every
// node applies the same thing.
type CreateTopic struct {
	Name              string
	ID                model.TopicID // random, chosen by the proposer
	Partitions        int32
	ReplicationFactor int16
	Assignment        [][]model.NodeID // replicas per partition, preferred leader first
	Configs           map[string]string
}

// DeleteTopic removes a topic and all its partitions.
type DeleteTopic struct {
	ID model.TopicID
}

// CreatePartitions grows a topic to NewTotal partitions; Assignment holds
// the replicas of the new ones only.
type CreatePartitions struct {
	ID         model.TopicID
	NewTotal   int32
	Assignment [][]model.NodeID
}

// AlterConfigs changes a topic's configs. The topic is named by ID, or by
// Name when ID is zero. With Replace (legacy AlterConfigs) the topic's
// configs become exactly Set; otherwise Set entries are set and Delete
// keys removed (IncrementalAlterConfigs).
type AlterConfigs struct {
	ID      model.TopicID
	Name    string
	Set     map[string]string
	Delete  []string
	Replace bool
}

// AllocateProducerIDs reserves a block of Count producer ids; its Result's
// FirstProducerID is the first of the block.
type AllocateProducerIDs struct {
	Count int64
}

// Type implements Command.
func (*RegisterBroker) Type() CommandType { return TypeRegisterBroker }

// Type implements Command.
func (*CreateTopic) Type() CommandType { return TypeCreateTopic }

// Type implements Command.
func (*DeleteTopic) Type() CommandType { return TypeDeleteTopic }

// Type implements Command.
func (*CreatePartitions) Type() CommandType { return TypeCreatePartitions }

// Type implements Command.
func (*AlterConfigs) Type() CommandType { return TypeAlterConfigs }

// Type implements Command.
func (*AllocateProducerIDs) Type() CommandType { return TypeAllocateProducerIDs }

func header(dst []byte, t CommandType) []byte { return append(dst, byte(t), commandVersion) }

// AppendTo implements Command.
func (c *RegisterBroker) AppendTo(dst []byte) []byte {
	dst = header(dst, c.Type())
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.NodeID))
	dst = appendString(dst, c.KafkaAddr)
	dst = appendString(dst, c.RPCAddr)
	return appendString(dst, c.Rack)
}

func (c *RegisterBroker) decodeBody(r *reader) {
	c.NodeID = model.NodeID(int32(r.u32("node id")))
	c.KafkaAddr = r.string("kafka addr", MaxAddrLen)
	c.RPCAddr = r.string("rpc addr", MaxAddrLen)
	c.Rack = r.string("rack", MaxRackLen)
}

// AppendTo implements Command.
func (c *CreateTopic) AppendTo(dst []byte) []byte {
	dst = header(dst, c.Type())
	dst = appendString(dst, c.Name)
	dst = append(dst, c.ID[:]...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.Partitions))
	dst = binary.BigEndian.AppendUint16(dst, uint16(c.ReplicationFactor))
	dst = appendAssignment(dst, c.Assignment)
	return appendConfigs(dst, c.Configs)
}

func (c *CreateTopic) decodeBody(r *reader) {
	c.Name = r.string("topic name", MaxTopicNameLen)
	c.ID = r.topicID("topic id")
	c.Partitions = int32(r.u32("partitions"))
	c.ReplicationFactor = int16(r.u16("replication factor"))
	c.Assignment = r.assignment("assignment", MaxPartitionsPerTopic)
	c.Configs = r.configs("configs")
}

// AppendTo implements Command.
func (c *DeleteTopic) AppendTo(dst []byte) []byte {
	return append(header(dst, c.Type()), c.ID[:]...)
}

func (c *DeleteTopic) decodeBody(r *reader) { c.ID = r.topicID("topic id") }

// AppendTo implements Command.
func (c *CreatePartitions) AppendTo(dst []byte) []byte {
	dst = append(header(dst, c.Type()), c.ID[:]...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.NewTotal))
	return appendAssignment(dst, c.Assignment)
}

func (c *CreatePartitions) decodeBody(r *reader) {
	c.ID = r.topicID("topic id")
	c.NewTotal = int32(r.u32("new total"))
	c.Assignment = r.assignment("assignment", MaxPartitionsPerTopic)
}

// AppendTo implements Command.
func (c *AlterConfigs) AppendTo(dst []byte) []byte {
	dst = append(header(dst, c.Type()), c.ID[:]...)
	dst = appendString(dst, c.Name)
	dst = appendConfigs(dst, c.Set)
	dst = appendStrings(dst, c.Delete)
	return appendBool(dst, c.Replace)
}

func (c *AlterConfigs) decodeBody(r *reader) {
	c.ID = r.topicID("topic id")
	c.Name = r.string("topic name", MaxTopicNameLen)
	c.Set = r.configs("set")
	c.Delete = r.strings("delete", MaxConfigsPerCommand, MaxConfigKeyLen)
	c.Replace = r.bool("replace")
}

// AppendTo implements Command.
func (c *AllocateProducerIDs) AppendTo(dst []byte) []byte {
	return binary.BigEndian.AppendUint64(header(dst, c.Type()), uint64(c.Count))
}

func (c *AllocateProducerIDs) decodeBody(r *reader) { c.Count = int64(r.u64("count")) }

// newCommand returns an empty command of type t, or nil.
func newCommand(t CommandType) Command {
	switch t {
	case TypeRegisterBroker:
		return &RegisterBroker{}
	case TypeCreateTopic:
		return &CreateTopic{}
	case TypeDeleteTopic:
		return &DeleteTopic{}
	case TypeCreatePartitions:
		return &CreatePartitions{}
	case TypeAlterConfigs:
		return &AlterConfigs{}
	case TypeAllocateProducerIDs:
		return &AllocateProducerIDs{}
	case TypeAlterReassignments:
		return &AlterReassignments{}
	case TypeCompleteReassignment:
		return &CompleteReassignment{}
	case TypeSetBrokerDraining:
		return &SetBrokerDraining{}
	case TypeSetBrokerMaintenance:
		return &SetBrokerMaintenance{}
	case TypeAllocateNodeID:
		return &AllocateNodeID{}
	}
	return nil
}

// DecodeCommand decodes one command encoded by AppendTo. It checks
// structure and bounds only (Validate checks meaning) and never panics:
// bad input gives an error wrapping model.ErrCorrupt, or ErrUnknownCommand
// for a type or version this build does not know.
func DecodeCommand(b []byte) (Command, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("cluster: command of %d bytes: %w", len(b), model.ErrCorrupt)
	}
	t, v := CommandType(b[0]), b[1]
	c := newCommand(t)
	if c == nil || v != commandVersion {
		return nil, fmt.Errorf("%w: %s version %d", ErrUnknownCommand, t, v)
	}
	r := &reader{b: b[2:]}
	c.decodeBody(r)
	if err := r.done(t.String()); err != nil {
		return nil, err
	}
	return c, nil
}
