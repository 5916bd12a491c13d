// Package group is Petrel's classic-protocol consumer group coordinator:
// JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups, ListGroups,
// DeleteGroups, OffsetCommit, OffsetFetch and OffsetDelete (APIs lists the
// versions), storing groups and offsets in __consumer_offsets records
// encoded exactly as Kafka encodes them, so Kafka's tools can read them.
//
// One Coordinator serves the groups of one __consumer_offsets partition;
// the broker routes a group to partition PartitionFor(group, n), Kafka's
// rule, and answers FindCoordinator itself.
//
// # A state machine and a shell
//
// Coordinator is a pure, deterministic state machine, in the manner of etcd
// raft's RawNode: it takes requests and clock ticks, and hands back what to
// persist and what to answer. It reads no clock, starts no goroutine and
// does no I/O, so tests drive it with an explicit clock (testdata/). The
// loop that drives it (Service does exactly this, on one goroutine):
//
//	c, _ := group.New(cfg, crypto/rand.Reader)
//	for each record in the partition, oldest first: c.Replay(key, value)
//	loop:
//	    c.Handle(now, id, client, req)        // any number of requests
//	    c.Tick(now)                           // when NextDeadline is due
//	    rd := c.Ready()
//	    log.Append(rd.Records)                // returns when durable
//	    c.Persisted(rd.Through)
//	    send rd.Responses (and those of the Ready after Persisted)
//	    sleep until a request arrives or NextDeadline
//
// # Durability contract
//
// Every response is held until every record the coordinator created before
// it is persisted: an OffsetCommit is acknowledged after its records, a
// SyncGroup after the group metadata record the leader's assignment wrote,
// a DeleteGroups after its tombstones, and no response ever shows state a
// crash could undo. If an append fails the coordinator must be thrown away
// and rebuilt from the log (Service stops and answers ErrLogFailed).
//
// Replaying every record of the partition in order rebuilds the groups as
// Kafka reloads them once their members are gone: Empty, with protocol
// type, generation and committed offsets. Members are not restored: they
// find out with UNKNOWN_MEMBER_ID on their next heartbeat and rejoin.
//
// # Group lifecycle
//
//	from                 event                                         to
//	Empty                a member joins                                PreparingRebalance
//	PreparingRebalance   every member rejoined, or rebalance timeout   CompletingRebalance
//	                     (members that did not rejoin are removed)     (Empty if none is left)
//	CompletingRebalance  the leader's SyncGroup                        Stable
//	CompletingRebalance  join with new metadata, leave, expiry, or     PreparingRebalance
//	                     members missing SyncGroup at the timeout
//	Stable               join (leader or new metadata), leave, expiry  PreparingRebalance
//	-                    a group that does not exist reads as Dead     -
//
// The first rebalance of an empty group waits InitialRebalanceDelay for
// more members (each new member extends it, up to the rebalance timeout).
// Timers: a member's session (restarted by every request it sends) removes
// it when it ends; the rebalance timeout removes members that did not
// rejoin, and after the join, members that did not sync; a member id
// handed out with MEMBER_ID_REQUIRED is forgotten after the session
// timeout. Every map is bounded: MaxGroups, MaxGroupSize (pending ids
// included), MaxOffsetMetadataBytes, MaxProtocolMetadataBytes.
//
// # Records (Kafka's __consumer_offsets format; integers big-endian)
//
//	offset commit   key   = version int16 (1) | group string | topic string | partition int32
//	                value = version int16 (3) | offset int64 | leader epoch int32 |
//	                        metadata string | commit timestamp int64 (ms)
//	group metadata  key   = version int16 (2) | group string
//	                value = version int16 (3) | protocol type string | generation int32 |
//	                        protocol nullable string | leader nullable string |
//	                        state timestamp int64 (ms) | members [member]
//	                member = member id string | instance id nullable string |
//	                        client id string | client host string |
//	                        rebalance timeout int32 | session timeout int32 |
//	                        subscription bytes | assignment bytes
//	tombstone       the key with a null value: an offset deleted, or a group
//	                deleted (its offsets get their own tombstones first)
//
//	string = length int16 | bytes; bytes = length int32 | bytes; null = length -1
//
// Keys of version 0 (offsets, read like 1) and values of older versions are
// read; keys of version 3 and up (other group types, newer Kafka) are
// skipped on replay.
//
// # Not done yet
//
// Offsets retention (offsets.retention.minutes) and the removal of empty
// groups that have expired; OffsetCommit/OffsetFetch v10 (topic ids);
// transactional offsets (TxnOffsetCommit); the KIP-848 consumer protocol.
package group
