package petrel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel"
)

// Two members of one group split a topic's partitions, consume every
// record once with commits, and the committed offsets survive a restart.
func TestConsumerGroupRebalanceAndRestart(t *testing.T) {
	dir := t.TempDir()
	start := func() *petrel.Broker {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		b, err := petrel.Start(ctx, petrel.Config{DataDir: dir, Shards: 2, MemoryBytes: 512 << 20, GroupInitialRebalanceDelay: -1})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := start()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(prod)
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, "events"); err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := 0; i < n; i++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "events", Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	consumer := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("events"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
			kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	c1 := consumer()
	seen := map[string]int{}
	poll := func(cl *kgo.Client) {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		defer pcancel()
		fs := cl.PollFetches(pctx)
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	// The first member takes some records, then a second joins.
	poll(c1)
	c2 := consumer()
	// Poll both until every record is consumed and the group is Stable
	// with both members (the second join triggers a rebalance).
	deadline := time.Now().Add(60 * time.Second)
	stable := func() bool {
		desc, err := adm.DescribeGroups(ctx, "g1")
		if err != nil {
			t.Fatal(err)
		}
		g := desc["g1"]
		return g.State == "Stable" && len(g.Members) == 2
	}
	for !(len(seen) == n && stable()) {
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d distinct of %d; group stable with 2 members: %v", len(seen), n, stable())
		}
		poll(c1)
		poll(c2)
	}
	for v, k := range seen {
		if k != 1 {
			t.Fatalf("record %s consumed %d times (commits after every poll, no member left)", v, k)
		}
	}
	before, err := adm.FetchOffsets(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	before.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != n {
		t.Fatalf("committed offsets sum to %d, want %d", total, n)
	}
	c1.Close()
	c2.Close()
	prod.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = start()
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	after, err := kadm.NewClient(cl).FetchOffsets(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	before.Each(func(o kadm.OffsetResponse) {
		a, ok := after.Lookup(o.Topic, o.Partition)
		if !ok || a.At != o.At {
			t.Fatalf("%s/%d: committed %d before restart, %+v after", o.Topic, o.Partition, o.At, a)
		}
	})
}
