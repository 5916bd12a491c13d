package group

import (
	"container/heap"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// timers orders the groups that have a deadline by their earliest one, so
// Tick and NextDeadline cost O(log groups) rather than a scan of every
// group and member. A group's deadline is recomputed (over its members)
// after each request to it and each Tick that runs it.
type timers []*group

func (t timers) Len() int { return len(t) }
func (t timers) Less(i, j int) bool {
	if !t[i].deadline.Equal(t[j].deadline) {
		return t[i].deadline.Before(t[j].deadline)
	}
	return t[i].name < t[j].name // deterministic order of equal deadlines
}
func (t timers) Swap(i, j int) {
	t[i], t[j] = t[j], t[i]
	t[i].timerIndex, t[j].timerIndex = i, j
}
func (t *timers) Push(x any) {
	g := x.(*group)
	g.timerIndex = len(*t)
	*t = append(*t, g)
}
func (t *timers) Pop() any {
	old := *t
	g := old[len(old)-1]
	old[len(old)-1] = nil
	*t = old[:len(old)-1]
	g.timerIndex = -1
	return g
}

// schedule recomputes g's deadline and its place among the timers.
func (c *Coordinator) schedule(g *group) {
	d, ok := g.nextDeadline()
	switch {
	case ok && g.timerIndex >= 0:
		g.deadline = d
		heap.Fix(&c.timers, g.timerIndex)
	case ok:
		g.deadline = d
		heap.Push(&c.timers, g)
	case g.timerIndex >= 0:
		heap.Remove(&c.timers, g.timerIndex)
	}
}

// forget removes g from the coordinator and its timers.
func (c *Coordinator) forget(g *group) {
	if g.timerIndex >= 0 {
		heap.Remove(&c.timers, g.timerIndex)
	}
	delete(c.groups, g.name)
}

// Tick runs every timer due at now: initial-delay and rebalance deadlines,
// members missing SyncGroup, expired sessions and pending member ids.
func (c *Coordinator) Tick(now time.Time) {
	c.now = now
	var due []*group
	for len(c.timers) > 0 && !now.Before(c.timers[0].deadline) {
		due = append(due, heap.Pop(&c.timers).(*group))
	}
	for _, g := range due { // each once: no loop even if a bug left one due
		g.tick(now)
		if !c.dropIfUnused(g) { // a pending member id expired
			c.schedule(g)
		}
	}
}

// NextDeadline returns the earliest time Tick has work, if any: the one
// timer a shell needs.
func (c *Coordinator) NextDeadline() (time.Time, bool) {
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	return c.timers[0].deadline, true
}

// groupOf names the group a request acts on, for rescheduling after it.
func groupOf(req kmsg.Request) string {
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		return r.Group
	case *kmsg.SyncGroupRequest:
		return r.Group
	case *kmsg.HeartbeatRequest:
		return r.Group
	case *kmsg.LeaveGroupRequest:
		return r.Group
	case *kmsg.OffsetCommitRequest:
		return r.Group
	}
	return "" // the others start no timer
}
