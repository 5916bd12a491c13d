// Package producers keeps the idempotent producer state of one partition,
// the part of Kafka's ProducerStateManager that makes retries safe: per
// producer id, its epoch and its last BatchesRetained (5) batches (first and
// last sequence, first and last offset, timestamp).
//
// State is a pure state machine: no I/O, no clock, no goroutines. It lives
// on its partition's shard, which alone calls it.
//
// # Usage loop (the partition, on its shard)
//
//	d, err := st.Check(info.ProducerID, info.ProducerEpoch, info.BaseSequence, info.Count)
//	switch {
//	case err != nil:                 // ErrOutOfOrderSequence, ErrInvalidProducerEpoch
//		answer with records.ErrorCode(err)
//	case d.Kind == producers.Duplicate:
//		answer with d.Original.FirstOffset (nothing is appended)
//	default:                         // Append
//		propose the batch; once the leader has assigned its offsets:
//		st.Append(pid, epoch, baseSeq, producers.NextSeq(baseSeq, count-1), first, last, maxTs)
//	}
//
// Check must see the Appends of every batch proposed before it, including
// ones not yet committed, or two in-flight batches would both pass. On a
// Raft truncation call Truncate(from); periodically Expire(now).
//
// # Restart
//
// Store AppendTo's snapshot with the partition's metadata; on start, Decode
// it and Replay every batch header of the log from End() on. Replay trusts
// the log (no checks), as Kafka does for replication and recovery.
//
// # Decisions (Kafka 3.x/4.x semantics)
//
//	producer id < 0                             Append (not idempotent)
//	unknown producer id                         Append, any sequence (state may have expired)
//	same epoch, exact (first,last) of one of    Duplicate{the original offsets}
//	  the last 5 batches
//	older epoch                                 ErrInvalidProducerEpoch (fenced)
//	newer epoch, sequence 0                     Append (the old epoch's batches are dropped)
//	newer epoch, sequence != 0                  ErrOutOfOrderSequence
//	same epoch, sequence = last+1 (MaxInt32→0)  Append
//	same epoch, anything else                   ErrOutOfOrderSequence (a gap, or older than
//	                                            the 5 remembered batches)
//
// Kafka 2.x answered an unknown producer with UNKNOWN_PRODUCER_ID; since
// KIP-360 Kafka accepts it, and so does Check.
//
// # Bounds
//
// At most Config.MaxProducers producers (the least recently appended is
// forgotten first), each at a fixed size; Expire forgets producers idle for
// Config.ExpirationMs (producer.id.expiration.ms). A forgotten producer is an
// unknown one: its next batch is accepted, so a retry of an old batch after
// that could be appended twice, exactly as in Kafka.
//
// # Snapshot format
//
// See snapshot.go: magic "PPST", version, end offset, entries least recent
// first, CRC-32C over everything; Decode refuses any inconsistency with an
// error wrapping model.ErrCorrupt.
package producers
