package records

import (
	"encoding/binary"
	"fmt"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Defaults for the zero values of Limits.
const (
	// DefaultMaxMessageBytes is Kafka's max.message.bytes default.
	DefaultMaxMessageBytes = 1048588
	// DefaultMaxUncompressedBytes caps what one batch may decompress to.
	DefaultMaxUncompressedBytes = 64 << 20
)

// Limits are the topic settings and request facts a batch is checked
// against. The zero value means Kafka's defaults with no timestamp window.
type Limits struct {
	// MaxMessageBytes bounds the whole batch as sent (max.message.bytes);
	// 0 means DefaultMaxMessageBytes.
	MaxMessageBytes int
	// MaxUncompressedBytes bounds the decompressed records section; 0 means
	// DefaultMaxUncompressedBytes. Kafka has no such bound (it streams);
	// Petrel decompresses into memory, so it needs one.
	MaxUncompressedBytes int
	// NoZstd refuses zstd, as Kafka does for produce requests before v7.
	NoZstd bool
	// Compacted refuses records without a key (cleanup.policy=compact).
	Compacted bool
	// AllowControl accepts control batches (transaction markers), for
	// writers inside the broker; they must be transactional. Kafka refuses
	// every control batch a client sends, and so does the zero value.
	AllowControl bool
	// NowMs, TimestampBeforeMaxMs and TimestampAfterMaxMs are Kafka's
	// message.timestamp.{before,after}.max.ms window for CreateTime records:
	// a record timestamp t (other than -1) must satisfy
	// NowMs-t <= TimestampBeforeMaxMs and t-NowMs <= TimestampAfterMaxMs.
	// A bound of 0 or less is not checked. LogAppendTime topics leave both 0.
	NowMs, TimestampBeforeMaxMs, TimestampAfterMaxMs int64
}

func (l Limits) maxMessageBytes() int {
	if l.MaxMessageBytes > 0 {
		return l.MaxMessageBytes
	}
	return DefaultMaxMessageBytes
}

func (l Limits) maxUncompressedBytes() int {
	if l.MaxUncompressedBytes > 0 {
		return l.MaxUncompressedBytes
	}
	return DefaultMaxUncompressedBytes
}

// Info describes a batch that passed Validate.
type Info struct {
	// Count is the number of records (recordCount = lastOffsetDelta+1).
	Count int32
	// FirstTimestamp is the header's baseTimestamp.
	FirstTimestamp int64
	// MaxTimestamp is the largest record timestamp, computed from the
	// records (Kafka stamps this value; it does not check the header's).
	MaxTimestamp           int64
	ProducerID             int64
	ProducerEpoch          int16
	BaseSequence           int32
	Transactional, Control bool
	Compression            Codec
	// Bytes is the size of the batch as sent, header included.
	Bytes int
	// RecordBytes is the size of the records section once decompressed.
	RecordBytes int
}

// Validate checks a Produce partition's Records field: exactly one record
// batch v2, with Kafka's rules (see the package doc for the list and order),
// decompressing it to walk every record. It returns the facts the partition
// needs; the bytes themselves are not modified and not retained. Safe for
// concurrent use.
func Validate(records []byte, lim Limits) (Info, error) {
	b, err := frame(records)
	if err != nil {
		return Info{}, err
	}
	info := Info{
		Count:          b.RecordCount(),
		FirstTimestamp: b.BaseTimestamp(),
		MaxTimestamp:   -1,
		ProducerID:     b.ProducerID(),
		ProducerEpoch:  b.ProducerEpoch(),
		BaseSequence:   b.BaseSequence(),
		Transactional:  b.IsTransactional(),
		Control:        b.IsControl(),
		Compression:    Codec(b.Codec()),
		Bytes:          len(b),
	}
	if err := checkHeader(b, lim); err != nil {
		return Info{}, err
	}
	data := []byte(b[model.BatchHeaderSize:])
	if info.Compression != CodecNone {
		buf := getBuf()
		defer putBuf(buf)
		*buf, err = decompress(info.Compression, *buf, data, lim.maxUncompressedBytes())
		if err != nil {
			return Info{}, err
		}
		data = *buf
	}
	info.RecordBytes = len(data)
	if info.MaxTimestamp, err = walk(data, b, &lim); err != nil {
		return Info{}, err
	}
	return info, nil
}

// frame finds the one batch in records, checking the magic before the v2
// header is read (v0/v1 headers have other layouts).
func frame(records []byte) (model.Batch, error) {
	const magicAt, logOverhead = 16, 12
	if len(records) == 0 {
		return nil, fmt.Errorf("%w: no record batch", ErrInvalidRecord)
	}
	if len(records) <= magicAt {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a batch header", ErrCorrupt, len(records))
	}
	if magic := int8(records[magicAt]); magic != 2 {
		return nil, fmt.Errorf("%w: magic %d", ErrUnsupportedMagic, magic)
	}
	b, rest, err := model.ParseBatch(records)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if len(rest) > 0 {
		if len(rest) >= logOverhead && int64(int32(binary.BigEndian.Uint32(rest[8:])))+logOverhead <= int64(len(rest)) {
			return nil, fmt.Errorf("%w: more than one record batch", ErrInvalidRecord)
		}
		return nil, fmt.Errorf("%w: %d bytes after the batch", ErrCorrupt, len(rest))
	}
	return b, nil
}

// checkHeader applies the header rules, in Kafka's order: codec, base
// offset, size, CRC, count, control, sequence, timestamp type.
func checkHeader(b model.Batch, lim Limits) error {
	switch c := Codec(b.Codec()); {
	case c > CodecZstd:
		return fmt.Errorf("%w: %v", ErrUnsupportedCompression, c)
	case c == CodecZstd && lim.NoZstd:
		return fmt.Errorf("%w: zstd needs produce v7 or later", ErrUnsupportedCompression)
	}
	if o := b.BaseOffset(); o != 0 {
		return fmt.Errorf("%w: base offset %d, want 0", ErrInvalidRecord, o)
	}
	if max := lim.maxMessageBytes(); len(b) > max {
		return fmt.Errorf("%w: %d bytes, max.message.bytes %d", ErrTooLarge, len(b), max)
	}
	if err := b.VerifyCRC(); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	n, d := b.RecordCount(), b.LastOffsetDelta()
	if d < 0 || n <= 0 || int64(n) != int64(d)+1 {
		return fmt.Errorf("%w: record count %d with last offset delta %d", ErrInvalidRecord, n, d)
	}
	if b.IsControl() && (!lim.AllowControl || !b.IsTransactional()) {
		return fmt.Errorf("%w: control batch (transactional %v) from a producer", ErrInvalidRecord, b.IsTransactional())
	}
	if b.ProducerID() >= 0 && b.BaseSequence() < 0 {
		return fmt.Errorf("%w: producer id %d with base sequence %d", ErrInvalidRecord, b.ProducerID(), b.BaseSequence())
	}
	if b.Attributes()&model.AttrLogAppendTime != 0 {
		return fmt.Errorf("%w: a producer may not set LogAppendTime", ErrInvalidTimestamp)
	}
	return nil
}
