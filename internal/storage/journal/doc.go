// Package journal is a shard's write-ahead journal: a small ring of
// preallocated files into which every sync round writes the small pending
// writes of all the shard's partitions (encoded log entries, truncations,
// barriers, metadata batches — the kinds are the engine's business; the
// journal carries kind, partition key and payload), made durable with one
// fdatasync per touched file, usually one. That fdatasync is the ack
// latency of an acks=all produce, so the hot path is kept to it:
//
//   - files are created once and filled with written zeros, so an fdatasync
//     of their blocks never carries metadata (no size or extent change);
//   - files are recycled in a ring, never created on the hot path;
//   - records are encoded into pooled, reused, page-aligned buffers (no
//     allocation per Add in steady state);
//   - optional direct I/O (Options.Direct): whole aligned pages are written,
//     the partial tail page is kept in memory and rewritten by the next
//     round; a file system that refuses O_DIRECT gets buffered I/O and one
//     log line.
//
// # Ownership and usage
//
// A Journal is owned by one goroutine, its shard. Only (*SyncJob).Run may run
// elsewhere, concurrently with the owner's Adds into the next round:
//
//	j, err := journal.Open(fs, dir, journal.Options{Logger: log})
//	err = j.Replay(checkpoint, func(seq uint64, r journal.Record) error {
//		return reapply(r) // r.Payload is valid during the call only
//	})
//	for { // one iteration per sync round
//		seq, err := j.Add(journal.Record{Kind: k, Key: key, Payload: p})
//		if errors.Is(err, journal.ErrFull) { /* backpressure: wait for Release */ }
//		if job := j.PrepareSync(); job != nil {
//			err := job.Run()        // any goroutine: write + fdatasync
//			j.FinishSync(job, err)  // owner: records ≤ job.LastSeq() are durable
//		}
//		j.Release(seqDurableElsewhere) // whole files return to the ring
//	}
//
// # Durability contract
//
// A record is durable once FinishSync(job, nil) returned for a job whose
// LastSeq() ≥ its seq. Several jobs may be in flight: their writes run in
// the order they were prepared (each waits for the one before), their
// fdatasyncs overlap, and they are finished in order. A failed round makes the journal fail for good (an
// fdatasync error leaves the page cache in an unknown state): every later
// call returns the sticky error, and the engine reopens. After a crash,
// Replay yields every record of every completed round, in seq order, byte
// for byte, possibly followed by a gapless prefix of the round that was in
// flight — never a record after a missing one, never a record of a previous
// lap of a recycled file, never one that was not Added.
//
// Release(seq) says records < seq are durable elsewhere; the engine must
// persist its replay point (≥ the records it still needs) before a crash can
// make it replay, since released files are overwritten.
//
// # Files and ring
//
// Files are <dir>/<n>.jnl, n = 0 … MaxFiles-1, each FileSize bytes (default
// 4 × 64 MiB). The live files are consecutive in ring order; the newest is
// the head, where records are appended. When a record does not fit in the
// head's remaining space, the next file of the ring is begun (new
// generation, first seq = the record's seq) if it is free, else Add returns
// ErrFull. A record never spans files. Release frees files from the oldest
// end; the head is never freed.
//
//	ring of 4:   [0.jnl]   [1.jnl]   [2.jnl]   [3.jnl]
//	generation:    g5        g6        g3        g4
//	state:        live      head      free      free   (2, 3: older laps)
//
// Generations are global: every begun file takes the last generation plus
// one, so the chain of live files has strictly increasing generations, and
// every stale file is older than the chain's newest. After a crash the
// newest header on disk may be older than files begun before it, whose
// headers were lost while some of their record pages reached the disk; all
// of them were live, so Replay skips MaxFiles generations past the newest
// header seen, and the first file begun after it has its header written
// and fdatasync'd before any record: no restart can reuse a generation that
// stale records on disk carry.
//
// File header block (4096 bytes, little-endian, rest zero):
//
//	0   magic     [8]byte  "PTRLJNL1"
//	8   gen       uint64   generation of this use of the file (≥ 1)
//	16  firstSeq  uint64   seq of the file's first record (≥ 1)
//	24  crc       uint32   CRC-32C of bytes [0, 24)
//
// Records follow from offset 4096, back to back, little-endian:
//
//	0   crc32c    uint32   CRC-32C of bytes [4, 48+len)
//	4   len       uint32   payload length
//	8   gen       uint64   the file's generation
//	16  seq       uint64   +1 per record, across files
//	24  kind      uint8    caller-defined, never 0
//	25  _         [3]byte
//	28  partition int32    model.PartitionKey.Partition
//	32  topic     [16]byte model.TopicID
//	48  payload   len bytes
//
// After the last record of a generation come zeros, the last page's zero
// padding, records of older laps, or a torn write: all fail the checks below.
//
// # Replay rules
//
// Replay(from) starts in the file with the newest generation among those
// whose firstSeq ≤ from (if none, the file with the smallest firstSeq, with
// a warning), reads records from offset 4096 and stops a file at the first
// one that is short, fails its CRC, has kind 0, another generation than the
// header's, or a seq other than the previous + 1. It then continues into the
// next file of the ring only if that file's header is valid, has a newer
// generation and firstSeq = the next seq; otherwise the journal ends there.
// Records < from are checked but not yielded.
//
// A torn round leaves the bytes after the last valid record in an unknown
// state (later records of that round may have reached the disk while an
// earlier one did not). So after Replay the journal never appends to the
// head file again: the first Add begins the next file with a new generation.
// A recovered torn tail therefore can never line up behind a later record.
// The price is the rest of one file per restart.
package journal
