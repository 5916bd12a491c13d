// Package node is the composition root: it wires the shard runtime, one
// storage engine and partition Manager per shard, the controller, the
// consumer group coordinators, the Kafka listener and the admin API into a
// running node, and takes them down again in order.
//
// # Start-up
//
//	lock <data>/.lock                   one process per data directory
//	<data>/node.json                    cluster id and shard count, written once
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
// # Shutdown (Close, SIGTERM)
//
//	stop accepting; answer requests already read (kafka.Server.Close)
//	stop the admin API, the group services, the controller's reconciler
//	Runtime.Stop: every shard drains its inbox and its last sync round
//	Manager.Close: each engine flushes write-behind and closes its files
//	unlock the data directory
//
// What was acknowledged is durable whether Close runs or the process is
// killed: Close only makes the next start faster (an empty journal).
package node
