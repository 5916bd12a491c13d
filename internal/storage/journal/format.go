package journal

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/petrel-streaming/petrel/internal/model"
)

// On-disk layout constants (see doc.go for the drawings).
const (
	// HeaderBlockSize is the size of the header block at the start of every
	// journal file; records start right after it.
	HeaderBlockSize = 4096
	// RecordHeaderSize is the size of a record header; the payload follows.
	RecordHeaderSize = 48

	fileHeaderLen = 28 // bytes of the header block that carry data
	pageSize      = 4096
)

var fileMagic = [8]byte{'P', 'T', 'R', 'L', 'J', 'N', 'L', '1'}

// Errors with identity. Corruption found while reading headers wraps
// model.ErrCorrupt; a torn or stale tail is not an error (replay stops there).
var (
	// ErrFull is returned by Add when the ring has no room for the record:
	// the engine must wait for a Release (backpressure), not retry in a loop.
	ErrFull = errors.New("journal: full")
	// ErrTooLarge is returned by Add for a record that cannot fit in one file.
	ErrTooLarge = errors.New("journal: record larger than a journal file")
	// ErrInvalidKind is returned by Add for kind 0.
	ErrInvalidKind = errors.New("journal: record kind 0 is invalid")
	// ErrNotReplayed is returned by Add and Release before Replay ran.
	ErrNotReplayed = errors.New("journal: Replay must run before Add")
	// ErrReplayed is returned by Replay after the first Add.
	ErrReplayed = errors.New("journal: Replay already ran")
	// ErrGeometry is returned by Open when the files on disk do not match
	// Options (file count or size changed) while some still hold records.
	ErrGeometry = errors.New("journal: file set does not match options")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("journal: closed")
)

// Record is one journal record as the engine sees it. Kind is the engine's
// business (entries, truncation, barrier, kv batch, …) but never 0.
type Record struct {
	Kind    uint8
	Key     model.PartitionKey
	Payload []byte
}

// fileHeader is the decoded header block of one journal file.
type fileHeader struct {
	gen      uint64
	firstSeq uint64
}

// appendFileHeader appends a whole header block (HeaderBlockSize bytes).
func appendFileHeader(dst []byte, h fileHeader) []byte {
	start := len(dst)
	dst = append(dst, fileMagic[:]...)
	dst = binary.LittleEndian.AppendUint64(dst, h.gen)
	dst = binary.LittleEndian.AppendUint64(dst, h.firstSeq)
	dst = binary.LittleEndian.AppendUint32(dst, model.CRC32C(dst[start:start+24]))
	for len(dst)-start < HeaderBlockSize {
		dst = append(dst, 0)
	}
	return dst
}

// decodeFileHeader decodes a header block. An all-zero block (a file never
// used) and any garbage both fail: the file holds no records.
func decodeFileHeader(b []byte) (fileHeader, error) {
	if len(b) < fileHeaderLen {
		return fileHeader{}, fmt.Errorf("journal: header block of %d bytes: %w", len(b), model.ErrShort)
	}
	if [8]byte(b[:8]) != fileMagic {
		return fileHeader{}, fmt.Errorf("journal: bad header magic: %w", model.ErrCorrupt)
	}
	if got, want := model.CRC32C(b[:24]), binary.LittleEndian.Uint32(b[24:]); got != want {
		return fileHeader{}, fmt.Errorf("journal: header crc %08x, stored %08x: %w", got, want, model.ErrCorrupt)
	}
	h := fileHeader{gen: binary.LittleEndian.Uint64(b[8:]), firstSeq: binary.LittleEndian.Uint64(b[16:])}
	if h.gen == 0 || h.firstSeq == 0 {
		return fileHeader{}, fmt.Errorf("journal: header gen %d first seq %d: %w", h.gen, h.firstSeq, model.ErrCorrupt)
	}
	return h, nil
}

// recordSize is the encoded size of a record with an n-byte payload.
func recordSize(n int) int64 { return RecordHeaderSize + int64(n) }

// appendRecord appends one encoded record. It never allocates when dst has
// room.
func appendRecord(dst []byte, gen, seq uint64, r Record) []byte {
	start := len(dst)
	var h [RecordHeaderSize]byte
	binary.LittleEndian.PutUint32(h[4:], uint32(len(r.Payload)))
	binary.LittleEndian.PutUint64(h[8:], gen)
	binary.LittleEndian.PutUint64(h[16:], seq)
	h[24] = r.Kind
	binary.LittleEndian.PutUint32(h[28:], uint32(r.Key.Partition))
	copy(h[32:48], r.Key.Topic[:])
	dst = append(dst, h[:]...)
	dst = append(dst, r.Payload...)
	binary.LittleEndian.PutUint32(dst[start:], model.CRC32C(dst[start+4:]))
	return dst
}

// recordView is a decoded record header plus its payload (aliasing the
// buffer it was decoded from).
type recordView struct {
	gen, seq uint64
	rec      Record
	size     int64
}

// decodeRecord decodes the record at the start of b. maxPayload bounds the
// length field before it is trusted. It returns model.ErrShort when b does
// not hold the whole record (the caller may read more) and an error wrapping
// model.ErrCorrupt when the bytes are not a valid record.
func decodeRecord(b []byte, maxPayload int64) (recordView, error) {
	if len(b) < RecordHeaderSize {
		return recordView{}, model.ErrShort
	}
	n := int64(binary.LittleEndian.Uint32(b[4:]))
	if n > maxPayload {
		return recordView{}, fmt.Errorf("journal: record length %d: %w", n, model.ErrCorrupt)
	}
	if int64(len(b)) < recordSize(int(n)) {
		return recordView{}, model.ErrShort
	}
	end := recordSize(int(n))
	if got, want := model.CRC32C(b[4:end]), binary.LittleEndian.Uint32(b); got != want {
		return recordView{}, fmt.Errorf("journal: record crc %08x, stored %08x: %w", got, want, model.ErrCorrupt)
	}
	v := recordView{
		gen:  binary.LittleEndian.Uint64(b[8:]),
		seq:  binary.LittleEndian.Uint64(b[16:]),
		size: end,
	}
	v.rec.Kind = b[24]
	if v.rec.Kind == 0 {
		return recordView{}, fmt.Errorf("journal: record kind 0: %w", model.ErrCorrupt)
	}
	v.rec.Key.Partition = model.PartitionID(int32(binary.LittleEndian.Uint32(b[28:])))
	copy(v.rec.Key.Topic[:], b[32:48])
	v.rec.Payload = b[RecordHeaderSize:end]
	return v, nil
}

func alignDown(n int64) int64 { return n &^ (pageSize - 1) }
func alignUp(n int64) int64   { return (n + pageSize - 1) &^ (pageSize - 1) }
