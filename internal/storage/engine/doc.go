// Package engine is the per-shard storage engine: it makes the writes of
// every partition a shard owns durable together, in sync rounds, with about
// one fdatasync of latency whatever the number of partitions.
//
// A shard owns one Engine (one goroutine touches it: the shard's). The
// Engine owns the shard's journal, its metadata store (kv) and the logs of
// its partitions. Callers stage work (Append, Truncate, SetHardState,
// SetStartIndex, Reset, Remove, Put) and then run a round:
//
//	for {
//	    ... stage appends, truncations and metadata for any partitions ...
//	    r, err := e.StartRound()  // owner: writes, picks a path per partition
//	    err = r.Wait()            // any goroutine: the round's fdatasyncs, in parallel
//	    res := e.FinishRound(r)   // owner: what is durable now
//	    ... acknowledge res.Durable ...
//	}
//
// There is no timer: the next round starts when the last one ends, so while
// the disk is busy, staged work accumulates and the next round carries more.
//
// Up to Options.MaxRoundsInFlight (2) rounds may be in flight: the next
// round's writes go out while the last one's fdatasync runs, and rounds
// finish in the order they started (FinishRound of the oldest first). A
// partition already in a round in flight joins the next one only on the
// journal path, whose records the journal writes in order: while its direct
// write or a truncation is in flight, or when its new work is a truncation,
// its work stays staged (CanStart tells the caller whether anything can
// start). A reset never waits (see "Reset"): it joins the next round, so
// metadata staged beside it stays in its kv record. A flush started while rounds are in flight checkpoints at the
// first record of the oldest of them, so their records stay in the journal
// until their metadata and deferred truncations are applied.
//
// # Two paths to durability
//
//	         staged entries of partition p
//	                  │
//	     small, or p has live journal records?
//	       yes │                         │ no, and large
//	           ▼                         ▼
//	journal record (kind entries)   segment write (log.Append)
//	+ segment write, buffered       + segment fdatasync, this round
//	(write-behind, no fsync)        + journal barrier record
//	           │                         │
//	           └──────► one journal fdatasync per round ◄─┘ (in parallel)
//
// The journal path writes every byte twice (journal now, segment later) but
// shares one fdatasync with every other partition of the shard. The direct
// path writes once but pays a fdatasync of its own; it is chosen when the
// partition's pending bytes would take longer to write than a journal sync
// takes (the threshold is the measured journal bandwidth × the measured
// journal sync latency, bounded), and only when the partition has no live
// journal records: otherwise an acknowledged direct write could sit behind
// journaled bytes that are not in the segment yet, and recovery would cut
// it off as a torn tail.
//
// # Write-behind and checkpoints
//
// A journaled partition's segment writes go to the page cache only. A flush
// (started by FinishRound when the journal is a quarter full, or by Idle
// when the shard has nothing staged and the journal is a sixteenth full) captures S, the next journal
// sequence number, fdatasyncs every dirty segment (and its directory after a
// roll), saves the kv map as a snapshot carrying the checkpoint
// C = min(S, last durable seq + 1), and then releases journal records below
// C. The journal is bounded: when it is full, staged journal work waits
// (backpressure) until a flush releases space.
//
// # Journal record kinds
//
//	kind       key              payload
//	entries    partition        encoded log entries (storage format), appended as they are
//	truncate   partition        index (uint64 LE): entries ≥ index were removed
//	barrier    partition        first, last index (uint64 LE) of a direct write
//	kv         none             kv.EncodeBatch of the round's metadata updates
//	                            (and resets: see "Reset"); at most one per round
//	remove     partition        the partition was deleted: skip every record of it
//
// # Metadata keys (kv) per partition, values little-endian
//
//	hs/<topic id>-<partition>     term uint64, vote int64, commit uint64 (HardState)
//	start/<topic id>-<partition>  first index uint64, its Kafka offset uint64: the
//	                              log's Options.StartIndex and StartOffset (see
//	                              "Log start"); 8 bytes (index only) in data
//	                              written before the offset was kept, whose
//	                              offset is then the last reset's
//	reset/<topic id>-<partition>  next index uint64, next offset uint64: the last
//	                              reset; in a round's kv record, the reset itself
//
// # Log start
//
// The log's start moves by SetStartIndex, Retain and Reset. Each move is
// the start/ put in the kv record of the round that makes it durable, with
// the Kafka offset of the new first index: a log whose segments below the
// start are gone, and whose remaining active segment a crash left empty
// (its entries in the journal only), opens with the right next offset, and
// the journal's entries follow it. Nothing is removed before the start is
// durable: Retain only stages the start (the base of the first segment it
// keeps), and FinishRound removes the segments below it (TruncatePrefix),
// as for SetStartIndex. A round carries a start once the log holds the
// entries up to it (until then it stays staged), and remembers the value
// it carries: FinishRound applies that one, and a start staged meanwhile
// waits for its own round. Result.Started lists the partitions whose start
// a round moved: their read views are stale.
//
// # Reset
//
// Reset (installing a Raft snapshot) replaces a partition's log by an empty
// one starting at a given index and Kafka offset. It has no record kind of
// its own: it is the reset/ and start/ puts in the round's kv record, so it
// is durable exactly when the round's metadata is (a hard state and
// snapshot metadata staged beside it cannot survive without it, nor it
// without them). The partition's entries staged after the reset are
// journaled after that record; nothing of the reset reaches the segments
// before the round is durable (FinishRound resets the log and appends them,
// as it applies a truncation). A round's records, for one reset partition:
//
//	seq < s   entries, truncate p     the old log (and the round's other partitions)
//	seq s     kv {…, start/p=n‖off, reset/p=n‖off, hs/p}: the round's metadata, the reset
//	seq s+1   entries p from n        the entries staged after the reset
//
// The journal replays a gapless prefix: a crash before s is durable leaves
// the old log and the old metadata; from s on, the reset log. A reset
// partition takes no direct write while the record is live, so no barrier
// can follow it in the journal.
//
// # Recovery (Open)
//
//  1. Load the kv snapshot: the map and checkpoint C.
//  2. Pass 1 over the journal from C: apply the kv records to the map;
//     note the latest barrier, reset (a kv record holding reset/p) and
//     removal per partition. Then open every partition's log with the
//     start (index, offset) the map now holds.
//  3. Pass 2: replay each record onto its partition's log (opened and
//     recovered by storage.Open: torn tails cut), skipping a partition's
//     records older than its latest barrier or reset and all records of
//     removed partitions. A reset partition's log is reset first, whatever
//     mix of old segments and write-behind a crash left in its directory:
//     everything after the reset is in the journal. An entries record is
//     redone as it was made: the log is
//     cut at the record's first index and the entries appended. Bytes from
//     there on may be a write-behind region with holes (a crash keeps any
//     subset of unsynced pages); everything before it is durable. A
//     start moved after a reset is applied to the rebuilt log.
//  4. Check every partition's hard state: a commit index past the log end is
//     corruption, and Open refuses to start with a message naming it.
//
// # Hard state
//
// SetHardState stages a partition's Raft term, vote and commit index into
// the round's kv batch with the commit index capped at the partition's
// last index that was durable before the round: the round's own entries may
// not survive a crash, and a hard state must never claim a commit past what
// recovery will find (a follower's truncate-and-append could otherwise
// recover as old-term entries marked committed). The true value follows in
// the next round. In a reset's round the cap is the reset's last index
// instead: the same record makes it durable.
//
// # Layout under Options.Dir
//
//	journal/<n>.jnl           the shard's journal ring (see package journal)
//	kv/kv.snap                metadata snapshot with its checkpoint (package kv)
//	partitions/<topic id>-<partition>/<base index>.log, .index   (package storage)
package engine
