package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/petrel-streaming/petrel/internal/model"
)

// EntryType says what an entry's payload is.
type EntryType uint8

const (
	// EntryData carries exactly one Kafka record batch v2 and covers the
	// Kafka offsets [Offset, Offset+Count).
	EntryData EntryType = 1
	// EntryInternal carries an opaque Raft payload (configuration change,
	// leader no-op, …) and covers no Kafka offset: Count is 0 and Offset is
	// the next Kafka offset at that point of the log.
	EntryInternal EntryType = 2
)

func (t EntryType) String() string {
	switch t {
	case EntryData:
		return "data"
	case EntryInternal:
		return "internal"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// EntryHeaderSize is the size of an encoded entry header.
const EntryHeaderSize = 40

// MaxEntryPayload bounds an entry's payload (64 MiB).
const MaxEntryPayload = 64 << 20

// Field positions in the encoded header (little-endian).
const (
	entryCRCAt    = 0
	entryLenAt    = 4
	entryIndexAt  = 8
	entryTermAt   = 16
	entryOffsetAt = 24
	entryTypeAt   = 32
	entryCountAt  = 36
)

// EntryHeader is the decoded header of one log entry.
type EntryHeader struct {
	Index  model.Index
	Term   model.Term
	Offset model.Offset
	Type   EntryType
	Count  uint32
	Len    uint32 // payload length
}

// Size is the encoded size of the entry: header plus payload.
func (h EntryHeader) Size() int64 { return EntryHeaderSize + int64(h.Len) }

// NextOffset is the Kafka offset that follows this entry.
func (h EntryHeader) NextOffset() model.Offset { return h.Offset + model.Offset(h.Count) }

// Entry is a decoded entry. Payload aliases the buffer it was decoded from.
type Entry struct {
	EntryHeader
	Payload []byte
}

// AppendEntry encodes an entry with payload onto dst and returns the
// extended slice. h.Len is ignored (the payload's length is used); the
// caller sets every other field, including Count, and validates the batch
// of a data entry. It computes the CRC.
func AppendEntry(dst []byte, h EntryHeader, payload []byte) []byte {
	at := len(dst)
	var hdr [EntryHeaderSize]byte
	binary.LittleEndian.PutUint32(hdr[entryLenAt:], uint32(len(payload)))
	binary.LittleEndian.PutUint64(hdr[entryIndexAt:], uint64(h.Index))
	binary.LittleEndian.PutUint64(hdr[entryTermAt:], uint64(h.Term))
	binary.LittleEndian.PutUint64(hdr[entryOffsetAt:], uint64(h.Offset))
	hdr[entryTypeAt] = byte(h.Type)
	binary.LittleEndian.PutUint32(hdr[entryCountAt:], h.Count)
	dst = append(dst, hdr[:]...)
	dst = append(dst, payload...)
	binary.LittleEndian.PutUint32(dst[at+entryCRCAt:], model.CRC32C(dst[at+entryLenAt:]))
	return dst
}

// decodeHeader parses the 40 header bytes of b without checking the CRC.
// It checks what can be checked from the header alone: the length bound,
// the type, the zero padding. b must hold at least EntryHeaderSize bytes.
func decodeHeader(b []byte) (EntryHeader, error) {
	h := EntryHeader{
		Len:    binary.LittleEndian.Uint32(b[entryLenAt:]),
		Index:  model.Index(binary.LittleEndian.Uint64(b[entryIndexAt:])),
		Term:   model.Term(binary.LittleEndian.Uint64(b[entryTermAt:])),
		Offset: model.Offset(binary.LittleEndian.Uint64(b[entryOffsetAt:])),
		Type:   EntryType(b[entryTypeAt]),
		Count:  binary.LittleEndian.Uint32(b[entryCountAt:]),
	}
	switch {
	case h.Len > MaxEntryPayload:
		return h, fmt.Errorf("storage: entry payload of %d bytes: %w", h.Len, model.ErrCorrupt)
	case h.Type != EntryData && h.Type != EntryInternal:
		return h, fmt.Errorf("storage: entry %s: %w", h.Type, model.ErrCorrupt)
	case b[entryTypeAt+1]|b[entryTypeAt+2]|b[entryTypeAt+3] != 0:
		return h, fmt.Errorf("storage: entry padding not zero: %w", model.ErrCorrupt)
	case h.Type == EntryInternal && h.Count != 0:
		return h, fmt.Errorf("storage: internal entry with count %d: %w", h.Count, model.ErrCorrupt)
	case h.Offset < 0 || h.Offset > h.Offset+model.Offset(h.Count):
		return h, fmt.Errorf("storage: entry offset %d count %d: %w", h.Offset, h.Count, model.ErrCorrupt)
	}
	return h, nil
}

// verifyEntry checks the CRC of one whole encoded entry (header+payload).
func verifyEntry(raw []byte) error {
	stored := binary.LittleEndian.Uint32(raw[entryCRCAt:])
	if got := model.CRC32C(raw[entryLenAt:]); got != stored {
		return fmt.Errorf("storage: entry crc %08x, stored %08x: %w", got, stored, model.ErrCorrupt)
	}
	return nil
}

// DecodeEntry decodes the first entry of b, verifying its CRC, and returns
// its header, its payload (aliasing b) and the bytes after it. Errors wrap
// model.ErrShort when b ends inside the entry and model.ErrCorrupt when the
// bytes are not a valid entry. A zeroed region never decodes.
func DecodeEntry(b []byte) (EntryHeader, []byte, []byte, error) {
	h, p, rest, err := DecodeEntryHeader(b)
	if err != nil {
		return h, nil, b, err
	}
	if err := verifyEntry(b[:h.Size()]); err != nil {
		return h, nil, b, err
	}
	return h, p, rest, nil
}

// DecodeEntryHeader is DecodeEntry without the CRC check, for bytes
// already verified (a journal record, a buffer this process encoded): it
// checks the header and frames the payload.
func DecodeEntryHeader(b []byte) (EntryHeader, []byte, []byte, error) {
	if len(b) < EntryHeaderSize {
		return EntryHeader{}, nil, b, fmt.Errorf("storage: entry header in %d bytes: %w", len(b), model.ErrShort)
	}
	h, err := decodeHeader(b)
	if err != nil {
		return h, nil, b, err
	}
	n := h.Size()
	if int64(len(b)) < n {
		return h, nil, b, fmt.Errorf("storage: entry of %d bytes in %d: %w", n, len(b), model.ErrShort)
	}
	return h, b[EntryHeaderSize:n], b[n:], nil
}

// batchInfo is what the log needs from a data entry's batch.
type batchInfo struct {
	maxTs int64
}

// checkPayload checks that a data entry's payload is one batch consistent
// with the header (base offset, offset count) and returns its max
// timestamp. Internal entries have no batch: maxTs is -1.
func checkPayload(h EntryHeader, payload []byte) (batchInfo, error) {
	if h.Type != EntryData {
		return batchInfo{maxTs: -1}, nil
	}
	b, rest, err := model.ParseBatch(payload)
	if err != nil || len(rest) != 0 {
		return batchInfo{}, fmt.Errorf("storage: entry %d: payload is not one batch (%v): %w", h.Index, err, model.ErrCorrupt)
	}
	if b.BaseOffset() != h.Offset || b.LastOffsetDelta() < 0 || uint32(b.LastOffsetDelta())+1 != h.Count {
		return batchInfo{}, fmt.Errorf("storage: entry %d offset %d count %d, batch base %d delta %d: %w",
			h.Index, h.Offset, h.Count, b.BaseOffset(), b.LastOffsetDelta(), model.ErrCorrupt)
	}
	return batchInfo{maxTs: b.MaxTimestamp()}, nil
}
