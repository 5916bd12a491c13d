// Package kv is a shard's small metadata store: Raft hard states, snapshot
// metadata, producer state, log start indexes — a few bytes per partition,
// kept whole in memory as a map from string keys to byte values.
//
// # Durability: journal batches plus snapshots
//
// The store itself does no I/O on the hot path. The engine makes updates
// atomic and durable by writing each round's updates into the shard's
// journal as ONE record (EncodeBatch), and applying them (Apply) once the
// round is durable. From time to time it writes the whole map as a snapshot
// tagged with the journal seq it is consistent with, so that the journal can
// be released up to that seq:
//
//	store, seq, err := kv.Load(fs, dir)          // missing → empty, seq 0
//	j.Replay(seq, func(s uint64, r journal.Record) error {
//		if r.Kind == kindKV {
//			ops, err := kv.DecodeBatch(r.Payload) // corrupt → model.ErrCorrupt
//			if err != nil { return err }
//			store.Apply(ops)
//		}
//		return nil
//	})
//	…
//	payload = kv.EncodeBatch(payload[:0], ops)   // one journal record per round
//	store.Apply(ops)                             // after the round is durable
//	…
//	snap := store.Encode(nil, j.LastSeq()+1)     // owner
//	err = kv.WriteSnapshot(fs, dir, snap)        // any goroutine; then j.Release
//
// A Store is owned by one goroutine (its shard). Encode's bytes may be
// written by any goroutine. Save = Encode + WriteSnapshot.
//
// WriteSnapshot writes kv.snap.tmp, fsyncs it, renames it over kv.snap and
// syncs the directory: after a crash at any point Load finds either the old
// snapshot or the new one, whole. Load refuses a damaged snapshot with an
// error wrapping model.ErrCorrupt instead of starting empty: silently losing
// a Raft vote is a safety violation.
//
// # Limits
//
// Keys are 1 to MaxKeyBytes (1 KiB) bytes, values at most MaxValueBytes
// (1 MiB). DecodeBatch and Load reject anything else as corrupt; EncodeBatch
// and Apply panic on it (a caller bug: callers holding untrusted keys or
// values run CheckOps first, which returns an error wrapping ErrLimit).
//
// # Batch format (a journal record's payload)
//
//	count      uvarint
//	count × {
//	  flags    uint8     bit 0: delete; other bits zero
//	  keyLen   uvarint   1 … 1024
//	  key      keyLen bytes
//	  valueLen uvarint   0 … 1 MiB     (absent for a delete)
//	  value    valueLen bytes          (absent for a delete)
//	}
//
// No checksum: the journal record around it has one. Trailing bytes are
// corrupt. Ops apply in order; a later op on the same key wins.
//
// # Snapshot format (kv.snap, little-endian)
//
//	0   magic       [4]byte  "PTKV"
//	4   version     uint32   1
//	8   journalSeq  uint64   replay the journal from this seq
//	16  count       uint32
//	20  count × { keyLen uint32, key, valueLen uint32, value }   keys sorted, unique
//	…   crc         uint32   CRC-32C of every byte before it
package kv
