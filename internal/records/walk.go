package records

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/petrel-streaming/petrel/internal/model"
)

// cursor reads the varint fields of records. The first fault is sticky: every
// later read returns zero and the caller checks bad once per record.
type cursor struct {
	b   []byte
	bad bool
}

// varint reads a zigzag varint of at most maxBytes bytes (5 for int32
// fields, 10 for int64), as Kafka's ByteUtils does.
func (c *cursor) varint(maxBytes int) int64 {
	if c.bad {
		return 0
	}
	v, n := binary.Varint(c.b)
	if n <= 0 || n > maxBytes {
		c.bad = true
		return 0
	}
	c.b = c.b[n:]
	return v
}

func (c *cursor) int32() int32 {
	v := c.varint(5)
	if v < math.MinInt32 || v > math.MaxInt32 {
		c.bad = true
		return 0
	}
	return int32(v)
}

// bytes skips a length-prefixed field; length -1 (null) is allowed only if
// nullable. It reports whether the field was null.
func (c *cursor) bytes(nullable bool) (null bool) {
	n := c.int32()
	switch {
	case c.bad:
	case n == -1 && nullable:
		return true
	case n < 0 || int(n) > len(c.b):
		c.bad = true
	default:
		c.b = c.b[n:]
	}
	return false
}

func (c *cursor) skip(n int) {
	if c.bad || n > len(c.b) {
		c.bad = true
		return
	}
	c.b = c.b[n:]
}

// walk checks that data holds exactly b's recordCount records and nothing
// else, each with the layout
//
//	length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
//	keyLength varint | key | valueLength varint | value |
//	headerCount varint | headers: (keyLength varint | key | valueLength varint | value)*
//
// where offsetDelta is the record's position, key and value may be null
// (-1) but header keys may not, and length covers exactly the fields after
// it. It returns the largest record timestamp.
func walk(data []byte, b model.Batch, lim *Limits) (maxTs int64, err error) {
	base, count := b.BaseTimestamp(), b.RecordCount()
	maxTs = -1
	c := cursor{b: data}
	for i := range count {
		length := c.int32()
		if c.bad || length < 0 || int(length) > len(c.b) {
			return 0, fmt.Errorf("%w: record %d: length %d in %d bytes", ErrInvalidRecord, i, length, len(c.b))
		}
		r := cursor{b: c.b[:length]}
		c.b = c.b[length:]
		r.skip(1) // attributes: unused in v2
		ts := base + r.varint(10)
		if od := r.int32(); !r.bad && od != i {
			return 0, fmt.Errorf("%w: record %d has offset delta %d", ErrInvalidRecord, i, od)
		}
		if nullKey := r.bytes(true); nullKey && lim.Compacted {
			return 0, fmt.Errorf("%w: record %d: null key on a compacted topic", ErrInvalidRecord, i)
		}
		r.bytes(true)
		headers := r.int32()
		if !r.bad && (headers < 0 || int(headers) > len(r.b)/2) {
			return 0, fmt.Errorf("%w: record %d: %d headers in %d bytes", ErrInvalidRecord, i, headers, len(r.b))
		}
		for range headers {
			r.bytes(false)
			r.bytes(true)
		}
		if r.bad || len(r.b) != 0 {
			return 0, fmt.Errorf("%w: record %d: fields do not parse to exactly its length %d", ErrInvalidRecord, i, length)
		}
		if err := checkTimestamp(ts, lim); err != nil {
			return 0, fmt.Errorf("%w (record %d)", err, i)
		}
		maxTs = max(maxTs, ts)
	}
	if len(c.b) != 0 {
		return 0, fmt.Errorf("%w: %d bytes after %d records", ErrInvalidRecord, len(c.b), count)
	}
	return maxTs, nil
}

func checkTimestamp(ts int64, lim *Limits) error {
	if ts == -1 {
		return nil
	}
	if lim.TimestampBeforeMaxMs > 0 && lim.NowMs-ts > lim.TimestampBeforeMaxMs {
		return fmt.Errorf("%w: %d is more than %d ms before %d", ErrInvalidTimestamp, ts, lim.TimestampBeforeMaxMs, lim.NowMs)
	}
	if lim.TimestampAfterMaxMs > 0 && ts-lim.NowMs > lim.TimestampAfterMaxMs {
		return fmt.Errorf("%w: %d is more than %d ms after %d", ErrInvalidTimestamp, ts, lim.TimestampAfterMaxMs, lim.NowMs)
	}
	return nil
}
