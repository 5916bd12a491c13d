package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strconv"

	"github.com/petrel-streaming/petrel/internal/vfs"
)

// Defaults for Options.
const (
	DefaultFileSize = 64 << 20
	DefaultMaxFiles = 4
)

const zeroChunk = 1 << 20 // bytes written per WriteAt while zero-filling a new file

// Options configure a Journal. The zero value means the defaults.
type Options struct {
	// Logger receives the rare operational messages (direct I/O fallback,
	// replay oddities). nil means slog.Default().
	Logger *slog.Logger
	// FileSize is the size of each journal file, a multiple of 4096 of at
	// least two pages (default 64 MiB). A record must fit in one file.
	FileSize int64
	// MaxFiles is the number of files in the ring, at least 2 (default 4).
	MaxFiles int
	// Direct asks for O_DIRECT; the journal falls back to buffered I/O (one
	// log line) when the file system refuses it.
	Direct bool
}

func (o *Options) setDefaults() error {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.FileSize == 0 {
		o.FileSize = DefaultFileSize
	}
	if o.MaxFiles == 0 {
		o.MaxFiles = DefaultMaxFiles
	}
	if o.FileSize%pageSize != 0 || o.FileSize < 2*pageSize || o.FileSize > 1<<32 {
		return fmt.Errorf("journal: file size %d: want a multiple of %d in [%d, 4 GiB]", o.FileSize, pageSize, 2*pageSize)
	}
	if o.MaxFiles < 2 || o.MaxFiles > 1<<16 {
		return fmt.Errorf("journal: max files %d: want at least 2", o.MaxFiles)
	}
	return nil
}

// jfile is one file of the ring.
type jfile struct {
	f     vfs.File
	hdr   fileHeader // header of the current generation (valid when hdrOK)
	hdrOK bool
}

// Journal is one shard's journal: a ring of preallocated files into which
// every sync round writes the small pending writes of all the shard's
// partitions, made durable by one fdatasync per touched file.
//
// A Journal is owned by one goroutine (its shard). Only (*SyncJob).Run may
// be called from another goroutine, concurrently with the owner's Adds.
type Journal struct {
	fs     vfs.FS
	dir    string
	opts   Options
	log    *slog.Logger
	files  []jfile
	direct bool
	closed bool
	err    error // sticky: set by a failed round, returned by every later call

	replayed   bool
	added      bool   // an Add happened: Replay may no longer run
	nextGen    uint64 // generation the next begun file takes
	nextSeq    uint64 // seq of the next Add
	durableSeq uint64 // every record ≤ durableSeq is durable

	// The live files are consecutive in ring order: liveStart, liveStart+1,
	// … (mod len(files)), liveN of them; the last is the head, written at
	// headEnd (pending records included).
	liveStart, liveN int
	needBegin        bool // the next Add begins a new file (after Replay)
	syncHeader       bool // the next begun file's header is written and synced at once
	headEnd          int64

	pend     []region       // the pending round, in write order
	tail     [pageSize]byte // bytes [alignDown(end), end) of the head file's last region
	tailLen  int64          // as of the last PrepareSync
	inflight []*SyncJob     // jobs handed out and not yet finished, oldest first
	jobPool  []*SyncJob     // finished jobs, for reuse
	jobNum   uint64         // number of the last job handed out
	turn     writeTurn      // orders the writes of the jobs in flight
	pool     [][]byte       // free aligned buffers, bounded by poolMax
	hdrBuf   [HeaderBlockSize]byte
}

// region is a contiguous pending write into one file: buf holds the bytes of
// [off, off+len(buf)); off is page aligned.
type region struct {
	file int
	off  int64
	buf  []byte
}

const poolMax = 8

// Open opens the journal in dir, creating and zero-filling the files on
// first use. It reads the file headers but no records: call Replay next.
func Open(fsys vfs.FS, dir string, opts Options) (*Journal, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	j := &Journal{fs: fsys, dir: dir, opts: opts, log: opts.Logger, direct: opts.Direct}
	j.turn.cond.L = &j.turn.mu
	if err := fsys.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := j.openFiles(); err != nil {
		j.closeFiles()
		return nil, err
	}
	return j, nil
}

func (j *Journal) fileName(i int) string { return path.Join(j.dir, strconv.Itoa(i)+".jnl") }

// openFiles opens (or creates) the ring's files and reads their headers.
func (j *Journal) openFiles() error {
	n := j.opts.MaxFiles
	j.files = make([]jfile, n)
	var missing []int
	anyHeader := false
	for i := range n {
		name := j.fileName(i)
		st, err := j.fs.Stat(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, i)
			continue
		case err != nil:
			return fmt.Errorf("journal: %w", err)
		}
		if st.Size != j.opts.FileSize {
			if ok, err := j.hasHeader(name); err != nil || ok {
				return errors.Join(fmt.Errorf("journal: %s is %d bytes, want %d: %w", name, st.Size, j.opts.FileSize, ErrGeometry), err)
			}
			missing = append(missing, i) // a creation cut short: make it again
			continue
		}
		f, err := j.openFile(name, false)
		if err != nil {
			return err
		}
		j.files[i].f = f
		if err := j.readHeader(i); err != nil {
			return err
		}
		anyHeader = anyHeader || j.files[i].hdrOK
	}
	if err := j.checkExtraFiles(); err != nil {
		return err
	}
	if len(missing) > 0 && anyHeader {
		return fmt.Errorf("journal: %d of %d files missing while others hold records: %w", len(missing), n, ErrGeometry)
	}
	for _, i := range missing {
		f, err := j.createFile(j.fileName(i))
		if err != nil {
			return err
		}
		j.files[i].f = f
	}
	if len(missing) > 0 { // the new files' entries, and dir's own (MkdirAll may have made it)
		for _, d := range []string{j.dir, path.Dir(j.dir)} {
			if err := j.fs.SyncDir(d); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
		}
	}
	return nil
}

// checkExtraFiles refuses files beyond MaxFiles that still hold records
// (MaxFiles was lowered while the journal was not empty).
func (j *Journal) checkExtraFiles() error {
	names, err := j.fs.List(j.dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	for _, name := range names {
		base, ok := cutSuffix(name, ".jnl")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(base)
		if err != nil || i < j.opts.MaxFiles {
			continue
		}
		if ok, err := j.hasHeader(path.Join(j.dir, name)); err != nil || ok {
			return errors.Join(fmt.Errorf("journal: %s beyond MaxFiles %d: %w", name, j.opts.MaxFiles, ErrGeometry), err)
		}
	}
	return nil
}

func cutSuffix(s, suffix string) (string, bool) {
	if len(s) < len(suffix) || s[len(s)-len(suffix):] != suffix {
		return s, false
	}
	return s[:len(s)-len(suffix)], true
}

// hasHeader reports whether the named file starts with a valid header.
func (j *Journal) hasHeader(name string) (bool, error) {
	f, err := j.fs.OpenReadOnly(name)
	if err != nil {
		return false, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	n, _ := f.ReadAt(j.hdrBuf[:fileHeaderLen], 0)
	_, err = decodeFileHeader(j.hdrBuf[:n])
	return err == nil, nil
}

// openFile opens (or creates) one file, with direct I/O when asked and
// available; the first refusal turns direct I/O off for the whole journal.
func (j *Journal) openFile(name string, create bool) (vfs.File, error) {
	op := j.fs.Open
	if create {
		op = j.fs.Create
	}
	if j.direct {
		f, err := op(name, vfs.OpenOptions{Direct: true})
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, vfs.ErrDirectUnsupported) {
			return nil, fmt.Errorf("journal: %w", err)
		}
		j.log.Warn("journal: direct I/O unsupported, using buffered I/O", "dir", j.dir, "err", err)
		j.direct = false
	}
	f, err := op(name, vfs.OpenOptions{})
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return f, nil
}

// createFile creates a file and fills it with written zeros, so that later
// fdatasyncs of its blocks carry no metadata.
func (j *Journal) createFile(name string) (vfs.File, error) {
	f, err := j.openFile(name, true)
	if err != nil {
		return nil, err
	}
	zeros := vfs.AlignedBuffer(int(min(zeroChunk, j.opts.FileSize)))
	for off := int64(0); off < j.opts.FileSize; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), j.opts.FileSize-off)], off); err != nil {
			f.Close()
			return nil, fmt.Errorf("journal: zero-fill %s: %w", name, err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	return f, nil
}

// readHeader reads file i's header block.
func (j *Journal) readHeader(i int) error {
	buf := vfs.AlignedBuffer(HeaderBlockSize)
	if _, err := j.files[i].f.ReadAt(buf, 0); err != nil {
		return fmt.Errorf("journal: read header of %s: %w", j.fileName(i), err)
	}
	h, err := decodeFileHeader(buf)
	j.files[i].hdr, j.files[i].hdrOK = h, err == nil
	return nil
}

func (j *Journal) closeFiles() error {
	var errs []error
	for i := range j.files {
		if j.files[i].f != nil {
			errs = append(errs, j.files[i].f.Close())
			j.files[i].f = nil
		}
	}
	return errors.Join(errs...)
}

// Close closes the files. Pending records not yet made durable by a round
// are dropped; the owner finishes any round in flight before closing.
func (j *Journal) Close() error {
	if j.closed {
		return nil
	}
	j.closed = true
	if err := j.closeFiles(); err != nil {
		return fmt.Errorf("journal: close: %w", err)
	}
	return nil
}

// Err returns the sticky error of a failed round, or nil. After a failure
// the journal refuses everything but Close; reopen it to recover.
func (j *Journal) Err() error { return j.err }

// Direct reports whether the files use direct I/O (false after a fallback).
func (j *Journal) Direct() bool { return j.direct }

// LastSeq is the seq of the last record added (or replayed), 0 if none.
func (j *Journal) LastSeq() uint64 { return j.nextSeq - 1 }

// DurableSeq is the seq of the last record known durable, 0 if none.
func (j *Journal) DurableSeq() uint64 { return j.durableSeq }

// Capacity is the size of the ring in bytes.
func (j *Journal) Capacity() int64 { return int64(len(j.files)) * j.opts.FileSize }

// Used is the bytes of the ring held by live records: whole files for the
// live files behind the head, up to the write position for the head.
func (j *Journal) Used() int64 {
	if j.liveN == 0 {
		return 0
	}
	return int64(j.liveN-1)*j.opts.FileSize + j.headEnd
}

func (j *Journal) head() int { return (j.liveStart + j.liveN - 1) % len(j.files) }
