package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
)

// settle ends a run once its writers stopped: it takes every partition's
// end offset, checks that the replicas agree below it (compareReplicas)
// and reads everything back with a fresh consumer. A failure to read it
// all is reported (t.Error) and the partial read returned.
func settle(ctx context.Context, t *testing.T, c *cluster.Cluster, adm *kadm.Client, topic string, partitions int) (map[int32]int64, map[int32][]rec) {
	t.Helper()
	end, err := adm.ListEndOffsets(ctx, topic)
	if err != nil || end.Error() != nil {
		t.Fatalf("end offsets: %v %v", err, end.Error())
	}
	ends := map[int32]int64{}
	for p := range int32(partitions) {
		o, ok := end.Lookup(topic, p)
		if !ok || o.Err != nil {
			t.Fatalf("end offset of partition %d: %v %v", p, ok, o.Err)
		}
		ends[p] = o.Offset
	}
	compareReplicas(ctx, t, c, topic, ends)
	final, err := readAll(ctx, t, c.Seeds(), topic, ends)
	if err != nil {
		t.Error(err)
	}
	return ends, final
}

// reportRun logs what the clients did and fails on what the concurrent
// consumer saw (two values at one offset, data loss) or when nothing was
// acknowledged. The caller holds l.mu.
func reportRun(t *testing.T, l *ledger, pr *producer, produced int, ends map[int32]int64, start time.Time) {
	t.Helper()
	t.Logf("records: produced %d, acknowledged %d, produce errors %d%s", produced, len(l.acked), l.errTotal, counts(l.errs))
	t.Logf("producer client events (retriable errors it absorbed):%s", counts(pr.events.snapshot()))
	t.Logf("concurrent consumer: %d records read, %d distinct offsets; errors:%s", l.readN, len(l.reads), counts(l.readErrs))
	t.Logf("end offsets %v; whole test %v", ends, time.Since(start).Round(time.Millisecond))
	if len(l.acked) == 0 {
		t.Fatal("nothing acknowledged")
	}
	for _, c := range l.conflict {
		t.Errorf("concurrent consumer: %s", c)
	}
	for _, e := range l.dataLoss {
		t.Errorf("concurrent consumer: data loss reported by the client: %s", e)
	}
}

// run is a topic under load: an idempotent acks=all producer and a
// consumer reading alongside, both recording into one ledger.
type run struct {
	admCl        *kgo.Client
	adm          *kadm.Client
	l            *ledger
	pr           *producer
	stopConsumer func()
}

// startRun creates topic (partitions, replication factor 3) on c, waits
// until every partition is steady, starts the producer and the consumer
// and waits (≤ 30 s) until every partition had an acknowledged write.
// The caller closes admCl.
func startRun(ctx context.Context, t *testing.T, c *cluster.Cluster, topic string, partitions int) *run {
	t.Helper()
	seeds := c.Seeds()
	r := &run{admCl: newClient(t, seeds)}
	r.adm = kadm.NewClient(r.admCl)
	res, err := r.adm.CreateTopics(ctx, int32(partitions), 3, nil, topic)
	if err != nil || res[topic].Err != nil {
		t.Fatalf("create %s: %v %v", topic, err, res[topic].Err)
	}
	if ok, took := waitSteady(ctx, r.adm, topic, partitions, 30*time.Second); !ok {
		t.Fatalf("no leader and 3 in-sync replicas for every partition %v after creating the topic", took)
	}
	r.l = newLedger()
	r.pr = startProducer(ctx, t, seeds, topic, partitions, r.l)
	r.stopConsumer = startConsumer(ctx, t, seeds, topic, partitions, r.l)
	warm := time.Now()
	if ok, _ := poll(ctx, 30*time.Second, func() bool {
		for p := range int32(partitions) {
			if _, ok := r.l.ackedSince(p, warm); !ok {
				return false
			}
		}
		return true
	}); !ok {
		r.pr.finish()
		r.stopConsumer()
		t.Fatalf("no acknowledged write to every partition within 30 s: errors %s", counts(r.l.errs))
	}
	return r
}
