// Package storage is the segmented log of one partition: its Raft log,
// whose data entries carry the partition's Kafka record batches. It knows
// nothing of Raft or Kafka beyond model's batch header view; all file I/O
// goes through vfs.
//
// # Ownership
//
// A Log lives on its partition's shard: one goroutine calls its methods.
// Two things leave that goroutine: SyncJob.Run (the fdatasync, on any
// goroutine, concurrently with further appends) and View (an immutable
// snapshot whose reads are safe from any goroutine, e.g. fetch on
// connection goroutines). HandleCache, BatchCache and IndexCache are
// shared by the logs of one shard and are safe from any goroutine.
//
// # Usage loop (the engine's sync round)
//
//	l, err := storage.Open(fs, dir, storage.Options{Handles: hc, Cache: bc, StartIndex: start})
//	for round := range rounds {
//		l.Append(entries)            // encoded with AppendEntry; copied, not synced
//		j := l.PrepareSync()         // nil if nothing is dirty
//		go func() { done <- j.Run() }()  // fdatasync files, SyncDir if files came or went
//		l.FinishSync(j, <-done)      // DurableIndex advances; index points written
//		publish(l.View())            // readers: v.ReadBatches(from, max, highWatermark, dst)
//	}
//
// # Durability contract
//
// Appends are durable only after a completed sync job: FinishSync(j, nil)
// advances DurableIndex to the last index appended before PrepareSync.
// TruncateSuffix lowers DurableIndex; the cut itself reaches the disk with
// the next job, but the segments after the cut are removed durably (the
// directory synced) before the cut, so a crash never leaves a hole. Index
// points are written only for durable entries and never synced: a point on
// disk always points at durable bytes, and recovery checks every point it
// uses. A failed write or sync makes the log fail (Err, sticky) until it is
// reopened, because the page cache and the disk may then disagree.
//
// # Files (in the partition's directory)
//
//	00000000000000000001.log     entries 1..; the name is the base index (20 digits)
//	00000000000000000001.index   sparse index of that segment
//	00000000000000004711.log     the next segment, from index 4711 on
//
// A segment rolls at an entry boundary when it would exceed SegmentBytes or
// its first entry is older than SegmentAge. Space is preallocated
// (fallocate, keep size) in growing steps up to PreallocStep and trimmed on
// roll, Close and recovery.
//
// # Entry (little-endian, 40-byte header, then the payload)
//
//	 0        4        8                16               24               32  33     36       40
//	+--------+--------+----------------+----------------+----------------+---+------+--------+---------+
//	| crc32c |  len   |     index      |      term      |     offset     |typ| zero | count  | payload |
//	+--------+--------+----------------+----------------+----------------+---+------+--------+---------+
//	crc32c covers bytes [4, 40+len). typ 1 data: the payload is one record
//	batch v2 whose base offset is offset, covering [offset, offset+count).
//	typ 2 internal: an opaque Raft payload, count 0, offset = the next
//	Kafka offset at that point. A zeroed region never decodes (type 0).
//
// # Index point (little-endian, 32 bytes, one per IndexIntervalBytes of log)
//
//	 0                8                16       20       24               32
//	+----------------+----------------+--------+--------+----------------+
//	|     index      |     offset     |  pos   | crc32c |     maxTs      |
//	+----------------+----------------+--------+--------+----------------+
//	pos: where the entry's header starts in the .log; crc32c covers [0,20)
//	and [24,32); maxTs: the largest batch MaxTimestamp in the segment up to
//	and including this entry (-1 if none), which makes the sparse index a
//	time index too. The first entry of every segment has a point.
//
// # Recovery (Open)
//
// Segments wholly below Options.StartIndex are removed. The last segment
// is recovered: its index points are parsed (the longest valid prefix:
// CRC, monotonic, within the file), the entry at the last point is read
// and checked (CRC, index, offset) going back until one passes, and the
// segment is scanned from there, stopping at the first entry that fails
// its CRC or does not follow (index+1, term not lower, dense offsets). The
// torn tail and preallocated space are cut, the index is rewritten if it
// changed. If the last segment does not continue its predecessor it is
// removed and the predecessor recovered the same way. Older segments are
// opened lazily, on first read, and repair their own index then. Open
// reads index files and tails, never whole logs, syncs what it recovered,
// and returns with DurableIndex = LastIndex.
//
// # Open and durability
//
// After a killed process the page cache still holds what it wrote, so
// Open sees every entry, synced or not, and reports them all durable. That
// is only true once they are synced. The failure this guards against: a
// process appends (or writes a large direct batch) across two rolls,
// A's tail, B and C, and is killed before the sync job; the restart
// recovers C, syncs B and C and reports LastIndex durable; the engine
// builds on it (a follower acknowledges the entries, the journal moves its
// checkpoint past them); a power loss then drops A's unsynced tail, and the
// log has a hole below entries that were reported durable. So Open syncs
// the last two segments and then walks back, syncing each older segment
// until one is vouched for: segment k is known durable if segment k+1's
// index file begins with its first point. Index points are written only
// for entries that a completed sync job made durable, a job syncs every
// segment written before it, and an older segment changes only after the
// later ones (index files included) are durably removed; Open itself
// writes the index files it repaired only after its own sync. A clean
// reopen thus costs one 32-byte read beyond the last two segments; after a
// crash, one fdatasync per segment written since the last completed sync.
//
// # Reads
//
// Every entry read from disk is CRC-checked before its bytes are handed
// out; a failure is an error wrapping model.ErrCorrupt naming the file and
// position. ReadBatches returns whole batches, at least one, never past
// the high watermark given or the View's end. The BatchCache serves the
// tail from memory; catch-up reads use a 256 KiB read-ahead. Files are
// opened through the shard's HandleCache (LRU, bounded, reference
// counted): no goroutine, timer or open file per idle partition.
//
// # Index memory
//
// The active segment's index points live with its Log (about 8 MiB for a
// full 1 GiB segment at the default interval), as do a rolled segment's
// until its index file holds them all. Every other closed segment's points
// live in the shard's IndexCache (Options.Indexes; by default one per
// HandleCache, DefaultIndexCacheBytes), an LRU bounded in bytes. An evicted
// segment's points are read back from its index file on next use, checked
// against the count and CRC-32C remembered at eviction time; a file that
// does not match (damaged, removed) is rebuilt from the segment's entries
// and rewritten. Reads never depend on which points are resident.
//
// # Direct I/O
//
// With Options.Direct, segments are written with O_DIRECT from aligned
// buffers; the partial last page is kept in memory and rewritten, padded
// with zeros, on each write. If the file system refuses (ErrDirectUnsupported
// or EINVAL), the log falls back to buffered I/O and logs it once per shard.
package storage
