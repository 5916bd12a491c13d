package vfs

import (
	"bytes"
	"math/rand/v2"
	"slices"
)

// CrashCloneOptions say how much of the unsynced state a crash clone keeps.
type CrashCloneOptions struct {
	// KeepUnsyncedPages, if set, makes the clone keep a random subset of the
	// unsynced writes, in whole Alignment-sized pages, as a page cache that
	// wrote some dirty pages back before the power went out: for every file
	// the size is either the durable or the current one, and each page of it
	// whose current content differs from the durable one is taken from
	// either. Bytes past the durable size that no kept page covers read as
	// zeros (holes). Directory entries are never kept unsynced.
	// The same seed over the same history gives the same clone.
	KeepUnsyncedPages *rand.Rand
}

// CrashClone returns a new MemFS holding exactly what a power loss would
// leave now: the entries of every directory as of its last SyncDir, and the
// data and size of every file as of its last Sync or Datasync. The clone
// shares nothing with m, has no open files or locks, and its current state
// equals its durable state. It inherits m's direct-I/O setting.
// At most one CrashCloneOptions may be given.
func (m *MemFS) CrashClone(options ...CrashCloneOptions) *MemFS {
	var opts CrashCloneOptions
	if len(options) > 0 {
		opts = options[len(options)-1]
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &cloner{rng: opts.KeepUnsyncedPages, seen: map[*memNode]*memNode{}}
	return &MemFS{root: c.clone(m.root), noDirect: m.noDirect, locks: map[string]bool{}}
}

// cloner copies the durable view of a tree. seen keeps inodes reachable
// under two durable names (an unsynced rename across directories) shared.
type cloner struct {
	rng  *rand.Rand
	seen map[*memNode]*memNode
}

func (c *cloner) clone(n *memNode) *memNode {
	if d, ok := c.seen[n]; ok {
		return d
	}
	var d *memNode
	if n.dir {
		d = newDirNode()
		c.seen[n] = d
		// Sorted, so that a seeded rng visits files in the same order.
		names := make([]string, 0, len(n.durableKids))
		for k := range n.durableKids {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			d.kids[k] = c.clone(n.durableKids[k])
			d.durableKids[k] = d.kids[k]
		}
		return d
	}
	data := slices.Clone(n.durable)
	if c.rng != nil {
		data = keepPages(c.rng, n.durable, n.data)
	}
	d = &memNode{data: data, durable: slices.Clone(data)}
	c.seen[n] = d
	return d
}

// keepPages returns what a file whose durable content is dur and whose
// current content is cur may hold after a crash, choosing randomly with rng.
func keepPages(rng *rand.Rand, dur, cur []byte) []byte {
	if bytes.Equal(dur, cur) {
		return slices.Clone(dur)
	}
	size := int64(len(dur))
	if len(cur) != len(dur) && rng.IntN(2) == 0 {
		size = int64(len(cur))
	}
	out := resize(slices.Clone(dur), size)
	for lo := int64(0); lo < size; lo += Alignment {
		hi := min(lo+Alignment, size)
		// Only the part of the page the current file still has can be
		// written back; past it (a shrink) the durable bytes stay.
		chi := min(hi, int64(len(cur)))
		if lo >= chi {
			break
		}
		if bytes.Equal(out[lo:chi], cur[lo:chi]) || rng.IntN(2) == 0 {
			continue
		}
		copy(out[lo:chi], cur[lo:chi])
	}
	return out
}
