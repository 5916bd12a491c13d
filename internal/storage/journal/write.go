package journal

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/petrel-streaming/petrel/internal/failpoint"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

const minBufSize = 64 << 10

// SyncJob is one round's I/O: the pending writes captured by PrepareSync and
// the fdatasync of every file they touch. Run may be called from any
// goroutine; the owner keeps adding records meanwhile and calls FinishSync
// with Run's result. Several jobs may be in flight: each one's writes wait
// for the previous job's (a job rewrites the partial last page the one
// before it wrote, with more records in it, and the two writes must land
// in order), while their fdatasyncs overlap.
type SyncJob struct {
	j       *Journal
	writes  []region
	lastSeq uint64
	num     uint64 // 1, 2, …: the order of PrepareSync, which is the order of the writes
}

// LastSeq is the seq of the last record the round makes durable.
func (s *SyncJob) LastSeq() uint64 { return s.lastSeq }

// Run writes the round's bytes, after the previous job's, and fdatasyncs
// each touched file once. Any goroutine; it touches only the job, the
// files and the write turn. Call it once.
func (s *SyncJob) Run() error {
	if err := s.write(); err != nil {
		return err
	}
	files := s.j.files
	failpoint.Inject("storage/before-journal-sync") // crash point: written, not synced
	for i, w := range s.writes {
		if i > 0 && s.writes[i-1].file == w.file {
			continue
		}
		if err := files[w.file].f.Datasync(); err != nil {
			return fmt.Errorf("journal: fdatasync %s: %w", s.j.fileName(w.file), err)
		}
	}
	failpoint.Inject("storage/after-journal-sync") // crash point: synced, the round not finished
	return nil
}

// write waits for the previous job's writes, then writes this job's.
func (s *SyncJob) write() error {
	t := &s.j.turn
	t.mu.Lock()
	for t.done != s.num-1 && t.err == nil {
		t.cond.Wait()
	}
	err := t.err
	t.mu.Unlock()
	if err != nil {
		return fmt.Errorf("journal: the round before failed: %w", err)
	}
	files := s.j.files
	for _, w := range s.writes {
		if _, werr := files[w.file].f.WriteAt(w.buf, w.off); werr != nil {
			err = fmt.Errorf("journal: write %s at %d: %w", s.j.fileName(w.file), w.off, werr)
			break
		}
	}
	t.finish(s.num, err)
	return err
}

// writeTurn orders the writes of the jobs in flight.
type writeTurn struct {
	mu   sync.Mutex
	cond sync.Cond
	done uint64 // the last job whose writes are done
	err  error  // a failed write: every later job fails
}

func (t *writeTurn) finish(num uint64, err error) {
	t.mu.Lock()
	if err != nil && t.err == nil {
		t.err = err
	}
	t.done = max(t.done, num)
	t.cond.Broadcast()
	t.mu.Unlock()
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
		if err := j.begin(); err != nil {
			return 0, err
		}
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
// its header block at the start of a new pending region. The first file
// begun after Replay gets its header on disk now (see Replay).
func (j *Journal) begin() error {
	i := (j.liveStart + j.liveN) % len(j.files)
	if j.liveN == 0 {
		i = j.liveStart
	}
	j.liveN++
	j.needBegin = false
	j.files[i].hdr = fileHeader{gen: j.nextGen, firstSeq: j.nextSeq}
	j.files[i].hdrOK = true
	j.nextGen++
	buf := appendFileHeader(j.getBuf(HeaderBlockSize), j.files[i].hdr)
	if j.syncHeader {
		j.syncHeader = false
		f := j.files[i].f
		if _, err := f.WriteAt(buf, 0); err != nil {
			return j.failWith(fmt.Errorf("journal: write header of %s: %w", j.fileName(i), err))
		}
		if err := f.Datasync(); err != nil {
			return j.failWith(fmt.Errorf("journal: fdatasync header of %s: %w", j.fileName(i), err))
		}
	}
	j.pend = append(j.pend, region{file: i, off: 0, buf: buf})
	j.headEnd = HeaderBlockSize
	return nil
}

// failWith makes err the journal's sticky error.
func (j *Journal) failWith(err error) error {
	if j.err == nil {
		j.err = err
	}
	return j.err
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
// pending round. It returns nil when nothing is pending or when the journal
// has failed. Jobs may be prepared while earlier ones are in flight; their
// writes happen in that order (a job rewrites the partial last page the one
// before it wrote, with more records in it), their fdatasyncs overlap, and
// they must be finished in that order too.
func (j *Journal) PrepareSync() *SyncJob {
	if j.usable() != nil || len(j.pend) == 0 {
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
	var s *SyncJob
	if n := len(j.jobPool); n > 0 {
		s, j.jobPool = j.jobPool[n-1], j.jobPool[:n-1]
	} else {
		s = &SyncJob{j: j}
	}
	j.jobNum++
	s.num, s.lastSeq = j.jobNum, j.nextSeq-1
	s.writes, j.pend = j.pend, s.writes[:0]
	j.inflight = append(j.inflight, s)
	return s
}

// InFlight is the number of jobs handed out and not yet finished.
func (j *Journal) InFlight() int { return len(j.inflight) }

// FinishSync ends the round of job s, the oldest in flight, after its Run
// returned err (or without Run, with an error). On success its records are
// durable; on failure the journal fails for good (its files' state is
// unknown after a failed fdatasync) and every later call returns the error.
func (j *Journal) FinishSync(s *SyncJob, err error) {
	if len(j.inflight) == 0 || j.inflight[0] != s {
		if slices.Contains(j.inflight, s) {
			j.failWith(errors.New("journal: rounds finished out of order"))
		}
		return
	}
	j.inflight = slices.Delete(j.inflight, 0, 1)
	for k := range s.writes {
		j.putBuf(s.writes[k].buf)
		s.writes[k].buf = nil
	}
	if len(j.jobPool) < poolMax {
		j.jobPool = append(j.jobPool, s)
	}
	if err != nil {
		j.turn.finish(s.num, err) // later jobs must not write behind a failed one
		j.failWith(fmt.Errorf("journal: round failed, reopen to recover: %w", err))
		return
	}
	if j.err == nil {
		j.durableSeq = max(j.durableSeq, s.lastSeq)
	}
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
