package storage

import (
	"sort"
	"sync"

	"github.com/petrel-streaming/petrel/internal/model"
)

// BatchCache keeps the most recently appended entries of all the logs of a
// shard in one byte ring of a fixed size, so that tailing readers (fetch at
// the log end, Raft followers catching up a little) never touch the disk.
// Entries are stored as appended (encoded, CRC-checked on the way in) and
// evicted oldest first.
//
// Safe for use by any goroutine: the owner of each Log puts, Views read.
type BatchCache struct {
	mu    sync.Mutex
	ring  []byte // allocated on first put
	size  int
	head  int // next write position in ring
	items []cacheItem
	first int // oldest item in items (a FIFO ring of len(items))
	count int
	seq   uint64
	logs  map[uint64]*cacheLog
	ids   uint64
}

type cacheItem struct {
	log         uint64
	seq         uint64
	first, last model.Index
	firstOff    model.Offset
	nextOff     model.Offset
	pos, n      int
}

// cacheLog lists one log's live items (as indexes into items), in order.
type cacheLog struct {
	live []int
	head int // live[head:] are current
}

// NewBatchCache returns a cache of maxBytes (at least 64 KiB; at most one
// item, an appended run of entries, per 512 bytes).
func NewBatchCache(maxBytes int64) *BatchCache {
	size := int(min(max(maxBytes, 64<<10), 1<<40))
	return &BatchCache{size: size, items: make([]cacheItem, size/512),
		logs: make(map[uint64]*cacheLog)}
}

// Bytes is how many bytes the cached entries take.
func (c *BatchCache) Bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k := 0; k < c.count; k++ {
		n += c.items[(c.first+k)%len(c.items)].n
	}
	return n
}

func (c *BatchCache) register() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids++
	c.logs[c.ids] = &cacheLog{}
	return c.ids
}

// put caches the encoded entries [first, last] of log id. Runs larger than
// a quarter of the cache are not cached.
func (c *BatchCache) put(id uint64, first, last model.Index, firstOff, nextOff model.Offset, raw []byte) {
	if len(raw) > c.size/4 {
		c.mu.Lock()
		c.dropLocked(id, first) // keep the cached run contiguous
		c.mu.Unlock()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	lg := c.logs[id]
	if lg == nil {
		return
	}
	if n := len(lg.live); n > lg.head && c.items[lg.live[n-1]].last+1 != first {
		c.dropLocked(id, 0)
	}
	if c.ring == nil {
		c.ring = make([]byte, c.size)
	}
	pos := c.head
	if pos+len(raw) > len(c.ring) {
		// Wrap: the items past head are the oldest; their space is lost.
		for c.count > 0 && c.items[c.first].pos >= c.head {
			c.evictOldest()
		}
		pos = 0
	}
	end := pos + len(raw)
	for c.count > 0 {
		old := &c.items[c.first]
		if !(old.pos < end && pos < old.pos+old.n) && c.count < len(c.items) {
			break
		}
		c.evictOldest()
	}
	copy(c.ring[pos:], raw)
	c.head = end
	k := (c.first + c.count) % len(c.items)
	c.seq++
	c.items[k] = cacheItem{log: id, seq: c.seq, first: first, last: last, firstOff: firstOff, nextOff: nextOff, pos: pos, n: len(raw)}
	c.count++
	if lg.head > 0 && lg.head >= len(lg.live)/2 {
		lg.live = append(lg.live[:0], lg.live[lg.head:]...)
		lg.head = 0
	}
	lg.live = append(lg.live, k)
}

func (c *BatchCache) evictOldest() {
	it := &c.items[c.first]
	if lg := c.logs[it.log]; lg != nil && lg.head < len(lg.live) && lg.live[lg.head] == c.first {
		lg.head++
	}
	*it = cacheItem{}
	c.first = (c.first + 1) % len(c.items)
	c.count--
}

// drop forgets log id's entries ≥ from (all of them, and the log, when
// from is 0).
func (c *BatchCache) drop(id uint64, from model.Index) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(id, from)
	if from == 0 {
		delete(c.logs, id)
	}
}

func (c *BatchCache) dropLocked(id uint64, from model.Index) {
	lg := c.logs[id]
	if lg == nil {
		return
	}
	for len(lg.live) > lg.head {
		k := lg.live[len(lg.live)-1]
		if c.items[k].last < from {
			break
		}
		c.items[k].log = 0 // dead: its bytes are reused when it reaches the front
		lg.live = lg.live[:len(lg.live)-1]
	}
}

// copyFrom appends to dst the cached entries of log id from the item
// holding index i (byIndex) or offset o onwards: whole items, until dst
// holds limit bytes or would exceed its capacity (at least one item). ok
// is false if the cache does not hold the start.
func (c *BatchCache) copyFrom(id uint64, byIndex bool, i model.Index, o model.Offset, dst []byte, limit int) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	lg := c.logs[id]
	if lg == nil {
		return dst, false
	}
	live := lg.live[lg.head:]
	var k int
	if byIndex {
		k = sort.Search(len(live), func(k int) bool { return c.items[live[k]].last >= i })
		if k == len(live) || c.items[live[k]].first > i {
			return dst, false
		}
	} else {
		k = sort.Search(len(live), func(k int) bool { return c.items[live[k]].nextOff > o })
		if k == len(live) || c.items[live[k]].firstOff > o {
			return dst, false
		}
	}
	for ; k < len(live) && len(dst) < limit; k++ {
		it := &c.items[live[k]]
		if len(dst) > 0 && len(dst)+it.n > cap(dst) {
			break
		}
		dst = append(dst, c.ring[it.pos:it.pos+it.n]...)
	}
	return dst, true
}
