// Package diskfault damages the data directory of a stopped node, offline,
// the way a crash or a bad disk would, and says exactly what it did.
//
// Today it has one fault, TruncateTail: cut the active segment of one
// partition in the middle of a record batch, as a torn write leaves it.
// The go-fuse layer of CHAOS.md §2.2 (slow, eio, lose-unsynced) and the
// loop-ext4 disk-full are not built yet.
//
// # What a cut may legally lose on one node
//
// A node acknowledges a produce once its bytes are durable in the shard's
// journal (or, for a large direct write, in the segment itself, followed by
// a barrier record); segment writes behind the journal are write-behind
// until a checkpoint releases the journal records. So a segment tail whose
// entries the journal still holds must come back, byte for byte, when the
// node restarts (engine recovery cuts the torn tail, then replays the
// journal onto it). Cutting a tail the journal no longer covers destroys
// the only copy of acknowledged data: with peers it would be repaired from
// them (G12), on one node it is data loss the broker cannot prevent, and a
// chaos run that did it would report a lost write that is the harness's
// fault. TruncateTail therefore cuts only inside entries the journal
// covers, and reports "nothing cut" when no partition has such a tail.
//
// # How the covered range is found (read-only)
//
//	<data>/shards/<s>/kv/kv.snap           checkpoint C (kv.Load)
//	<data>/shards/<s>/journal/<n>.jnl      records from C (journal.Replay,
//	                                       through a read-only vfs.FS)
//	<data>/shards/<s>/partitions/<key>/<base>.log   the segments
//
// For each partition: the first index of its entries records after its
// latest barrier (and none if it was removed). The kinds are the engine's
// (storage/engine/doc.go): entries 1, barrier 3, remove 5.
//
// The cut lands in the middle of the last data entry of the partition's
// last segment whose index is at or past the covered index.
package diskfault
