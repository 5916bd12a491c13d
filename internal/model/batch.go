package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// BatchHeaderSize is the size of the record batch v2 header.
const BatchHeaderSize = 61

// Field offsets within the batch header.
const (
	batchBaseOffsetAt      = 0
	batchLengthAt          = 8
	batchLeaderEpochAt     = 12
	batchMagicAt           = 16
	batchCRCAt             = 17
	batchAttributesAt      = 21
	batchLastOffsetDeltaAt = 23
	batchBaseTimestampAt   = 27
	batchMaxTimestampAt    = 35
	batchProducerIDAt      = 43
	batchProducerEpochAt   = 51
	batchBaseSequenceAt    = 53
	batchRecordCountAt     = 57
	batchLengthFieldEnd    = 12 // batchLength counts the bytes after this point
)

// Batch attribute bits.
const (
	AttrCompressionMask = 0x07
	AttrLogAppendTime   = 0x08
	AttrTransactional   = 0x10
	AttrControl         = 0x20
)

// Compression codecs (attributes & AttrCompressionMask).
const (
	CodecNone   = 0
	CodecGzip   = 1
	CodecSnappy = 2
	CodecLZ4    = 3
	CodecZstd   = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C returns the CRC-32C (Castagnoli) of b, hardware accelerated.
func CRC32C(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// UpdateCRC32C extends crc with b.
func UpdateCRC32C(crc uint32, b []byte) uint32 { return crc32.Update(crc, castagnoli, b) }

// ErrCorrupt marks data that failed a structural or checksum check. Errors
// that wrap it are matched with errors.Is(err, model.ErrCorrupt).
var ErrCorrupt = errors.New("corrupt data")

// ErrShort marks a buffer too short to hold what its header announces.
var ErrShort = errors.New("short buffer")

// Batch is a read-only view of one record batch v2. It aliases the bytes it
// was made from; the zero value is not valid.
type Batch []byte

// ParseBatch checks that b starts with a complete v2 batch header whose
// length field is consistent, and returns a view of exactly that batch and
// the bytes after it. It does not verify the CRC (see Batch.VerifyCRC).
func ParseBatch(b []byte) (Batch, []byte, error) {
	if len(b) < BatchHeaderSize {
		return nil, b, fmt.Errorf("model: batch header: %d bytes: %w", len(b), ErrShort)
	}
	length := int32(binary.BigEndian.Uint32(b[batchLengthAt:]))
	if length < BatchHeaderSize-batchLengthFieldEnd {
		return nil, b, fmt.Errorf("model: batch length %d below header size: %w", length, ErrCorrupt)
	}
	if magic := int8(b[batchMagicAt]); magic != 2 {
		return nil, b, fmt.Errorf("model: batch magic %d: %w", magic, ErrCorrupt)
	}
	total := int64(length) + batchLengthFieldEnd
	if int64(len(b)) < total {
		return nil, b, fmt.Errorf("model: batch of %d bytes in %d: %w", total, len(b), ErrShort)
	}
	return Batch(b[:total]), b[total:], nil
}

func (b Batch) u32(at int) uint32 { return binary.BigEndian.Uint32(b[at:]) }
func (b Batch) u64(at int) uint64 { return binary.BigEndian.Uint64(b[at:]) }

// BaseOffset is the offset of the first record.
func (b Batch) BaseOffset() Offset { return Offset(b.u64(batchBaseOffsetAt)) }

// Length is the batchLength field: the size of the batch minus 12.
func (b Batch) Length() int32 { return int32(b.u32(batchLengthAt)) }

// LeaderEpoch is the partitionLeaderEpoch field.
func (b Batch) LeaderEpoch() int32 { return int32(b.u32(batchLeaderEpochAt)) }

// Magic is the format version (2).
func (b Batch) Magic() int8 { return int8(b[batchMagicAt]) }

// CRC is the stored CRC-32C.
func (b Batch) CRC() uint32 { return b.u32(batchCRCAt) }

// Attributes is the attributes field.
func (b Batch) Attributes() int16 { return int16(binary.BigEndian.Uint16(b[batchAttributesAt:])) }

// Codec is the compression codec.
func (b Batch) Codec() int { return int(b.Attributes() & AttrCompressionMask) }

// LastOffsetDelta is the offset of the last record minus BaseOffset.
func (b Batch) LastOffsetDelta() int32 { return int32(b.u32(batchLastOffsetDeltaAt)) }

// LastOffset is the offset of the last record.
func (b Batch) LastOffset() Offset { return b.BaseOffset() + Offset(b.LastOffsetDelta()) }

// BaseTimestamp is the timestamp of the first record (ms).
func (b Batch) BaseTimestamp() int64 { return int64(b.u64(batchBaseTimestampAt)) }

// MaxTimestamp is the largest record timestamp (ms).
func (b Batch) MaxTimestamp() int64 { return int64(b.u64(batchMaxTimestampAt)) }

// ProducerID is the idempotent producer id, or -1.
func (b Batch) ProducerID() int64 { return int64(b.u64(batchProducerIDAt)) }

// ProducerEpoch is the producer epoch, or -1.
func (b Batch) ProducerEpoch() int16 { return int16(binary.BigEndian.Uint16(b[batchProducerEpochAt:])) }

// BaseSequence is the sequence of the first record, or -1.
func (b Batch) BaseSequence() int32 { return int32(b.u32(batchBaseSequenceAt)) }

// RecordCount is the number of records the batch declares.
func (b Batch) RecordCount() int32 { return int32(b.u32(batchRecordCountAt)) }

// IsControl reports whether the batch is a transaction control batch.
func (b Batch) IsControl() bool { return b.Attributes()&AttrControl != 0 }

// IsTransactional reports whether the batch belongs to a transaction.
func (b Batch) IsTransactional() bool { return b.Attributes()&AttrTransactional != 0 }

// ComputeCRC computes the CRC-32C over the bytes the CRC field covers.
func (b Batch) ComputeCRC() uint32 { return CRC32C(b[batchAttributesAt:]) }

// VerifyCRC checks the stored CRC against the batch bytes.
func (b Batch) VerifyCRC() error {
	if got, want := b.ComputeCRC(), b.CRC(); got != want {
		return fmt.Errorf("model: batch at offset %d: crc %08x, stored %08x: %w", b.BaseOffset(), got, want, ErrCorrupt)
	}
	return nil
}

// Validate checks the header fields a broker relies on: the CRC, a record
// count consistent with lastOffsetDelta, and a non-negative count. It does
// not decode records.
func (b Batch) Validate() error {
	if err := b.VerifyCRC(); err != nil {
		return err
	}
	n, d := b.RecordCount(), b.LastOffsetDelta()
	if n <= 0 || d < 0 || int64(d) != int64(n)-1 {
		return fmt.Errorf("model: batch record count %d with last offset delta %d: %w", n, d, ErrCorrupt)
	}
	return nil
}

// SetBaseOffset writes the broker-assigned base offset in place. The CRC does
// not cover it.
func (b Batch) SetBaseOffset(o Offset) { binary.BigEndian.PutUint64(b[batchBaseOffsetAt:], uint64(o)) }

// SetLeaderEpoch writes the leader epoch in place. The CRC does not cover it.
func (b Batch) SetLeaderEpoch(e int32) { binary.BigEndian.PutUint32(b[batchLeaderEpochAt:], uint32(e)) }

// SetLogAppendTime marks the batch as LogAppendTime with max timestamp ts and
// recomputes the CRC, as Kafka does on LogAppendTime topics.
func (b Batch) SetLogAppendTime(ts int64) {
	attrs := uint16(b.Attributes()) | AttrLogAppendTime
	binary.BigEndian.PutUint16(b[batchAttributesAt:], attrs)
	binary.BigEndian.PutUint64(b[batchMaxTimestampAt:], uint64(ts))
	binary.BigEndian.PutUint32(b[batchCRCAt:], b.ComputeCRC())
}

// BatchFields are the header fields of a batch that AppendBatch encodes.
type BatchFields struct {
	BaseOffset      Offset
	LeaderEpoch     int32
	Attributes      int16
	LastOffsetDelta int32
	BaseTimestamp   int64
	MaxTimestamp    int64
	ProducerID      int64
	ProducerEpoch   int16
	BaseSequence    int32
	RecordCount     int32
}

// AppendBatch encodes a v2 batch with the given header fields and the
// already-encoded records section onto dst, computing length and CRC. It
// does not check the fields against the records.
func AppendBatch(dst []byte, f BatchFields, records []byte) []byte {
	at := len(dst)
	dst = binary.BigEndian.AppendUint64(dst, uint64(f.BaseOffset))
	dst = binary.BigEndian.AppendUint32(dst, uint32(BatchHeaderSize+len(records)-batchLengthFieldEnd))
	dst = binary.BigEndian.AppendUint32(dst, uint32(f.LeaderEpoch))
	dst = append(dst, 2)
	dst = binary.BigEndian.AppendUint32(dst, 0) // CRC, below
	dst = binary.BigEndian.AppendUint16(dst, uint16(f.Attributes))
	dst = binary.BigEndian.AppendUint32(dst, uint32(f.LastOffsetDelta))
	dst = binary.BigEndian.AppendUint64(dst, uint64(f.BaseTimestamp))
	dst = binary.BigEndian.AppendUint64(dst, uint64(f.MaxTimestamp))
	dst = binary.BigEndian.AppendUint64(dst, uint64(f.ProducerID))
	dst = binary.BigEndian.AppendUint16(dst, uint16(f.ProducerEpoch))
	dst = binary.BigEndian.AppendUint32(dst, uint32(f.BaseSequence))
	dst = binary.BigEndian.AppendUint32(dst, uint32(f.RecordCount))
	dst = append(dst, records...)
	b := Batch(dst[at:])
	binary.BigEndian.PutUint32(b[batchCRCAt:], b.ComputeCRC())
	return dst
}
