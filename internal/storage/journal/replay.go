package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

const replayChunk = 1 << 20 // bytes read at a time while replaying

// Replay yields, in order, every record with seq ≥ from that the journal
// holds, then readies the journal for Add. It runs once, before any Add.
//
// It starts in the newest file whose header says its first seq is ≤ from,
// checks every record (crc, the file's generation, seq = previous + 1) and
// stops a file at the first record that fails; it goes on into the next
// file of the ring only if that file's header continues the chain (a newer
// generation whose first seq is the next seq). A torn tail, zeros and
// records of a recycled file's previous lap all end the replay.
//
// fn sees r.Payload only during the call (it aliases a read buffer); an
// error from fn stops the replay and is returned. fn may be nil.
// After Replay the next Add begins a fresh file: the bytes after the last
// valid record are never written again in that generation, so a torn round
// can never be resurrected by a later one.
func (j *Journal) Replay(from uint64, fn func(seq uint64, r Record) error) error {
	switch {
	case j.closed:
		return ErrClosed
	case j.added:
		return ErrReplayed
	}
	from = max(from, 1)
	j.nextGen = 0
	start, maxGenFile := -1, -1
	for i := range j.files {
		h := j.files[i].hdr
		if !j.files[i].hdrOK {
			continue
		}
		j.nextGen = max(j.nextGen, h.gen)
		if maxGenFile < 0 || h.gen > j.files[maxGenFile].hdr.gen {
			maxGenFile = i
		}
		if h.firstSeq <= from && (start < 0 || h.gen > j.files[start].hdr.gen) {
			start = i
		}
	}
	// Files begun before the crash whose headers never reached the disk
	// may have records on disk that carry the generations above the
	// newest header seen. Every such file was live (a file is freed only
	// once its records are durable), so there are fewer than len(files):
	// skipping that many generations makes the next one new for certain.
	// The first file begun after Replay has its header made durable
	// before any record is written to it, so a later crash cannot lose
	// the floor this sets.
	j.nextGen += 1 + uint64(len(j.files))
	j.syncHeader = true
	if start < 0 && maxGenFile >= 0 {
		start = j.oldestChainStart()
		j.log.Warn("journal: replay point is older than every record present",
			"dir", j.dir, "from", from, "oldest", j.files[start].hdr.firstSeq)
	}
	next := uint64(1)
	if start >= 0 {
		var err error
		if next, err = j.replayChain(start, from, fn); err != nil {
			return err
		}
	} else {
		j.liveStart, j.liveN = 0, 0
	}
	j.replayed = true
	j.needBegin = true
	j.nextSeq = max(next, from)
	j.durableSeq = j.nextSeq - 1
	j.Release(from)
	return nil
}

// oldestChainStart picks, when no file starts at or before the replay
// point, the file with the smallest first seq: every record present is newer
// than the replay point.
func (j *Journal) oldestChainStart() int {
	best := -1
	for i := range j.files {
		if j.files[i].hdrOK && (best < 0 || j.files[i].hdr.firstSeq < j.files[best].hdr.firstSeq) {
			best = i
		}
	}
	return best
}

// replayChain replays the chain of files that begins at file start and
// records it as the live files. It returns the seq after the last valid
// record.
func (j *Journal) replayChain(start int, from uint64, fn func(uint64, Record) error) (uint64, error) {
	rd := reader{maxPayload: j.opts.FileSize - HeaderBlockSize - RecordHeaderSize}
	i, n := start, 1
	expect := j.files[i].hdr.firstSeq
	for {
		var err error
		if expect, err = rd.scan(j.files[i].f, j.opts.FileSize, j.files[i].hdr, expect, from, fn); err != nil {
			return 0, err
		}
		nx := (i + 1) % len(j.files)
		h := j.files[nx].hdr
		if n == len(j.files) || !j.files[nx].hdrOK || h.gen <= j.files[i].hdr.gen || h.firstSeq != expect {
			break
		}
		i = nx
		n++
	}
	j.liveStart, j.liveN = start, n
	j.headEnd = j.opts.FileSize // the head is never appended to again
	return expect, nil
}

// reader reads one file's records through an aligned window (direct I/O
// needs aligned offsets and buffers; buffered I/O does not mind).
type reader struct {
	maxPayload int64
	buf        []byte // aligned
	off        int64  // file offset of buf[0]
	n          int    // valid bytes in buf
}

// fill makes the window cover [pos, pos+need), reading at least a chunk.
func (r *reader) fill(f vfs.File, size, pos, need int64) error {
	lo := alignDown(pos)
	hi := min(size, max(alignUp(pos+need), lo+replayChunk))
	if int64(cap(r.buf)) < hi-lo {
		r.buf = vfs.AlignedBuffer(int(alignUp(hi - lo)))
	}
	r.buf = r.buf[:hi-lo]
	n, err := f.ReadAt(r.buf, lo)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("journal: read %s at %d: %w", f.Name(), lo, err)
	}
	r.off, r.n = lo, n
	return nil
}

// scan walks the records of one file from the end of its header block,
// yielding those with seq ≥ from, and returns the seq after the last valid
// one. It stops at the first record that is short, fails its crc, has
// another generation or the wrong seq.
func (r *reader) scan(f vfs.File, size int64, h fileHeader, expect, from uint64, fn func(uint64, Record) error) (uint64, error) {
	r.n = 0
	filledAt := int64(-1)
	for pos := int64(HeaderBlockSize); pos+RecordHeaderSize <= size; {
		var b []byte
		if pos >= r.off && pos < r.off+int64(r.n) {
			b = r.buf[pos-r.off : r.n]
		}
		v, err := decodeRecord(b, r.maxPayload)
		if errors.Is(err, model.ErrShort) {
			need := int64(RecordHeaderSize)
			if len(b) >= RecordHeaderSize {
				need = recordSize(int(binary.LittleEndian.Uint32(b[4:])))
			}
			if pos+need > size || filledAt == pos {
				return expect, nil // cannot hold a whole record: the end
			}
			if err := r.fill(f, size, pos, need); err != nil {
				return expect, err
			}
			filledAt = pos
			continue
		}
		if err != nil || v.gen != h.gen || v.seq != expect {
			return expect, nil
		}
		if v.seq >= from && fn != nil {
			if err := fn(v.seq, v.rec); err != nil {
				return expect, err
			}
		}
		expect++
		pos += v.size
	}
	return expect, nil
}
