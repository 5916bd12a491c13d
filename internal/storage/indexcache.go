package storage

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/petrel-streaming/petrel/internal/model"
)

// DefaultIndexCacheBytes bounds the index points of closed segments that a
// shard keeps in memory (a full 1 GiB segment has about 8 MiB of points).
const DefaultIndexCacheBytes = 16 << 20

// indexItemOverhead is what one cached segment costs beyond its points.
const indexItemOverhead = int64(unsafe.Sizeof(indexItem{})) + 48

// IndexCache keeps the sparse index points of the closed segments of all
// the logs of a shard, least recently used first out, within a byte bound.
// A closed segment's points live here once its index file holds them all;
// an evicted segment's points are read back from its index file on the
// next use (rebuilt from the segment if the file no longer matches). The
// active segment's points, and those of a just rolled segment whose index
// file is not written yet, stay with their Log and are not counted here.
//
// Safe for use by any goroutine.
type IndexCache struct {
	mu       sync.Mutex
	maxBytes int64
	bytes    int64
	items    map[*segment]*indexItem
	lru      indexItem // sentinel of the ring, least recently used first
	loads    uint64
}

type indexItem struct {
	seg        *segment
	pts        []indexPoint
	prev, next *indexItem
}

// NewIndexCache returns a cache of at most maxBytes (≤ 0:
// DefaultIndexCacheBytes). A segment whose points alone exceed the bound is
// never cached: its reads load them each time.
func NewIndexCache(maxBytes int64) *IndexCache {
	if maxBytes <= 0 {
		maxBytes = DefaultIndexCacheBytes
	}
	c := &IndexCache{maxBytes: maxBytes, items: make(map[*segment]*indexItem)}
	c.lru.prev, c.lru.next = &c.lru, &c.lru
	return c
}

// Bytes is the memory the cached points take (with per-segment overhead).
func (c *IndexCache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Loads counts the segments whose points were read back after eviction.
func (c *IndexCache) Loads() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loads
}

func itemBytes(pts []indexPoint) int64 {
	return int64(len(pts))*int64(unsafe.Sizeof(indexPoint{})) + indexItemOverhead
}

func (c *IndexCache) unlink(it *indexItem) {
	it.prev.next, it.next.prev = it.next, it.prev
	it.prev, it.next = nil, nil
}

func (c *IndexCache) pushBack(it *indexItem) {
	it.prev, it.next = c.lru.prev, &c.lru
	c.lru.prev.next = it
	c.lru.prev = it
}

// get returns s's cached points, marking them recently used.
func (c *IndexCache) get(s *segment) ([]indexPoint, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[s]
	if !ok {
		return nil, false
	}
	c.unlink(it)
	c.pushBack(it)
	return it.pts, true
}

// put caches s's points (which nobody may modify: callers append only to
// copies, as the slice is capped), evicting the least recently used.
func (c *IndexCache) put(s *segment, pts []indexPoint) {
	pts = pts[:len(pts):len(pts)]
	n := itemBytes(pts)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked(s)
	if n > c.maxBytes {
		return
	}
	for c.bytes+n > c.maxBytes {
		c.forgetLocked(c.lru.next.seg)
	}
	it := &indexItem{seg: s, pts: pts}
	c.items[s] = it
	c.pushBack(it)
	c.bytes += n
}

// forget drops s's points (its files are removed or replaced).
func (c *IndexCache) forget(s *segment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked(s)
}

func (c *IndexCache) forgetLocked(s *segment) {
	it, ok := c.items[s]
	if !ok {
		return
	}
	c.unlink(it)
	delete(c.items, s)
	c.bytes -= itemBytes(it.pts)
}

func (c *IndexCache) countLoad() {
	c.mu.Lock()
	c.loads++
	c.mu.Unlock()
}

// pointsOf returns the sparse index of closed segment s: the resident
// points if its index file is not written yet, else the cached ones, else
// those read back from its index file. Safe from any goroutine.
func (s *segment) pointsOf(lf *logFiles) ([]indexPoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded {
		if _, err := s.loadLocked(lf); err != nil {
			return nil, err
		}
	}
	if !s.evictable {
		return s.st.points, nil
	}
	if pts, ok := lf.indexes.get(s); ok {
		return pts, nil
	}
	pts, err := lf.reloadPoints(s)
	if err != nil {
		return nil, err
	}
	lf.indexes.countLoad()
	if !s.removed {
		lf.indexes.put(s, pts)
	}
	return pts, nil
}

// releasePointsLocked hands closed segment s's points over to the cache:
// from now on they may be evicted and read back from the index file. It
// remembers their count and checksum, so that a read-back recognises the
// same points. Caller holds s.mu.
func (s *segment) releasePointsLocked(lf *logFiles) {
	if s.evictable {
		return
	}
	pts := s.st.points
	s.npts, s.ptsCRC = len(pts), pointsCRC(pts)
	s.st.points, s.evictable = nil, true
	if !s.removed {
		lf.indexes.put(s, pts)
	}
}

// releasePoints: releasePointsLocked for the owner.
func (s *segment) releasePoints(lf *logFiles) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releasePointsLocked(lf)
}

// retire says s's files are gone or now belong to another segment
// value, or its log is closed: its points are dropped and never cached
// again, and a read-back never writes its index file. Owner only, before
// touching the files.
func (s *segment) retire(lf *logFiles) {
	s.mu.Lock()
	s.removed = true
	s.mu.Unlock()
	lf.indexes.forget(s)
}

// pointsCRC is the CRC-32C of the points' encoding (their index file).
func pointsCRC(pts []indexPoint) uint32 {
	var crc uint32
	var b [indexPointSize]byte
	for _, p := range pts {
		crc = model.UpdateCRC32C(crc, p.appendTo(b[:0]))
	}
	return crc
}

// reloadPoints reads s's points back from its index file: the file must
// begin with exactly the points released (count and checksum). Otherwise
// (damaged, missing, replaced) they are rebuilt by scanning the segment's
// valid entries, and the index file is rewritten unless s was removed.
// Caller holds s.mu.
func (lf *logFiles) reloadPoints(s *segment) ([]indexPoint, error) {
	raw, err := lf.readIndexFile(s.indexPath)
	if err != nil {
		return nil, err
	}
	if n := s.npts * indexPointSize; len(raw) >= n && model.UpdateCRC32C(0, raw[:n]) == s.ptsCRC {
		pts := make([]indexPoint, s.npts)
		for k := range pts {
			if pts[k], err = decodeIndexPoint(raw[k*indexPointSize:]); err != nil {
				break
			}
		}
		if err == nil {
			return pts, nil
		}
	}
	h, err := lf.handles.acquire(lf.fs, s.logPath, false)
	if err != nil {
		return nil, err
	}
	defer lf.handles.release(h)
	r := lf.handles.newReader(h.f, s.logPath)
	defer r.free()
	st := emptyState(s.base, 0)
	if err := lf.scanInto(r, &st, s.base, s.st.size); err != nil {
		return nil, err
	}
	if st.last != s.st.last && !s.removed {
		return nil, fmt.Errorf("storage: %s: rebuilding its index found entries up to %d, want %d: %w",
			s.logPath, st.last, s.st.last, model.ErrCorrupt)
	}
	pts := st.points[:len(st.points):len(st.points)]
	if !s.removed {
		// Best effort, as in recovery: a stale index costs a scan.
		_ = lf.writeIndex(s.indexPath, pts)
		s.npts, s.ptsCRC = len(pts), pointsCRC(pts)
	}
	return pts, nil
}
