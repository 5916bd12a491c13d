// Package cluster is the controller's state machine: the deterministic
// core of controller Raft group 0, which holds the cluster's metadata
// (brokers, topics, partition assignments, topic configs, producer id
// blocks). It does no I/O, reads no clock and draws no random numbers;
// internal/partition runs the Raft group, internal/node wires it, and a
// single node today and a cluster later run the same code.
//
// # Frontend, backend, tables
//
//	 any goroutine (Kafka handler)         group 0's apply loop (one owner)
//	┌──────────────────────────────┐      ┌──────────────────────────────┐
//	│ frontend                     │      │ backend                      │
//	│ tables := view.Load()        │      │ for each committed entry:    │
//	│ cmd, err := tables.Plan…()   │      │   cmd, err := DecodeCommand  │
//	│   (defaults, placement,      │ ───► │   res, err := s.Apply(i, cmd)│
//	│    Validate)                 │ log  │   view.Store(s.Tables())     │
//	│ propose cmd.AppendTo(nil)    │      │   complete the waiter of i   │
//	└──────────────────────────────┘      └──────────────────────────────┘
//	           ▲            read views (*Tables, immutable)      │
//	           └──────────────────────────────────────────────────┘
//
// The frontend resolves a request into a complete command: PlanCreateTopic
// fills -1 defaults and places replicas; the proposer draws the topic's
// random id. It pre-checks with Tables.Validate so most errors never reach
// the log. The backend's State.Apply checks again, because in a cluster a
// conflicting proposal may commit first; a command that fails there changes
// nothing (but the applied index) and yields the same error on every node,
// which the waiting request returns. Kafka error codes come from one table,
// ErrorCode(err); the error's text is the error message.
//
// State.Tables returns an immutable *Tables (copy-on-write: the topic and
// broker maps are copied once per change, topics and their partitions are
// shared), to publish through an atomic.Pointer for every shard.
//
// # Commands
//
//	RegisterBroker       {NodeID, KafkaAddr, RPCAddr, Rack}      add or update a broker
//	CreateTopic          {Name, ID, Partitions, ReplicationFactor, Assignment, Configs}
//	DeleteTopic          {ID}                                    internal topics refused
//	CreatePartitions     {ID, NewTotal, Assignment of the new}   must grow
//	AlterConfigs         {ID or Name, Set, Delete, Replace}      Replace: legacy AlterConfigs
//	AllocateProducerIDs  {Count}                                 Result.FirstProducerID
//	AlterReassignments   {Topic, Moves: {Partition, Target}}     Result.Moves (per move)
//	CompleteReassignment {Topic, Partition, Replicas}            only if Target == Replicas
//	SetBrokerDraining    {NodeID, Draining}                      decommission flag
//	SetBrokerMaintenance {NodeID, Enabled}                       maintenance flag (at most one broker)
//	AllocateNodeID       {}                                      Result.NodeID, never given twice
//
// # Node ids (nodeid.go)
//
// A node joining without a node id gets one from AllocateNodeID: one
// above both the highest registered broker id and the highest id
// allocated before (Tables.NodeIDHighWater, replicated and in
// snapshots). The log orders allocations, so concurrent joiners get
// distinct ids, and an id is never reused, not even a decommissioned
// broker's or one whose node never registered.
//
// # Reassignment and decommission (reassign.go, decommission.go)
//
// A Partition with a non-nil Target is moving there (Kafka's "adding" are
// Target − Replicas, "removing" Replicas − Target). Each node's driver
// moves the Raft voters to Target by joint consensus, then proposes
// CompleteReassignment{Replicas: Target}: Replicas = Target, Target = nil,
// Moved = true (replicas added later join the running group instead of
// bootstrapping it). A Move with a nil Target cancels: Target becomes
// Replicas and the driver moves the voters back, then completes. Each
// move of an AlterReassignments succeeds or fails alone (Result.Moves;
// CheckMoves pre-checks them); a Target equal to Replicas with no move in
// progress changes nothing. Validate judges only the command as a whole.
//
// Decommission: SetBrokerDraining{id, true}, then the commands of
// Tables.PlanDecommission(id) (each replica on id replaced in place by the
// least loaded non-draining broker outside the set, rack-aware), until
// Tables.DecommissionStatus(id).Done(). Draining brokers take no new
// replicas from placement either; re-registering keeps the flag.
// PlanRecommission(id) cancels the moves still taking replicas off id.
//
// # Maintenance mode (maintenance.go)
//
// SetBrokerMaintenance{id, true} sets Broker.Maintenance: the broker's
// node then hands away every leadership it holds and no node gives it
// one (internal/node acts on the flag; the replicas stay). At most one
// broker is in maintenance at a time and never the only broker
// (ErrMaintenanceRefused); disabling is always allowed; re-registering
// keeps the flag. Tables.InMaintenance names the broker in it.
//
// # Command encoding (big-endian)
//
//	type u8 | version u8 (=1) | body
//
//	str        = len u16 | bytes                 (each field has its own bound)
//	replicas   = n u8 | n × node id i32          (n ≤ MaxReplicationFactor)
//	assignment = n u32 | n × replicas            (n ≤ MaxPartitionsPerTopic)
//	configs    = n u16 | n × (key str, value str) ascending by key, no duplicates
//
//	1 RegisterBroker      node id i32 | kafka addr str | rpc addr str | rack str
//	2 CreateTopic         name str | id [16] | partitions i32 | rf i16 | assignment | configs
//	3 DeleteTopic         id [16]
//	4 CreatePartitions    id [16] | new total i32 | assignment
//	5 AlterConfigs        id [16] (zero: by name) | name str | set configs |
//	                      delete = n u16 | n × key str | replace u8 (0 or 1)
//	6 AllocateProducerIDs count i64
//	7 AlterReassignments  id [16] | n u32 | n × (partition i32 | kind u8 |
//	                      replicas if kind 1)     kind 0: cancel, 1: target
//	8 CompleteReassignment id [16] | partition i32 | replicas
//	9 SetBrokerDraining   node id i32 | draining u8 (0 or 1)
//	10 SetBrokerMaintenance node id i32 | enabled u8 (0 or 1)
//	11 AllocateNodeID     (no body)
//
// DecodeCommand checks structure and bounds, never panics, refuses
// trailing bytes, and reports corruption wrapping model.ErrCorrupt (an
// unknown type or version: ErrUnknownCommand). A count is checked against
// the bytes left before anything is allocated. Validate checks meaning,
// and first that the command decodes from its own encoding, so nothing
// beyond the codec's bounds is ever proposed.
//
// # Snapshot
//
// AppendSnapshot encodes the replicated state canonically (sorted, so the
// same commands give the same bytes on every node); snapshot.go draws the
// layout. It ends in a CRC-32C. DecodeSnapshot re-validates every topic
// and broker as Apply would. Broker-level topic config defaults are node
// settings, not state: SetTopicDefaults after NewState or DecodeSnapshot.
//
// # Topic configs
//
// configdecl.go declares every Kafka topic config Petrel knows once: name,
// kmsg type, default, bounds or allowed values, its broker-level synonym
// (retention.ms → log.retention.ms), documentation, and whether Petrel acts
// on it (Supported) or only stores and describes it (Stored). Unknown keys
// and bad values are INVALID_CONFIG with the key and value in the message.
// cleanup.policy=compact and unclean.leader.election.enable=true are
// refused. segment.bytes is at least 1 MiB and segment.ms at least 1 s.
// Resolve gives the typed TopicConfig partitions use (topic value, else
// broker default, else declared default); DescribeTopicConfigs and
// DescribeBrokerConfigs give what DescribeConfigs answers, with sources and
// synonyms. Broker configs are all read-only.
//
// # Errors and Kafka codes
//
//	ErrTopicExists               TOPIC_ALREADY_EXISTS
//	ErrUnknownTopic              UNKNOWN_TOPIC_OR_PARTITION
//	ErrUnknownTopicID            UNKNOWN_TOPIC_ID
//	ErrInvalidTopic              INVALID_TOPIC_EXCEPTION  (name rules, '.'/'_' collision)
//	ErrInvalidPartitions         INVALID_PARTITIONS       (< 1, > MaxPartitionsPerTopic, not growing)
//	ErrInvalidReplicationFactor  INVALID_REPLICATION_FACTOR (< 1, > registered brokers)
//	ErrInvalidReplicaAssignment  INVALID_REPLICA_ASSIGNMENT
//	ErrInvalidConfig             INVALID_CONFIG
//	ErrInvalidRequest            INVALID_REQUEST
//	ErrInternalTopic             POLICY_VIOLATION         (deleting __consumer_offsets)
//	ErrNoReassignmentInProgress  NO_REASSIGNMENT_IN_PROGRESS (cancelling a partition not moving)
//	ErrUnknownBroker             BROKER_NOT_AVAILABLE     (draining or planning an unregistered id)
//	ErrNoReplacementBroker       INVALID_REPLICA_ASSIGNMENT (no broker can take a replica)
//	ErrMaintenanceRefused        POLICY_VIOLATION         (a second broker, or the only one, into maintenance)
//	ErrStaleCompletion           (not for clients: the completing node ignores it)
package cluster
