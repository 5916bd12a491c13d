package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/petrel-streaming/petrel/internal/vfs"
)

func TestInstrumentFS(t *testing.T) {
	m := New(Options{})
	fs := m.InstrumentFS(vfs.NewMem())
	if err := fs.MkdirAll("j"); err != nil {
		t.Fatal(err)
	}
	jnl, err := fs.Create("j/0.jnl", vfs.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seg, err := fs.Create("j/00000.log", vfs.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Initialisation: written and fsync'd, timed but not a round.
	if _, err := jnl.WriteAt(make([]byte, 4096), 0); err != nil {
		t.Fatal(err)
	}
	if err := jnl.Sync(); err != nil {
		t.Fatal(err)
	}
	// Two rounds of 100 and 300 bytes, and a segment sync of 50.
	for _, n := range []int{100, 300} {
		if _, err := jnl.WriteAt(make([]byte, n), 4096); err != nil {
			t.Fatal(err)
		}
		if err := jnl.Datasync(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := seg.WriteAt(make([]byte, 50), 0); err != nil {
		t.Fatal(err)
	}
	if err := seg.Datasync(); err != nil {
		t.Fatal(err)
	}
	if err := fs.SyncDir("j"); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP petrel_storage_round_bytes Bytes written to a file since its previous sync and made durable by one fdatasync, by file kind: for the journal, the group-commit batch of a sync round.
# TYPE petrel_storage_round_bytes histogram
petrel_storage_round_bytes_bucket{file="journal",le="512"} 2
petrel_storage_round_bytes_bucket{file="journal",le="2048"} 2
petrel_storage_round_bytes_bucket{file="journal",le="8192"} 2
petrel_storage_round_bytes_bucket{file="journal",le="32768"} 2
petrel_storage_round_bytes_bucket{file="journal",le="131072"} 2
petrel_storage_round_bytes_bucket{file="journal",le="524288"} 2
petrel_storage_round_bytes_bucket{file="journal",le="2.097152e+06"} 2
petrel_storage_round_bytes_bucket{file="journal",le="8.388608e+06"} 2
petrel_storage_round_bytes_bucket{file="journal",le="3.3554432e+07"} 2
petrel_storage_round_bytes_bucket{file="journal",le="1.34217728e+08"} 2
petrel_storage_round_bytes_bucket{file="journal",le="+Inf"} 2
petrel_storage_round_bytes_sum{file="journal"} 400
petrel_storage_round_bytes_count{file="journal"} 2
petrel_storage_round_bytes_bucket{file="segment",le="512"} 1
petrel_storage_round_bytes_bucket{file="segment",le="2048"} 1
petrel_storage_round_bytes_bucket{file="segment",le="8192"} 1
petrel_storage_round_bytes_bucket{file="segment",le="32768"} 1
petrel_storage_round_bytes_bucket{file="segment",le="131072"} 1
petrel_storage_round_bytes_bucket{file="segment",le="524288"} 1
petrel_storage_round_bytes_bucket{file="segment",le="2.097152e+06"} 1
petrel_storage_round_bytes_bucket{file="segment",le="8.388608e+06"} 1
petrel_storage_round_bytes_bucket{file="segment",le="3.3554432e+07"} 1
petrel_storage_round_bytes_bucket{file="segment",le="1.34217728e+08"} 1
petrel_storage_round_bytes_bucket{file="segment",le="+Inf"} 1
petrel_storage_round_bytes_sum{file="segment"} 50
petrel_storage_round_bytes_count{file="segment"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "petrel_storage_round_bytes"); err != nil {
		t.Error(err)
	}
	// fsyncs: 3 of the journal (the initial Sync counts), 1 of the
	// segment, 1 of the directory.
	if n := testutil.CollectAndCount(m.fsync); n != 3 {
		t.Errorf("%d fsync series, want journal, segment and dir", n)
	}
	for kind, want := range map[string]uint64{"journal": 3, "segment": 1, "dir": 1} {
		if got := histCount(t, m, "petrel_storage_fsync_latency_seconds", "file", kind); got != want {
			t.Errorf("fsyncs of %s: %d, want %d", kind, got, want)
		}
	}
}

// failingFile fails Datasync once.
type failingFile struct {
	vfs.File
	fail bool
}

func (f *failingFile) Datasync() error {
	if f.fail {
		f.fail = false
		return errors.New("injected")
	}
	return f.File.Datasync()
}

func TestInstrumentFSFailedSyncKeepsBytesPending(t *testing.T) {
	m := New(Options{})
	mem := vfs.NewMem()
	raw, err := mem.Create("a.jnl", vfs.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := &instrumentedFile{File: &failingFile{File: raw, fail: true}, m: m, kind: fileKind(raw.Name())}
	if _, err := f.WriteAt(make([]byte, 70), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Datasync(); err == nil {
		t.Fatal("injected failure not returned")
	}
	if _, err := f.WriteAt(make([]byte, 30), 70); err != nil {
		t.Fatal(err)
	}
	if err := f.Datasync(); err != nil {
		t.Fatal(err)
	}
	if got := histSum(t, m, "petrel_storage_round_bytes", "file", "journal"); got != 100 {
		t.Errorf("round bytes %v, want the failed sync's 70 carried into the next: 100", got)
	}
}

func TestRequestsByAPI(t *testing.T) {
	m := New(Options{})
	m.Request(0, 3*time.Millisecond, false)
	m.Request(0, 5*time.Millisecond, true)
	m.Request(1, time.Millisecond, false)
	m.Request(-7, time.Millisecond, false)
	for api, want := range map[string]float64{"Produce": 2, "Fetch": 1, "key_-7": 1} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(api)); got != want {
			t.Errorf("requests{api=%s} = %v, want %v", api, got, want)
		}
	}
	if got := testutil.ToFloat64(m.failures.WithLabelValues("Produce")); got != 1 {
		t.Errorf("Produce failures %v", got)
	}
	if got := histSum(t, m, "petrel_kafka_request_latency_seconds", "api", "Produce"); got < 0.0079 || got > 0.0081 {
		t.Errorf("Produce latency sum %v, want 0.008", got)
	}
}

func TestTopicBytesPrunedWhenTopicGoes(t *testing.T) {
	m := New(Options{PartitionSeries: true})
	m.TopicBytes(true, "a", 10)
	m.TopicBytes(true, "b", 20)
	m.TopicBytes(false, "b", 5)
	m.SetProbe(func(context.Context) Probe {
		return Probe{Partitions: []PartitionState{{Topic: "a", Partition: 0, Leader: true}}}
	})
	if _, err := m.Registry().Gather(); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.bytesIn); n != 1 {
		t.Errorf("%d bytes_in series after b was deleted, want 1", n)
	}
	if n := testutil.CollectAndCount(m.bytesOut); n != 0 {
		t.Errorf("%d bytes_out series after b was deleted, want 0", n)
	}
	if got := testutil.ToFloat64(m.bytesIn.WithLabelValues("a")); got != 10 {
		t.Errorf("bytes_in{a} = %v", got)
	}
}

func TestLeadershipChanges(t *testing.T) {
	c := newProbeCollector(nil, Options{})
	steps := []struct {
		parts []PartitionState
		want  uint64
	}{
		{[]PartitionState{{Topic: "t", Partition: 0, Leader: true, LeaderEpoch: 4}, {Topic: "t", Partition: 1, LeaderEpoch: 1}}, 1},
		{[]PartitionState{{Topic: "t", Partition: 0, Leader: true, LeaderEpoch: 4}, {Topic: "t", Partition: 1, Leader: true, LeaderEpoch: 1}}, 1},
		// Three elections on partition 0 between scrapes, one on 1.
		{[]PartitionState{{Topic: "t", Partition: 0, Leader: true, LeaderEpoch: 7}, {Topic: "t", Partition: 1, Leader: true, LeaderEpoch: 2}}, 5},
		// Partition 1 gone, then back: first seen again, leading.
		{[]PartitionState{{Topic: "t", Partition: 0, Leader: true, LeaderEpoch: 7}}, 5},
		{[]PartitionState{{Topic: "t", Partition: 0, Leader: true, LeaderEpoch: 7}, {Topic: "t", Partition: 1, Leader: true, LeaderEpoch: 0}}, 6},
	}
	for i, s := range steps {
		if got := c.countChanges(s.parts); got != s.want {
			t.Fatalf("step %d: %d changes, want %d", i, got, s.want)
		}
	}
	if len(c.epochs) != 2 {
		t.Errorf("%d partitions remembered, want 2", len(c.epochs))
	}
}

func TestLagSeries(t *testing.T) {
	lags := []GroupOffset{
		{Group: "g", Topic: "t", Partition: 0, Committed: 3, HighWatermark: 10},
		{Group: "g", Topic: "t", Partition: 1, Committed: 9, HighWatermark: 5}, // past the watermark: no lag
		{Group: "g", Topic: "u", Partition: 0, Committed: 0, HighWatermark: 2},
		{Group: "h", Topic: "t", Partition: 0, Committed: 10, HighWatermark: 10},
	}
	probe := func(context.Context) Probe { return Probe{Lags: lags} }

	on := New(Options{PartitionSeries: true})
	on.SetProbe(probe)
	want := `
# HELP petrel_consumer_group_lag Records a group has not committed: high watermark minus committed offset.
# TYPE petrel_consumer_group_lag gauge
petrel_consumer_group_lag{group="g",partition="0",topic="t"} 7
petrel_consumer_group_lag{group="g",partition="0",topic="u"} 2
petrel_consumer_group_lag{group="g",partition="1",topic="t"} 0
petrel_consumer_group_lag{group="h",partition="0",topic="t"} 0
`
	if err := testutil.GatherAndCompare(on.Registry(), strings.NewReader(want), "petrel_consumer_group_lag"); err != nil {
		t.Error(err)
	}

	off := New(Options{})
	off.SetProbe(probe)
	want = `
# HELP petrel_consumer_group_lag Records a group has not committed, summed over the topic's partitions.
# TYPE petrel_consumer_group_lag gauge
petrel_consumer_group_lag{group="g",topic="t"} 7
petrel_consumer_group_lag{group="g",topic="u"} 2
petrel_consumer_group_lag{group="h",topic="t"} 0
`
	if err := testutil.GatherAndCompare(off.Registry(), strings.NewReader(want), "petrel_consumer_group_lag"); err != nil {
		t.Error(err)
	}
	if err := testutil.GatherAndCompare(off.Registry(), strings.NewReader(""), "petrel_consumer_group_committed_offset", "petrel_partition_high_watermark"); err != nil {
		t.Errorf("per-partition series with PartitionSeries off: %v", err)
	}
}

// histCount and histSum read one series of a histogram family.
func histCount(t *testing.T, m *Metrics, name, label, value string) uint64 {
	t.Helper()
	return histogram(t, m, name, label, value).GetSampleCount()
}

func histSum(t *testing.T, m *Metrics, name, label, value string) float64 {
	t.Helper()
	return histogram(t, m, name, label, value).GetSampleSum()
}

func histogram(t *testing.T, m *Metrics, name, label, value string) interface {
	GetSampleCount() uint64
	GetSampleSum() float64
} {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.Metric {
			for _, l := range s.Label {
				if l.GetName() == label && l.GetValue() == value {
					return s.Histogram
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, value)
	return nil
}
