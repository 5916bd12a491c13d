package storage

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/petrel-streaming/petrel/internal/model"
)

// indexPointSize is the size of one encoded sparse index point.
const indexPointSize = 32

// indexPoint says where the entry with a given index sits in its segment.
// maxTs is the largest batch MaxTimestamp of the segment's data entries up
// to and including this one, -1 if none: the column that makes the sparse
// index a time index too.
type indexPoint struct {
	index  model.Index
	offset model.Offset
	pos    uint32
	maxTs  int64
}

// appendTo encodes the point onto dst. It encodes in place: a CRC over
// a stack array would move the array to the heap.
func (p indexPoint) appendTo(dst []byte) []byte {
	at := len(dst)
	dst = append(dst, make([]byte, indexPointSize)...)
	b := dst[at:]
	binary.LittleEndian.PutUint64(b[0:], uint64(p.index))
	binary.LittleEndian.PutUint64(b[8:], uint64(p.offset))
	binary.LittleEndian.PutUint32(b[16:], p.pos)
	binary.LittleEndian.PutUint64(b[24:], uint64(p.maxTs))
	binary.LittleEndian.PutUint32(b[20:], pointCRC(b))
	return dst
}

func pointCRC(b []byte) uint32 {
	return model.UpdateCRC32C(model.CRC32C(b[0:20]), b[24:32])
}

// decodeIndexPoint decodes one point, checking its CRC.
func decodeIndexPoint(b []byte) (indexPoint, error) {
	if len(b) < indexPointSize {
		return indexPoint{}, fmt.Errorf("storage: index point in %d bytes: %w", len(b), model.ErrShort)
	}
	if got, stored := pointCRC(b), binary.LittleEndian.Uint32(b[20:]); got != stored {
		return indexPoint{}, fmt.Errorf("storage: index point crc %08x, stored %08x: %w", got, stored, model.ErrCorrupt)
	}
	return indexPoint{
		index:  model.Index(binary.LittleEndian.Uint64(b[0:])),
		offset: model.Offset(binary.LittleEndian.Uint64(b[8:])),
		pos:    binary.LittleEndian.Uint32(b[16:]),
		maxTs:  int64(binary.LittleEndian.Uint64(b[24:])),
	}, nil
}

// follows reports whether p may come after prev in one segment's index:
// strictly increasing index and position, non-decreasing offset and maxTs.
func (p indexPoint) follows(prev indexPoint) bool {
	return p.index > prev.index && p.pos > prev.pos && p.offset >= prev.offset && p.maxTs >= prev.maxTs
}

// parseIndex decodes the index file of the segment based at base whose log
// holds size bytes. It keeps the longest prefix of valid points: CRC good,
// the first at index base and position 0, each following the previous, each
// leaving room for an entry header before size. Everything after the first
// bad point is dropped (the file is written sequentially, so what follows a
// torn or stale point is not trusted either).
func parseIndex(b []byte, base model.Index, size int64) []indexPoint {
	var pts []indexPoint
	for len(b) >= indexPointSize {
		p, err := decodeIndexPoint(b)
		if err != nil || int64(p.pos)+EntryHeaderSize > size || p.offset < 0 || p.maxTs < -1 {
			break
		}
		if len(pts) == 0 {
			if p.index != base || p.pos != 0 {
				break
			}
		} else if !p.follows(pts[len(pts)-1]) || uint64(p.index-base) > uint64(p.pos) {
			break
		}
		pts = append(pts, p)
		b = b[indexPointSize:]
	}
	return pts
}

// lookupIndex returns the last point at or before index i, or -1.
func lookupIndex(pts []indexPoint, i model.Index) int {
	return sort.Search(len(pts), func(k int) bool { return pts[k].index > i }) - 1
}

// lookupOffset returns the last point whose entry starts at or before
// offset o, or -1.
func lookupOffset(pts []indexPoint, o model.Offset) int {
	return sort.Search(len(pts), func(k int) bool { return pts[k].offset > o }) - 1
}

// lookupTime returns the point from which to scan for the first data
// entry with a max timestamp ≥ ts: the point before the first one whose
// maxTs reaches ts (that entry lies after it and no later than the
// reaching point), the last point if none reaches ts (the entry, if any,
// lies after it), or -1 when the scan must start at the segment's start.
func lookupTime(pts []indexPoint, ts int64) int {
	return sort.Search(len(pts), func(k int) bool { return pts[k].maxTs >= ts }) - 1
}
