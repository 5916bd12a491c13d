package check

import (
	"cmp"
	"math"
	"slices"

	"github.com/petrel-streaming/petrel/internal/chaos/history"
)

// Checks of group offsets: G9.

// groupTP is one group's committed offset for one partition.
type groupTP struct {
	group string
	tp    history.TP
}

func (g groupTP) String() string { return g.group + " " + g.tp.String() }

// commitLog holds one groupTP's commits that may have applied (ok and info),
// by invoke time, and its ok fetches in op order.
type commitLog struct {
	commits []*op
	info    []*op // the commits that are not ok, by invoke time
	maxDur  int64 // longest ok commit; info ones count as never completing
	fetches []*op
}

func (v *view) groupOffsets() map[groupTP]*commitLog {
	m := map[groupTP]*commitLog{}
	get := func(o *op) *commitLog {
		k := groupTP{o.Group, o.TP()}
		if m[k] == nil {
			m[k] = &commitLog{}
		}
		return m[k]
	}
	for _, o := range v.ops {
		switch {
		case o.Type == history.Commit && o.Phase != history.Fail:
			c := get(o)
			c.commits = append(c.commits, o)
			if o.Phase == history.OK {
				c.maxDur = max(c.maxDur, o.complete-o.invoke)
			} else {
				c.info = append(c.info, o)
			}
		case o.Type == history.FetchOffset && o.Phase == history.OK:
			get(o).fetches = append(get(o).fetches, o)
		}
	}
	return m
}

// effectiveEnd is when a commit's effect is settled: its ok completion, or
// never for an info commit (it may still apply).
func effectiveEnd(c *op) int64 {
	if c.Phase == history.OK {
		return c.complete
	}
	return math.MaxInt64
}

// lowered reports whether some commit of at most off may have taken effect
// after time after: invoked before before, not settled by after.
func (c *commitLog) lowered(off, after, before int64) bool {
	end, _ := slices.BinarySearchFunc(c.commits, before, func(o *op, t int64) int { return cmp.Compare(o.invoke, t) })
	for i := end - 1; i >= 0; i-- {
		o := c.commits[i]
		if o.Offset <= off && effectiveEnd(o) > after {
			return true
		}
		if o.Phase == history.OK && o.invoke+c.maxDur <= after {
			// Older ok commits all settled before after; only info ones remain.
			for _, p := range c.info {
				if p.invoke < o.invoke && p.Offset <= off {
					return true
				}
			}
			return false
		}
	}
	return false
}

// groupOffsetLost: an OffsetFetch returned less than the latest acked
// commit of its group and partition that completed before the fetch was
// invoked, and no commit that may have come after it lowered the offset.
func groupOffsetLost(v *view, r *Result) {
	logs := v.groupOffsets()
	for _, k := range sortedKeys(logs, groupTP.String) {
		c := logs[k]
		var acked []*op
		for _, o := range c.commits {
			if o.Phase == history.OK {
				acked = append(acked, o)
			}
		}
		slices.SortStableFunc(acked, func(a, b *op) int { return cmp.Compare(a.complete, b.complete) })
		for _, f := range c.fetches {
			i, _ := slices.BinarySearchFunc(acked, f.invoke, func(o *op, t int64) int { return cmp.Compare(o.complete, t) })
			if i == 0 {
				continue
			}
			last := acked[i-1]
			if f.Offset < last.Offset && !c.lowered(f.Offset, last.invoke, f.complete) {
				r.note("%s: %s returned %d, but %s of %d was acked before it", k, f, f.Offset, last, last.Offset)
			}
		}
	}
}

// groupOffsetRegression: one client's OffsetFetch returned less than its
// previous one for the same group and partition, with no commit that may
// have come between them explaining the lower offset.
func groupOffsetRegression(v *view, r *Result) {
	logs := v.groupOffsets()
	for _, k := range sortedKeys(logs, groupTP.String) {
		c := logs[k]
		prev := map[int]*op{}
		for _, f := range c.fetches {
			if p := prev[f.Process]; p != nil && f.Offset < p.Offset && !c.lowered(f.Offset, p.invoke, f.complete) {
				r.note("%s: p%d fetched %d after %d (%s)", k, f.Process, f.Offset, p.Offset, f)
			}
			prev[f.Process] = f
		}
	}
}
