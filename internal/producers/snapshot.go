package producers

import (
	"encoding/binary"
	"fmt"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Snapshot format (big-endian), version 1:
//
//	+-------+---------+-----+-------+-----------------+--------+
//	| magic | version | end | count | count × entry   | crc32c |
//	| "PPST"| u16 = 1 | i64 | u32   |                 | u32    |
//	+-------+---------+-----+-------+-----------------+--------+
//	entry:   pid i64 | epoch i16 | flags u8 (bit 0: sequence unknown) |
//	         epochStart i64 | lastTs i64 | n u8 (<= 5) | n × batch
//	batch:   firstSeq i32 | lastSeq i32 | firstOffset i64 | lastOffset i64 | ts i64
//
// The CRC-32C covers every byte before it. Entries run from the least to the
// most recently used, so decoding them in order rebuilds the LRU order.
const (
	snapshotMagic   = "PPST"
	snapshotVersion = 1
	snapHeaderSize  = 4 + 2 + 8 + 4
	entryFixedSize  = 8 + 2 + 1 + 8 + 8 + 1
	batchSize       = 4 + 4 + 8 + 8 + 8
	flagSeqUnknown  = 1
)

// AppendTo appends the snapshot of s to dst.
func (s *State) AppendTo(dst []byte) []byte {
	at := len(dst)
	dst = append(dst, snapshotMagic...)
	dst = binary.BigEndian.AppendUint16(dst, snapshotVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(s.end))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s.byID)))
	for e := s.lru.prev; e != &s.lru; e = e.prev {
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.pid))
		dst = binary.BigEndian.AppendUint16(dst, uint16(e.epoch))
		var flags byte
		if e.seqUnknown {
			flags |= flagSeqUnknown
		}
		dst = append(dst, flags)
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.epochStart))
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.lastTs))
		dst = append(dst, e.n)
		for i := range int(e.n) {
			b := e.at(i)
			dst = binary.BigEndian.AppendUint32(dst, uint32(b.FirstSeq))
			dst = binary.BigEndian.AppendUint32(dst, uint32(b.LastSeq))
			dst = binary.BigEndian.AppendUint64(dst, uint64(b.FirstOffset))
			dst = binary.BigEndian.AppendUint64(dst, uint64(b.LastOffset))
			dst = binary.BigEndian.AppendUint64(dst, uint64(b.Timestamp))
		}
	}
	return binary.BigEndian.AppendUint32(dst, model.CRC32C(dst[at:]))
}

// reader reads fixed-width fields; a short read is sticky and reported once.
type reader struct {
	b     []byte
	short bool
}

func (r *reader) next(n int) []byte {
	if r.short || len(r.b) < n {
		r.short = true
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8   { return r.next(1)[0] }
func (r *reader) u16() uint16 { return binary.BigEndian.Uint16(r.next(2)) }
func (r *reader) u32() uint32 { return binary.BigEndian.Uint32(r.next(4)) }
func (r *reader) u64() uint64 { return binary.BigEndian.Uint64(r.next(8)) }

func corrupt(format string, args ...any) error {
	return fmt.Errorf("producers: snapshot: "+format+": %w", append(args, model.ErrCorrupt)...)
}

// Decode rebuilds a State from a snapshot AppendTo wrote, with the bounds of
// cfg (if the snapshot holds more producers, the least recent are dropped).
// Any damage, an unknown version or an inconsistent entry is an error
// wrapping model.ErrCorrupt.
func Decode(b []byte, cfg Config) (*State, error) {
	if len(b) < snapHeaderSize+4 {
		return nil, corrupt("%d bytes", len(b))
	}
	body := b[:len(b)-4]
	if got, want := model.CRC32C(body), binary.BigEndian.Uint32(b[len(body):]); got != want {
		return nil, corrupt("crc %08x, stored %08x", got, want)
	}
	if string(body[:4]) != snapshotMagic {
		return nil, corrupt("magic %q", body[:4])
	}
	r := reader{b: body[4:]}
	if v := r.u16(); v != snapshotVersion {
		return nil, corrupt("version %d", v)
	}
	s := New(cfg)
	end := model.Offset(r.u64())
	count := r.u32()
	if uint64(count) > uint64(len(r.b)/entryFixedSize) {
		return nil, corrupt("%d entries in %d bytes", count, len(r.b))
	}
	for i := range count {
		pid, epoch := int64(r.u64()), int16(r.u16())
		flags := r.u8()
		epochStart, lastTs := model.Offset(r.u64()), int64(r.u64())
		n := r.u8()
		if r.short || pid < 0 || flags&^flagSeqUnknown != 0 || n > BatchesRetained || s.byID[pid] != nil {
			return nil, corrupt("entry %d: pid %d, flags %#x, %d batches", i, pid, flags, n)
		}
		e := s.touch(pid, epoch, epochStart, lastTs)
		e.seqUnknown = flags&flagSeqUnknown != 0
		prev := epochStart - 1
		for range n {
			m := BatchMeta{FirstSeq: int32(r.u32()), LastSeq: int32(r.u32()),
				FirstOffset: model.Offset(r.u64()), LastOffset: model.Offset(r.u64()), Timestamp: int64(r.u64())}
			if m.FirstOffset <= prev || m.LastOffset < m.FirstOffset || m.LastOffset >= end || m.FirstSeq < 0 || m.LastSeq < 0 {
				return nil, corrupt("entry %d: batch %+v after offset %d, end %d", i, m, prev, end)
			}
			prev = m.LastOffset
			e.push(m)
		}
	}
	if r.short || len(r.b) != 0 {
		return nil, corrupt("%d bytes left, short %v", len(r.b), r.short)
	}
	s.end = end
	return s, nil
}
