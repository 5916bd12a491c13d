// Package node is the composition root: it wires the shard runtime, one
// storage engine and partition Manager per shard, the controller, the
// consumer group coordinators, the Kafka listener and the admin API into a
// running node, and takes them down again in order.
//
// # Start-up
//
//	lock <data>/.lock                   one process per data directory
//	<data>/node.json                    cluster id, shard count, node id and the
//	                                    controller's founding voters, written once
//	rpc transport; form or join          with --seeds only (a cluster of one has none)
//	shard.New + engine.Open per shard   <data>/shards/<i>/ (journal replay, tail checks)
//	Manager as each shard's Loop        sync rounds for every Raft group of the shard
//	controller: Raft group 0 on shard 0 replays its whole log into cluster.State,
//	            then RegisterBroker commits (proof that it leads and is caught up)
//	reconciler: opens a replica for every partition the tables place here
//	groups:     __consumer_offsets (created on first start), one group.Service
//	            per partition, each loaded from its partition once it serves
//	Kafka listener (kafka.Server with every key file), admin API, retention loop
//
// # Who owns what
//
// A partition's replica lives on shard ShardFor(HashPartition(key)); the
// node reaches it only with Runtime.InvokeOn (Produce, DeleteRecords,
// retention) or through its published ReadState (fetch, metadata, list
// offsets), kept in a sync.Map by the reconciler. The controller's State
// is owned by shard 0 (Apply runs there); its Tables are published through
// an atomic pointer. Controller proposals carry an 8-byte nonce so the
// proposer can match its result when the command applies.
//
// # A cluster (cluster.go, join.go, leaders.go, reassign.go)
//
// A node started with seeds runs the rpc transport. The founders (the
// nodes whose addresses are the seeds) form the cluster: each probes every
// seed until all answer, takes their node ids as the controller's voters
// and derives the cluster id from them, and records both in node.json. A
// node whose address is not a seed joins a formed cluster through it: it
// is registered and added to the controller group as a learner.
//
//	routing     rpc frames → group id → partition → its shard (Submit);
//	            group 0 is the controller, on shard 0; a partition's group
//	            id is its topic's revision << 20 | partition
//	sending     each shard's Manager hands one call per peer per loop pass
//	ticking     every 100 ms, only shards with awake (not quiesced) groups
//	liveness    a peer that stops answering the node-level heartbeat wakes
//	            every group with a member on it (followers then elect)
//	balancing   every 10 s, leaders move back to their preferred replicas;
//	            ElectLeaders does it at once, through the leader's node
//	moves       the node leading a partition with a target replica set
//	            changes its voters (joint consensus) and completes the move
//	identity    a restarted node keeps its id; one with an empty data dir
//	            that the cluster knows is refused (it could vote twice)
//	failure     a node whose storage fails closes itself (peers elect)
//
// Not yet: Raft snapshots (the controller replays its whole log; a
// follower behind the leader's retention cannot catch up), node ids
// assigned on join.
//
// # Shutdown (Close, SIGTERM)
//
//	hand the leadership of every group led here to a caught-up peer (≤ 5 s)
//	stop accepting; answer requests already read (kafka.Server.Close)
//	stop the admin API, the group services, the controller's reconciler
//	Runtime.Stop: every shard drains its inbox and its last sync round
//	Manager.Close: each engine flushes write-behind and closes its files
//	unlock the data directory
//
// What was acknowledged is durable whether Close runs or the process is
// killed: Close only makes the next start faster (an empty journal).
package node
