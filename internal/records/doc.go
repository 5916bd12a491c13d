// Package records validates what a producer sends: the Records field of one
// partition of a Produce request. It runs on connection goroutines, so the
// work (CRC-32C, decompression, walking every record) spreads over every core
// before a batch reaches its partition's shard.
//
// # Usage
//
//	for each partition p of a Produce request:
//		info, err := records.Validate(p.Records, records.Limits{
//			MaxMessageBytes: topic.MaxMessageBytes,
//			NoZstd:          req.Version < 7,
//			Compacted:       topic.Compacted,
//		})
//		if err != nil {
//			resp.ErrorCode = records.ErrorCode(err) // one table, in errors.go
//			continue
//		}
//		// hand p.Records (unchanged) and info (producer id, epoch,
//		// sequence, count) to the owning shard
//
// # Contract
//
// Validate neither modifies nor retains the bytes; the batch is stored as the
// client sent it (DESIGN invariant 3). It is safe for concurrent use: the
// decompressors and buffers it needs come from pools. Memory per call is
// bounded by Limits.MaxUncompressedBytes (plus one compression block): a zip
// bomb fails with ErrTooLarge once its output passes the cap, without
// allocating for what it announces. Every error wraps exactly one sentinel of
// errors.go, which also carries the Kafka error; ErrorCode maps it.
//
// # Rules, in the order Kafka applies them
//
// From KafkaApis/ProduceRequest.validateRecords, UnifiedLog and LogValidator:
//
//	no bytes                               INVALID_RECORD
//	magic != 2                             INVALID_RECORD (ErrUnsupportedMagic)
//	batchLength past the end / too small   CORRUPT_MESSAGE
//	a second batch after the first         INVALID_RECORD
//	other bytes after the batch            CORRUPT_MESSAGE (Kafka drops them; we refuse)
//	codec 5-7; zstd before produce v7      UNSUPPORTED_COMPRESSION_TYPE
//	baseOffset != 0                        INVALID_RECORD
//	size > max.message.bytes               MESSAGE_TOO_LARGE
//	CRC-32C mismatch                       CORRUPT_MESSAGE
//	count <= 0 or != lastOffsetDelta+1     INVALID_RECORD
//	control batch from a client            INVALID_RECORD
//	producer id >= 0, base sequence < 0    INVALID_RECORD
//	LogAppendTime set by a producer        INVALID_TIMESTAMP
//	data does not decompress               CORRUPT_MESSAGE
//	decompresses past the cap              MESSAGE_TOO_LARGE
//	a record does not parse (below)        INVALID_RECORD
//	null key on a compacted topic          INVALID_RECORD
//	timestamp outside the allowed window   INVALID_TIMESTAMP
//
// Kafka rewrites a batch whose records carry wrong offset deltas and stamps
// the computed max timestamp into the header. Petrel stores batches as sent,
// so it refuses wrong offset deltas instead; it does not compare the header's
// maxTimestamp with the records' (Kafka does not either) and reports the
// computed one in Info.MaxTimestamp.
//
// # Record layout (v2; varints are zigzag, as in protobuf sint32/sint64)
//
//	+--------+-------+---------+----------+--------+-----+--------+-------+---------+---------+
//	| length | attrs | tsDelta | offDelta | keyLen | key | valLen | value | hdrCount| headers |
//	| varint | int8  | varlong | varint   | varint |     | varint |       | varint  |         |
//	+--------+-------+---------+----------+--------+-----+--------+-------+---------+---------+
//	header: | keyLen varint (>= 0) | key | valLen varint (-1 = null) | value |
//
// length counts the bytes after it, exactly; offDelta must be the record's
// position 0, 1, 2, …; the records fill the (decompressed) data exactly.
//
// # Compression
//
// gzip (RFC 1952, several members allowed), snappy (the xerial framing Java
// clients write, or one raw block as librdkafka may send), lz4 (frame
// format) and zstd, decoded with klauspost/compress and pierrec/lz4.
package records
