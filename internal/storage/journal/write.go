package journal

import (
	"fmt"

	"github.com/petrel-streaming/petrel/internal/vfs"
)

const minBufSize = 64 << 10

// SyncJob is one round's I/O: the pending writes captured by PrepareSync and
// the fdatasync of every file they touch. Run may be called from any
// goroutine; the owner keeps adding records meanwhile and calls FinishSync
// with Run's result.
type SyncJob struct {
	j       *Journal
	writes  []region
	lastSeq uint64
}

// LastSeq is the seq of the last record the round makes durable.
func (s *SyncJob) LastSeq() uint64 { return s.lastSeq }

// Run writes the round's bytes and fdatasyncs each touched file once. Any
// goroutine; it touches only the job and the files.
func (s *SyncJob) Run() error {
	files := s.j.files
	for _, w := range s.writes {
		if _, err := files[w.file].f.WriteAt(w.buf, w.off); err != nil {
			return fmt.Errorf("journal: write %s at %d: %w", s.j.fileName(w.file), w.off, err)
		}
	}
	for i, w := range s.writes {
		if i > 0 && s.writes[i-1].file == w.file {
			continue
		}
		if err := files[w.file].f.Datasync(); err != nil {
			return fmt.Errorf("journal: fdatasync %s: %w", s.j.fileName(w.file), err)
		}
	}
	return nil
}

// usable reports the sticky state shared by Add, PrepareSync and Release.
func (j *Journal) usable() error {
	switch {
	case j.closed:
		return ErrClosed
	case j.err != nil:
		return j.err
	case !j.replayed:
		return ErrNotReplayed
	}
	return nil
}

// Add appends r to the pending round and returns its seq. The payload is
// copied; the caller may reuse it at once. The record is durable only after
// the FinishSync of a round that includes it (a later PrepareSync).
// ErrFull means the ring has no room until Release frees a file.
func (j *Journal) Add(r Record) (uint64, error) {
	if err := j.usable(); err != nil {
		return 0, err
	}
	if r.Kind == 0 {
		return 0, ErrInvalidKind
	}
	size := recordSize(len(r.Payload))
	if size > j.opts.FileSize-HeaderBlockSize {
		return 0, fmt.Errorf("journal: record of %d bytes in files of %d: %w", size, j.opts.FileSize, ErrTooLarge)
	}
	if j.needBegin || j.headEnd+size > j.opts.FileSize {
		if j.liveN == len(j.files) {
			return 0, ErrFull
		}
		j.begin()
	}
	j.added = true
	reg := j.headRegion(size)
	seq := j.nextSeq
	reg.buf = appendRecord(reg.buf, j.files[reg.file].hdr.gen, seq, r)
	j.nextSeq++
	j.headEnd += size
	return seq, nil
}

// begin makes the next ring file the head, with a new generation, and puts
// its header block at the start of a new pending region.
func (j *Journal) begin() {
	i := (j.liveStart + j.liveN) % len(j.files)
	if j.liveN == 0 {
		i = j.liveStart
	}
	j.liveN++
	j.needBegin = false
	j.files[i].hdr = fileHeader{gen: j.nextGen, firstSeq: j.nextSeq}
	j.files[i].hdrOK = true
	j.nextGen++
	buf := j.getBuf(HeaderBlockSize)
	j.pend = append(j.pend, region{file: i, off: 0, buf: appendFileHeader(buf, j.files[i].hdr)})
	j.headEnd = HeaderBlockSize
}

// headRegion returns the pending region of the head file with room for n
// more bytes, starting one (with the partial tail page already on disk) if
// the round has none yet.
func (j *Journal) headRegion(n int64) *region {
	h := j.head()
	if len(j.pend) == 0 || j.pend[len(j.pend)-1].file != h {
		off := alignDown(j.headEnd)
		buf := j.getBuf(int(j.headEnd - off + n))
		buf = append(buf, j.tail[:j.headEnd-off]...)
		j.pend = append(j.pend, region{file: h, off: off, buf: buf})
	}
	reg := &j.pend[len(j.pend)-1]
	if need := len(reg.buf) + int(n); need > cap(reg.buf) {
		nb := j.getBuf(max(need, min(2*cap(reg.buf), int(j.opts.FileSize))))
		nb = append(nb, reg.buf...)
		j.putBuf(reg.buf)
		reg.buf = nb
	}
	return reg
}

// PrepareSync captures the pending round into a SyncJob and starts a new
// pending round. It returns nil when nothing is pending, when a job is still
// in flight (FinishSync not yet called) or when the journal has failed.
func (j *Journal) PrepareSync() *SyncJob {
	if j.usable() != nil || j.inflight || len(j.pend) == 0 {
		return nil
	}
	last := &j.pend[len(j.pend)-1]
	end := last.off + int64(len(last.buf))
	j.tailLen = end - alignDown(end)
	copy(j.tail[:], last.buf[alignDown(end)-last.off:])
	for k := range j.pend {
		b := j.pend[k].buf
		n := int(alignUp(int64(len(b))))
		clear(b[len(b):n]) // pad the last page with zeros
		j.pend[k].buf = b[:n]
	}
	j.job.j = j
	j.job.lastSeq = j.nextSeq - 1
	j.job.writes, j.pend = j.pend, j.job.writes[:0]
	j.inflight = true
	return &j.job
}

// FinishSync ends the round of job s. On success its records are durable;
// on failure the journal fails for good (its files' state is unknown after a
// failed fdatasync) and every later call returns the error.
func (j *Journal) FinishSync(s *SyncJob, err error) {
	if s != &j.job || !j.inflight {
		return
	}
	j.inflight = false
	for k := range s.writes {
		j.putBuf(s.writes[k].buf)
		s.writes[k].buf = nil
	}
	s.writes = s.writes[:0]
	if err != nil {
		if j.err == nil {
			j.err = fmt.Errorf("journal: round failed, reopen to recover: %w", err)
		}
		return
	}
	j.durableSeq = max(j.durableSeq, s.lastSeq)
}

// Release declares the records with seq < seq no longer needed (their data
// is durable elsewhere): files holding only such records return to the
// ring. Records not yet durable in the journal are never released, and the
// head file stays live. The engine must have persisted a replay point ≥ seq
// before a crash can make it call Replay again, or Replay starts at the
// oldest record still present.
func (j *Journal) Release(seq uint64) {
	if j.usable() != nil {
		return
	}
	seq = min(seq, j.durableSeq+1)
	for j.liveN > 1 {
		next := (j.liveStart + 1) % len(j.files)
		if j.files[next].hdr.firstSeq > seq {
			return
		}
		j.liveStart = next
		j.liveN--
	}
}

// getBuf returns an empty aligned buffer with capacity ≥ n, from the pool
// when one is large enough.
func (j *Journal) getBuf(n int) []byte {
	for k := len(j.pool) - 1; k >= 0; k-- {
		if b := j.pool[k]; cap(b) >= n {
			j.pool[k] = j.pool[len(j.pool)-1]
			j.pool = j.pool[:len(j.pool)-1]
			return b[:0]
		}
	}
	size := minBufSize
	for size < n {
		size *= 2
	}
	return vfs.AlignedBuffer(size)[:0]
}

// putBuf returns a buffer to the pool, dropping the smallest when full.
func (j *Journal) putBuf(b []byte) {
	if b == nil {
		return
	}
	if len(j.pool) < poolMax {
		j.pool = append(j.pool, b[:0])
		return
	}
	small := 0
	for k := range j.pool {
		if cap(j.pool[k]) < cap(j.pool[small]) {
			small = k
		}
	}
	if cap(j.pool[small]) < cap(b) {
		j.pool[small] = b[:0]
	}
}
