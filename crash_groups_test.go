package petrel_test

// Group offsets in the crash test (CHAOS.md G9): while a round produces,
// a committer commits offset k to every partition of the crash topic for
// group "crash-group" (kadm, generation -1, as admin tools commit), k = 1,
// 2, 3, ... across all rounds, one commit after the other. After each
// restart OffsetFetch must return, per partition, a value between the last
// commit acknowledged for it and the last commit attempted: an acknowledged
// commit is never lost and nothing newer than what was sent appears. The
// value read becomes the new floor. The part runs only when the broker
// advertises OffsetCommit and OffsetFetch.

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const crashGroup = "crash-group"

// groupCommits is the committer's history.
type groupCommits struct {
	enabled   bool
	mu        sync.Mutex
	floor     [crashPartitions]int64 // per partition: last acknowledged, or last read after a restart
	attempted int64                  // the largest k ever sent
}

// newGroupCommits enables the committer when the broker serves it.
func newGroupCommits(t *testing.T, addr string) *groupCommits {
	t.Helper()
	g := &groupCommits{}
	for i := range g.floor {
		g.floor[i] = -1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl := newClient(t, addr)
	defer cl.Close()
	g.enabled = advertises(ctx, t, cl, 8) && advertises(ctx, t, cl, 9)
	if !g.enabled {
		t.Log("group offsets not checked: the broker does not advertise OffsetCommit and OffsetFetch")
	}
	return g
}

// start commits k, k+1, ... until the returned stop is called; stop waits
// for the committer to end.
func (g *groupCommits) start(t *testing.T, addr string) (stop func()) {
	t.Helper()
	if !g.enabled {
		return func() {}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100_000 && ctx.Err() == nil; i++ {
			g.mu.Lock()
			g.attempted++
			k := g.attempted
			g.mu.Unlock()
			offs := make(kadm.Offsets)
			for p := range int32(crashPartitions) {
				offs.Add(kadm.Offset{Topic: crashTopic, Partition: p, At: k, LeaderEpoch: -1})
			}
			resp, err := adm.CommitOffsets(ctx, crashGroup, offs)
			if err != nil {
				continue
			}
			g.mu.Lock()
			resp.Each(func(r kadm.OffsetResponse) {
				if r.Err == nil && r.Topic == crashTopic && r.Partition >= 0 && r.Partition < crashPartitions {
					g.floor[r.Partition] = k
				}
			})
			g.mu.Unlock()
		}
	}()
	return func() {
		cancel()
		<-done
		cl.Close()
	}
}

// check reads the group's offsets after a restart.
func (g *groupCommits) check(t *testing.T, p *petrelProc) {
	t.Helper()
	if !g.enabled {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := newClient(t, p.kafka)
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, crashGroup)
	if err != nil || offs.Error() != nil {
		t.Fatalf("fetch group offsets: %v %v", err, offs.Error())
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for part := range int32(crashPartitions) {
		got := int64(-1)
		if o, ok := offs.Lookup(crashTopic, part); ok {
			got = o.At
		}
		if floor := g.floor[part]; got < floor || got > g.attempted {
			t.Fatalf("GROUP OFFSET: partition %d committed %d after the restart; acknowledged up to %d, attempted up to %d\n%s",
				part, got, floor, g.attempted, p.logTail())
		}
		g.floor[part] = got
	}
	t.Logf("group offsets: %v (attempted up to %d)", g.floor, g.attempted)
}
