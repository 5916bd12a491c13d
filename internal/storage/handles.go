package storage

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// HandleCache is a bounded LRU of open segment files shared by all the
// logs of a shard, so that tens of thousands of mostly idle partitions need
// only a bounded number of file descriptors. Handles are reference counted:
// a file in use (a write, a sync job, a View's read) is never closed under
// its user; eviction closes it when the last user releases it.
//
// It also keeps a small, bounded free list of read buffers.
//
// Safe for use by any goroutine.
type HandleCache struct {
	mu      sync.Mutex
	maxOpen int
	open    map[handleKey]*handle
	lru     handle // sentinel of the ring of handles with refs == 0, least recently used first
	nlru    int
	nopen   int // files open, including evicted ones still referenced

	bufs    [][]byte // free read buffers
	abufs   [][]byte // free aligned staging buffers (direct I/O)
	maxBufs int

	directFallbackLogged atomic.Bool

	indexes *IndexCache // the default IndexCache of the logs sharing this cache
}

type handleKey struct {
	fs     vfs.FS
	name   string
	direct bool
}

type handle struct {
	key     handleKey
	f       vfs.File
	refs    int
	prev    *handle // in lru while refs == 0
	next    *handle
	evicted bool // no longer in open; close at refs == 0
}

// Default bounds.
const (
	DefaultMaxOpenFiles = 256
	readBufferBytes     = 256 << 10 // read-ahead for catch-up readers
	maxPooledBuffer     = 1 << 20
)

// NewHandleCache returns a cache that keeps at most maxOpen files open
// (more only while all of them are in use at once). maxOpen ≤ 0 means
// DefaultMaxOpenFiles.
func NewHandleCache(maxOpen int) *HandleCache {
	if maxOpen <= 0 {
		maxOpen = DefaultMaxOpenFiles
	}
	c := &HandleCache{maxOpen: maxOpen, open: make(map[handleKey]*handle), maxBufs: 16}
	c.lru.prev, c.lru.next = &c.lru, &c.lru
	return c
}

// indexCache returns the IndexCache shared by the logs that use c and do
// not name their own, creating it on first use.
func (c *HandleCache) indexCache() *IndexCache {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.indexes == nil {
		c.indexes = NewIndexCache(DefaultIndexCacheBytes)
	}
	return c.indexes
}

func (c *HandleCache) lruRemove(h *handle) {
	h.prev.next, h.next.prev = h.next, h.prev
	h.prev, h.next = nil, nil
	c.nlru--
}

func (c *HandleCache) lruPush(h *handle) {
	h.prev, h.next = c.lru.prev, &c.lru
	c.lru.prev.next = h
	c.lru.prev = h
	c.nlru++
}

// evictIdle closes least recently used idle files while over the bound.
func (c *HandleCache) evictIdle() {
	for c.nopen > c.maxOpen && c.nlru > 0 {
		c.evictLocked(c.lru.next)
	}
}

// Open is the number of files currently open.
func (c *HandleCache) Open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nopen
}

// acquire returns a referenced handle on name, opening it (read-write, with
// O_DIRECT when direct) if needed. Release it with release.
func (c *HandleCache) acquire(fsys vfs.FS, name string, direct bool) (*handle, error) {
	key := handleKey{fs: fsys, name: name, direct: direct}
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.open[key]; ok {
		if h.refs == 0 {
			c.lruRemove(h)
		}
		h.refs++
		return h, nil
	}
	f, err := fsys.Open(name, vfs.OpenOptions{Direct: direct})
	if err != nil {
		return nil, err
	}
	return c.insertLocked(key, f), nil
}

// insert adds a file the caller just created, referenced once.
func (c *HandleCache) insert(fsys vfs.FS, f vfs.File, direct bool) *handle {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := handleKey{fs: fsys, name: f.Name(), direct: direct}
	if old, ok := c.open[key]; ok {
		c.evictLocked(old)
	}
	return c.insertLocked(key, f)
}

func (c *HandleCache) insertLocked(key handleKey, f vfs.File) *handle {
	h := &handle{key: key, f: f, refs: 1}
	c.open[key] = h
	c.nopen++
	c.evictIdle()
	return h
}

// evictLocked takes h out of the cache, closing it now if unused.
func (c *HandleCache) evictLocked(h *handle) {
	if h.evicted {
		return
	}
	h.evicted = true
	delete(c.open, h.key)
	if h.refs == 0 {
		c.lruRemove(h)
		c.closeLocked(h)
	}
}

func (c *HandleCache) closeLocked(h *handle) {
	c.nopen--
	_ = h.f.Close() // nothing to do about a failed close of a file we only read or already synced
}

// release drops a reference taken by acquire or insert.
func (c *HandleCache) release(h *handle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h.refs--
	if h.refs > 0 {
		return
	}
	if h.evicted {
		c.closeLocked(h)
		return
	}
	c.lruPush(h)
	c.evictIdle()
}

// forget closes every handle on name (now or when released), before the
// file is removed or replaced.
func (c *HandleCache) forget(fsys vfs.FS, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range [2]bool{false, true} {
		if h, ok := c.open[handleKey{fs: fsys, name: name, direct: d}]; ok {
			c.evictLocked(h)
		}
	}
}

func (c *HandleCache) getBuf(n int) []byte {
	if n < readBufferBytes {
		n = readBufferBytes
	}
	c.mu.Lock()
	for i := len(c.bufs) - 1; i >= 0; i-- {
		if b := c.bufs[i]; cap(b) >= n {
			c.bufs[i] = c.bufs[len(c.bufs)-1]
			c.bufs = c.bufs[:len(c.bufs)-1]
			c.mu.Unlock()
			return b[:cap(b)]
		}
	}
	c.mu.Unlock()
	return make([]byte, n)
}

func (c *HandleCache) putBuf(b []byte) {
	if b == nil || cap(b) > maxPooledBuffer {
		return
	}
	c.mu.Lock()
	if len(c.bufs) < c.maxBufs {
		c.bufs = append(c.bufs, b)
	}
	c.mu.Unlock()
}

// segReader reads the entries of one segment file sequentially through a
// read-ahead buffer. It checks the header of every entry and that the entry
// ends within the readable range; callers verify the CRC of the entries
// they use (verifyEntry).
type segReader struct {
	c    *HandleCache
	f    vfs.File
	name string
	pos  int64 // file position of buf[off]
	end  int64 // never read at or past end
	buf  []byte
	off  int
	n    int // valid bytes in buf
}

func (c *HandleCache) newReader(f vfs.File, name string) *segReader {
	return &segReader{c: c, f: f, name: name}
}

func (r *segReader) reset(pos, end int64) {
	r.pos, r.end, r.off, r.n = pos, end, 0, 0
}

// free returns the buffer to the pool; the reader is then unusable.
func (r *segReader) free() {
	r.c.putBuf(r.buf)
	r.buf = nil
}

// fill makes at least want bytes available at buf[off:].
func (r *segReader) fill(want int) error {
	have := r.n - r.off
	if int64(want) > r.end-r.pos {
		return fmt.Errorf("entry of %d bytes crosses the end at %d: %w", want, r.end, errTorn)
	}
	if r.buf == nil || cap(r.buf) < want {
		nb := r.c.getBuf(want)
		copy(nb, r.buf[r.off:r.n])
		r.c.putBuf(r.buf)
		r.buf = nb
	} else {
		copy(r.buf, r.buf[r.off:r.n])
	}
	r.buf = r.buf[:cap(r.buf)]
	r.off, r.n = 0, have
	read := len(r.buf) - have
	if rest := r.end - r.pos - int64(have); int64(read) > rest {
		read = int(rest)
	}
	m, err := r.f.ReadAt(r.buf[have:have+read], r.pos+int64(have))
	r.n += m
	if m < read && err == nil {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && !(errors.Is(err, io.EOF) && r.n-r.off >= want) {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("file ends before %d: %w", r.end, errTorn)
		}
		return err
	}
	return nil
}

// errTorn marks bytes that end before an entry does (ErrCorrupt for
// readers; the end of the valid log for recovery).
var errTorn = fmt.Errorf("torn entry: %w", model.ErrCorrupt)

// next returns the next entry's header, its raw bytes (aliasing the
// buffer until the next call) and its file position; io.EOF at the end.
// Errors wrap model.ErrCorrupt for bytes that are not an entry header or
// an entry that crosses the end.
func (r *segReader) next() (EntryHeader, []byte, int64, error) {
	if r.pos >= r.end {
		return EntryHeader{}, nil, r.pos, io.EOF
	}
	if r.n-r.off < EntryHeaderSize {
		if err := r.fill(EntryHeaderSize); err != nil {
			return EntryHeader{}, nil, r.pos, r.wrap(err)
		}
	}
	h, err := decodeHeader(r.buf[r.off:])
	if err != nil {
		return h, nil, r.pos, r.wrap(err)
	}
	size := int(h.Size())
	if r.n-r.off < size {
		if err := r.fill(size); err != nil {
			return h, nil, r.pos, r.wrap(err)
		}
	}
	ent := r.buf[r.off : r.off+size]
	pos := r.pos
	r.off += size
	r.pos += int64(size)
	return h, ent, pos, nil
}

func (r *segReader) wrap(err error) error {
	if errors.Is(err, model.ErrCorrupt) {
		return corruptAt(r.name, r.pos, err)
	}
	return fmt.Errorf("storage: read %s at %d: %w", r.name, r.pos, err)
}
