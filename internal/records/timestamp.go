package records

import (
	"fmt"

	"github.com/petrel-streaming/petrel/internal/model"
)

// FirstAtOrAfter finds, in one stored record batch v2, the first record
// whose timestamp is at least ts, as Kafka's ListOffsets by time answers:
// the offset of that record, not of its batch, and the record's own
// timestamp. On a LogAppendTime batch every record has the batch's max
// timestamp. A compressed batch is decompressed with at most limit bytes of
// output. ok is false when no record qualifies.
func FirstAtOrAfter(batch []byte, ts int64, limit int) (offset model.Offset, recordTs int64, ok bool, err error) {
	b, _, err := model.ParseBatch(batch)
	if err != nil {
		return 0, 0, false, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if n, last := b.RecordCount(), b.LastOffsetDelta(); last < 0 || n < 0 || int64(n) > int64(last)+1 {
		return 0, 0, false, fmt.Errorf("%w: %d records with last offset delta %d", ErrCorrupt, n, last)
	}
	if b.Attributes()&model.AttrLogAppendTime != 0 {
		if b.MaxTimestamp() >= ts {
			return b.BaseOffset(), b.MaxTimestamp(), true, nil
		}
		return 0, 0, false, nil
	}
	data := []byte(b[model.BatchHeaderSize:])
	if c := Codec(b.Codec()); c != CodecNone {
		buf := getBuf()
		defer putBuf(buf)
		if *buf, err = decompress(c, *buf, data, limit); err != nil {
			return 0, 0, false, err
		}
		data = *buf
	}
	base := b.BaseTimestamp()
	c := cursor{b: data}
	prev := int32(-1)
	for range b.RecordCount() {
		length := c.int32()
		if c.bad || length < 0 || int(length) > len(c.b) {
			return 0, 0, false, fmt.Errorf("%w: record length %d in %d bytes", ErrCorrupt, length, len(c.b))
		}
		r := cursor{b: c.b[:length]}
		c.b = c.b[length:]
		r.skip(1) // attributes
		rts := base + r.varint(10)
		delta := r.int32()
		if r.bad {
			return 0, 0, false, fmt.Errorf("%w: record header does not parse", ErrCorrupt)
		}
		// Offset deltas rise within the batch's range (one apart here;
		// compaction would leave gaps).
		if delta <= prev || delta > b.LastOffsetDelta() {
			return 0, 0, false, fmt.Errorf("%w: record offset delta %d after %d, last %d", ErrCorrupt, delta, prev, b.LastOffsetDelta())
		}
		prev = delta
		if rts >= ts {
			return b.BaseOffset() + model.Offset(delta), rts, true, nil
		}
	}
	return 0, 0, false, nil
}
