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

func startBroker(t *testing.T, dir string) *petrel.Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := petrel.Start(ctx, petrel.Config{DataDir: dir, Shards: 2, MemoryBytes: 512 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProduceConsumeRestart(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	res, err := adm.CreateTopics(ctx, 3, 1, nil, "orders")
	if err != nil || res["orders"].Err != nil {
		t.Fatalf("create: %v %v", err, res["orders"].Err)
	}
	const n = 300
	offsets := map[int32][]int64{}
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: "orders", Key: []byte(fmt.Sprint(i % 7)), Value: []byte(fmt.Sprintf("v%d", i)),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		offsets[r.Partition] = append(offsets[r.Partition], r.Offset)
	}
	for p, offs := range offsets {
		for i, o := range offs {
			if o != int64(i) {
				t.Fatalf("partition %d: record %d at offset %d", p, i, o)
			}
		}
	}
	cl.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = startBroker(t, dir)
	defer b.Close()
	cl, err = kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics("orders"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := 0
	seen := map[string]bool{}
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d: %v", got, n, err)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			got++
			if seen[string(r.Value)] {
				t.Fatalf("duplicate %s", r.Value)
			}
			seen[string(r.Value)] = true
			if len(r.Headers) != 1 || string(r.Headers[0].Value) != "x" {
				t.Fatalf("headers %v", r.Headers)
			}
		})
	}
	if got != n {
		t.Fatalf("consumed %d, want %d", got, n)
	}
}
