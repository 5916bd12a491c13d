package petrel_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel"
)

// metricsBroker starts a broker with the admin API on a free port and a
// topic of two partitions holding produced[p] records in partition p,
// consumed once by a plain consumer (Fetch). It returns the broker, an
// admin client and the context bounding the test.
func metricsBroker(t *testing.T, cfg petrel.Config, topic string, produced [2]int) (*petrel.Broker, *kadm.Client, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cfg.DataDir, cfg.AdminAddr, cfg.Shards, cfg.MemoryBytes = t.TempDir(), "127.0.0.1:0", 2, 512<<20
	cfg.GroupInitialRebalanceDelay = -1
	b, err := petrel.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	mustCreate(ctx, t, adm, 2, topic)
	for p, n := range produced {
		for i := 0; i < n; i++ {
			r := &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte(fmt.Sprintf("value-%d-%d", p, i))}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
		}
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	for got := 0; got < produced[0]+produced[1]; {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d: %v", got, ctx.Err())
		}
		got += fs.NumRecords()
	}
	return b, adm, ctx
}

func commit(ctx context.Context, t *testing.T, adm *kadm.Client, group, topic string, offsets map[int32]int64) {
	t.Helper()
	var os kadm.Offsets
	for p, o := range offsets {
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1})
	}
	resp, err := adm.CommitOffsets(ctx, group, os)
	if err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
}

// scrape fetches /metrics and parses the text exposition.
func scrape(t *testing.T, b *petrel.Broker) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + b.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// sample finds the metric of family name whose labels include want.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (*dto.Metric, bool) {
	f := fams[name]
	if f == nil {
		return nil, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m, true
	}
	return nil, false
}

// value is a counter's or gauge's value; the test fails if absent.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m, ok := sample(fams, name, labels)
	if !ok {
		t.Fatalf("no %s%v in /metrics", name, labels)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("%s%v is neither counter nor gauge", name, labels)
	return 0
}

func TestMetricsScrape(t *testing.T) {
	b, adm, ctx := metricsBroker(t, petrel.Config{}, "mt", [2]int{7, 4})
	commit(ctx, t, adm, "g1", "mt", map[int32]int64{0: 2, 1: 4})
	ends, err := adm.ListEndOffsets(ctx, "mt")
	if err != nil {
		t.Fatal(err)
	}
	hw := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { hw[o.Partition] = o.Offset })
	if hw[0] != 7 || hw[1] != 4 {
		t.Fatalf("high watermarks %v, want 7 and 4", hw)
	}

	fams := scrape(t, b)
	for _, api := range []string{"Produce", "Fetch", "Metadata", "OffsetCommit"} {
		if n := value(t, fams, "petrel_kafka_requests_total", map[string]string{"api": api}); n < 1 {
			t.Errorf("requests_total{api=%s} = %v", api, n)
		}
	}
	produces := value(t, fams, "petrel_kafka_requests_total", map[string]string{"api": "Produce"})
	if produces < 11 {
		t.Errorf("%v Produce requests counted, 11 were acknowledged", produces)
	}
	h, ok := sample(fams, "petrel_kafka_request_latency_seconds", map[string]string{"api": "Produce"})
	if !ok || float64(h.Histogram.GetSampleCount()) != produces || h.Histogram.GetSampleSum() <= 0 {
		t.Errorf("Produce latency histogram %v does not match %v requests", h, produces)
	}
	if h, ok := sample(fams, "petrel_kafka_request_latency_seconds", map[string]string{"api": "Fetch"}); !ok || h.Histogram.GetSampleCount() < 1 {
		t.Errorf("no Fetch latency series: %v", h)
	}
	// Each record is a batch of its own (ProduceSync): at least its value
	// and the 61-byte batch header went in, and came out again.
	minBytes := float64(11 * (61 + len("value-0-0")))
	if in := value(t, fams, "petrel_kafka_bytes_in_total", map[string]string{"topic": "mt"}); in < minBytes {
		t.Errorf("bytes_in %v < %v", in, minBytes)
	}
	if out := value(t, fams, "petrel_kafka_bytes_out_total", map[string]string{"topic": "mt"}); out < minBytes {
		t.Errorf("bytes_out %v < %v", out, minBytes)
	}
	if h, ok := sample(fams, "petrel_storage_fsync_latency_seconds", map[string]string{"file": "journal"}); !ok || h.Histogram.GetSampleCount() < 1 {
		t.Errorf("no journal fsyncs: %v", h)
	}
	if h, ok := sample(fams, "petrel_storage_round_bytes", map[string]string{"file": "journal"}); !ok || h.Histogram.GetSampleSum() < minBytes {
		t.Errorf("journal rounds made durable less than was produced: %v", h)
	}
	for _, shard := range []string{"0", "1"} {
		for _, sub := range []string{"inbox", "write_behind", "batch_cache", "decode", "raft"} {
			if l := value(t, fams, "petrel_memory_budget_limit_bytes", map[string]string{"shard": shard, "subsystem": sub}); l <= 0 {
				t.Errorf("budget %s/%s limit %v", shard, sub, l)
			}
			value(t, fams, "petrel_memory_budget_used_bytes", map[string]string{"shard": shard, "subsystem": sub})
		}
	}
	if c := value(t, fams, "petrel_kafka_connections", nil); c < 1 {
		t.Errorf("connections %v with a client connected", c)
	}
	// Two partitions of mt and the coordinators' partitions lead.
	leaders := value(t, fams, "petrel_raft_leaders", nil)
	if leaders < 2 || leaders != value(t, fams, "petrel_partitions", nil) {
		t.Errorf("leaders %v of %v partitions", leaders, value(t, fams, "petrel_partitions", nil))
	}
	if c := value(t, fams, "petrel_raft_leadership_changes_total", nil); c < leaders {
		t.Errorf("leadership changes %v < %v leaders", c, leaders)
	}
	for p, want := range hw {
		labels := map[string]string{"topic": "mt", "partition": fmt.Sprint(p)}
		if v := value(t, fams, "petrel_partition_high_watermark", labels); v != float64(want) {
			t.Errorf("partition %d high watermark %v, want %d", p, v, want)
		}
	}
	wantLag := map[int32]int64{0: hw[0] - 2, 1: hw[1] - 4}
	for p, want := range wantLag {
		labels := map[string]string{"group": "g1", "topic": "mt", "partition": fmt.Sprint(p)}
		if v := value(t, fams, "petrel_consumer_group_lag", labels); v != float64(want) {
			t.Errorf("lag of g1 on mt/%d = %v, want %d", p, v, want)
		}
	}

	// The lag series moves: commit further, scrape again.
	commit(ctx, t, adm, "g1", "mt", map[int32]int64{0: 6})
	fams = scrape(t, b)
	labels := map[string]string{"group": "g1", "topic": "mt", "partition": "0"}
	if v := value(t, fams, "petrel_consumer_group_lag", labels); v != float64(hw[0]-6) {
		t.Errorf("lag after commit = %v, want %d", v, hw[0]-6)
	}
	if v := value(t, fams, "petrel_consumer_group_committed_offset", labels); v != 6 {
		t.Errorf("committed offset %v, want 6", v)
	}
}

func TestMetricsWithoutPartitionSeries(t *testing.T) {
	b, adm, ctx := metricsBroker(t, petrel.Config{DisablePartitionMetrics: true}, "np", [2]int{5, 3})
	commit(ctx, t, adm, "g2", "np", map[int32]int64{0: 1, 1: 1})
	fams := scrape(t, b)
	for name, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "partition" {
					t.Errorf("%s has a partition label with partition series off", name)
				}
			}
		}
	}
	// Lag summed over the topic's partitions: (5-1) + (3-1).
	if v := value(t, fams, "petrel_consumer_group_lag", map[string]string{"group": "g2", "topic": "np"}); v != 6 {
		t.Errorf("lag of g2 on np = %v, want 6", v)
	}
	if v := value(t, fams, "petrel_kafka_bytes_in_total", map[string]string{"topic": "np"}); v <= 0 {
		t.Errorf("bytes_in %v", v)
	}
	if _, ok := fams["petrel_partition_high_watermark"]; ok {
		t.Error("per-partition offsets exported with partition series off")
	}
	if strings.Contains(fmt.Sprint(fams["petrel_consumer_group_committed_offset"]), "np") {
		t.Error("per-partition committed offsets exported with partition series off")
	}
}
