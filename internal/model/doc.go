// Package model holds the leaf types every other package shares: the distinct
// number types (a Kafka offset is not a Raft index, a term is not an epoch
// counter that happens to fit in an int64), partition identity, and a
// read-only view of the Kafka record batch v2 header with CRC-32C checks.
//
// It does no I/O and imports nothing of the project.
//
// # Record batch v2 header (big-endian, 61 bytes)
//
//	offset size field
//	 0      8   baseOffset            assigned by the broker
//	 8      4   batchLength           bytes after this field (= total - 12)
//	12      4   partitionLeaderEpoch  the Raft term of the leader that appended it
//	16      1   magic                 2
//	17      4   crc                   CRC-32C (Castagnoli) of bytes [21, end)
//	21      2   attributes            bits 0-2 codec, 3 timestamp type, 4 transactional, 5 control
//	23      4   lastOffsetDelta
//	27      8   baseTimestamp         (firstTimestamp)
//	35      8   maxTimestamp
//	43      8   producerId
//	51      2   producerEpoch
//	53      4   baseSequence
//	57      4   recordCount
//	61      …   records
//
// The CRC does not cover baseOffset, batchLength, partitionLeaderEpoch or
// magic: the broker may set the offset and the epoch without recomputing it.
package model
