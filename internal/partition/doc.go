// Package partition is one replica of a partition: an etcd raft RawNode
// whose log is the partition's storage log (there is no second Raft log),
// driven by its shard through a Manager, the shard's Loop.
//
// # The loop (one per shard, no per-partition goroutine or timer)
//
//	inbox batch: Produce / Propose on replicas (leader stamps offsets)
//	     │
//	Manager.AfterBatch:
//	     for each dirty replica: rd := rn.Ready()          (AsyncStorageWrites)
//	         MsgStorageAppend → engine.Append + SetHardState; responses held
//	         MsgStorageApply  → apply now: high watermark, waiters, commands
//	     engine.StartRound → Shard.Go(round.Wait) ─► helper: fdatasync(s)
//	     │                                                 │
//	completion (next iteration): FinishRound; held responses stepped into
//	their groups (the append is durable); groups commit → next AfterBatch
//	applies → produce requests complete.
//
// One sync round covers every group of the shard, so an acks=all produce
// costs about one fdatasync whatever the number of partitions. A response
// with nothing left to write (a pre-vote) is delivered without a round.
//
// # Offsets
//
// A data entry is a Kafka record batch as the client sent it, with the
// base offset and leader epoch (the Raft term) stamped by the leader when
// it proposes. The leader's next offset is the end of its whole Raft log
// (tail), never a counter kept across leader changes, so Raft's log
// matching makes offsets identical on every replica. Raft-only entries
// (leader no-ops, configuration changes) are stored as internal entries:
// the raft entry type in the first payload byte, no Kafka offsets, never
// served to Kafka clients.
//
//	storage entry  = header{index, term, offset, type, count} + payload
//	data payload   = record batch v2 (baseOffset = header offset)
//	internal       = [raft entry type byte][raft entry data]
//
// # High watermark and reads
//
// The high watermark is the offset after the last committed data entry.
// After every change the owner publishes an immutable ReadState (storage
// view, high watermark, log start and end, leader epoch) through an
// atomic pointer; fetches on connection goroutines read from it without a
// shard hop and never past its high watermark, and long polls wait on
// ReadState.Changed.
//
// # Durability contract
//
// A produce completes only after its entry is committed, and a group
// commits only entries its members report durable (MsgStorageAppendResp
// is stepped only after the round that wrote them). Hard states go
// through engine.SetHardState, which caps the commit index at what was
// durable before the round. On restart raft starts with Applied = the
// stored commit, the high watermark is recomputed from that entry, and a
// group of one campaigns at once: its new term's no-op commits the rest.
//
// # Peers, ticks and quiescence (peers.go)
//
// Messages for other nodes go to the Manager's outbox and leave, one call
// per peer, at the end of the shard's loop pass (Peers.Send); responses
// raft holds until an append is durable (a follower's MsgAppResp, a vote)
// leave when the round that wrote them ends. Messages from peers come in
// through Manager.Step. Only awake groups are ticked (Manager.Tick, every
// TickInterval; a follower campaigns after ElectionTicks). A leader whose
// group has nothing left to do (everything committed and matched by every
// live follower) sends a last heartbeat marked quiesce and stops ticking;
// a follower that receives it while caught up stops too. A proposal, any
// message but a heartbeat, or a member's node going down or coming back
// (Manager.Wake) wakes the group. A group of one never ticks. A leader
// tracks its in-sync replicas (ReplicaLagMax) for Metadata.
//
// # Membership (conf.go)
//
// A new group's first members write its configuration as its first
// entries (raft's Bootstrap; the first member campaigns once they are
// applied). Changes are joint-consensus configuration changes proposed by
// the leader (SetVoters, AddLearner); a removed leader steps down. Each
// applied configuration is stored with its index and is raft's initial
// one on open; a replica added to a running group (Config.Join) starts
// with none and learns the membership from the leader's log.
//
// # Ownership
//
// A Manager and its Replicas live on their shard: every method is owner
// only, except Replica.State and Replica.Key.
package partition
