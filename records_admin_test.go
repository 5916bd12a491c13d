package petrel_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DeleteRecords moves the log start (kept across a restart); the
// idempotent producer that wrote is listed by DescribeProducers.
func TestDeleteRecordsAndDescribeProducers(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("dr"))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "dr"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "dr", Partition: 0, At: 4})
	res, err := adm.DeleteRecords(ctx, offs)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := res.Lookup("dr", 0); r.Err != nil || r.LowWatermark != 4 {
		t.Fatalf("delete records: %+v", r)
	}
	offs = kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "dr", Partition: 0, At: 11})
	res, err = adm.DeleteRecords(ctx, offs)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := res.Lookup("dr", 0); r.Err != kerr.OffsetOutOfRange {
		t.Fatalf("delete past the high watermark: %+v", r)
	}
	dp, err := adm.DescribeProducers(ctx, kadm.TopicsSet{"dr": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	var producers int
	dp.EachProducer(func(p kadm.DescribedProducer) {
		producers++
		if p.LastSequence != 9 {
			t.Errorf("producer %d last sequence %d, want 9", p.ProducerID, p.LastSequence)
		}
	})
	if producers != 1 {
		t.Fatalf("%d producers described, want 1", producers)
	}
	cl.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = startBroker(t, dir)
	defer b.Close()
	cl, err = kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	starts, err := kadm.NewClient(cl).ListStartOffsets(ctx, "dr")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup("dr", 0); o.Offset != 4 {
		t.Fatalf("log start after restart %+v, want 4", o)
	}
}
