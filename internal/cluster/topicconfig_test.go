package cluster

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/model"
)

// TestTopicConfigDecls checks the table itself: sorted unique names, a
// known type, docs, and a default that passes its own validation.
func TestTopicConfigDecls(t *testing.T) {
	decls := TopicConfigDecls()
	if len(decls) < 20 {
		t.Fatalf("%d declarations", len(decls))
	}
	for i, d := range decls {
		if i > 0 && decls[i-1].Name >= d.Name {
			t.Errorf("%q after %q: table not sorted or not unique", d.Name, decls[i-1].Name)
		}
		if d.Doc == "" || d.Type.String() == "UNKNOWN" {
			t.Errorf("%s: doc %q, type %s", d.Name, d.Doc, d.Type)
		}
		if err := d.check(d.Default); err != nil {
			t.Errorf("%s: default %q refused: %v", d.Name, d.Default, err)
		}
		if d.Support == Supported && d.set == nil && d.refuse == nil {
			t.Errorf("%s: supported but neither resolved nor restricted", d.Name)
		}
	}
	for _, name := range []string{"cleanup.policy", "retention.ms", "retention.bytes", "segment.bytes", "segment.ms",
		"max.message.bytes", "message.timestamp.type", "compression.type", "min.insync.replicas"} {
		if !slices.ContainsFunc(decls, func(d TopicConfigDecl) bool { return d.Name == name }) {
			t.Errorf("%s not declared", name)
		}
	}
}

func TestResolve(t *testing.T) {
	def, err := Resolve(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := TopicConfig{RetentionMs: 604800000, RetentionBytes: -1, SegmentBytes: 1 << 30, SegmentMs: 604800000,
		IndexIntervalBytes: 4096, MaxMessageBytes: 1048588, TimestampBeforeMaxMs: 1<<63 - 1, TimestampAfterMaxMs: 1<<63 - 1}
	if def != want {
		t.Fatalf("defaults:\n got %+v\nwant %+v", def, want)
	}
	got, err := Resolve(
		map[string]string{"retention.ms": "-1", "message.timestamp.type": "LogAppendTime", "max.message.bytes": "2000000"},
		map[string]string{"retention.ms": "1000", "retention.bytes": "77", "segment.bytes": " 2097152 "},
	)
	if err != nil {
		t.Fatal(err)
	}
	want.RetentionMs, want.LogAppendTime, want.MaxMessageBytes = -1, true, 2000000 // topic wins
	want.RetentionBytes, want.SegmentBytes = 77, 2097152                           // broker default next
	if got != want {
		t.Fatalf("resolved:\n got %+v\nwant %+v", got, want)
	}
	if _, err := Resolve(map[string]string{"segment.ms": "0"}, nil); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), `segment.ms="0"`) {
		t.Fatalf("bad topic value: %v", err)
	}
	if _, err := Resolve(nil, map[string]string{"nope": "1"}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("bad broker key: %v", err)
	}
}

func TestCheckTopicConfigs(t *testing.T) {
	good := map[string]string{
		"cleanup.policy": "delete", "compression.type": "lz4", "preallocate": "false", "min.cleanable.dirty.ratio": "0",
		"follower.replication.throttled.replicas": "*", "retention.bytes": "-1", "local.retention.ms": "-2",
	}
	if err := CheckTopicConfigs(good); err != nil {
		t.Fatal(err)
	}
	bad := []map[string]string{
		{"preallocate": "yes"}, {"retention.ms": "1e3"}, {"retention.ms": ""}, {"cleanup.policy": ""},
		{"cleanup.policy": "delete,bogus"}, {"min.cleanable.dirty.ratio": "NaN"}, {"message.timestamp.type": "createtime"},
		{"segment.index.bytes": "3"}, {"local.retention.bytes": "-3"}, {"Retention.ms": "1"},
	}
	for _, m := range bad {
		if err := CheckTopicConfigs(m); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%v: %v, want ErrInvalidConfig", m, err)
		}
	}
	// Errors are deterministic: the first bad key in order.
	err := CheckTopicConfigs(map[string]string{"zzz": "1", "aaa": "1"})
	if err == nil || !strings.Contains(err.Error(), `"aaa"`) {
		t.Fatalf("first error: %v", err)
	}
}

func TestDescribeTopicConfigs(t *testing.T) {
	entries := DescribeTopicConfigs(map[string]string{"retention.ms": "5"}, map[string]string{"segment.ms": "60000"})
	if len(entries) != len(TopicConfigDecls()) {
		t.Fatalf("%d entries", len(entries))
	}
	find := func(name string) ConfigEntry {
		for _, e := range entries {
			if e.Name == name {
				return e
			}
		}
		t.Fatalf("%s not described", name)
		return ConfigEntry{}
	}
	cases := []struct {
		name, value string
		source      kmsg.ConfigSource
		synonyms    int
	}{
		{"retention.ms", "5", kmsg.ConfigSourceDynamicTopicConfig, 2},
		{"segment.ms", "60000", kmsg.ConfigSourceStaticBrokerConfig, 2},
		{"segment.bytes", "1073741824", kmsg.ConfigSourceDefaultConfig, 1},
	}
	for _, c := range cases {
		e := find(c.name)
		if e.Value != c.value || e.Source != c.source || e.IsDefault != (c.source == kmsg.ConfigSourceDefaultConfig) ||
			e.ReadOnly || e.Sensitive || len(e.Synonyms) != c.synonyms || e.Synonyms[0].Source != c.source {
			t.Errorf("%s: %+v", c.name, e)
		}
	}
	if e := find("retention.ms"); e.Synonyms[1].Name != "log.retention.ms" || e.Type != kmsg.ConfigTypeLong {
		t.Errorf("retention.ms synonyms %+v type %s", e.Synonyms, e.Type)
	}
}

func TestDescribeBrokerConfigs(t *testing.T) {
	entries := DescribeBrokerConfigs(BrokerInfo{NodeID: 3, Rack: "r", DefaultPartitions: 6, DefaultReplicationFactor: 1,
		TopicDefaults: map[string]string{"retention.ms": "1000"}})
	got := map[string]ConfigEntry{}
	for i, e := range entries {
		if i > 0 && entries[i-1].Name >= e.Name {
			t.Fatalf("not sorted at %s", e.Name)
		}
		if !e.ReadOnly {
			t.Errorf("%s is not read-only", e.Name)
		}
		got[e.Name] = e
	}
	for name, value := range map[string]string{"broker.id": "3", "broker.rack": "r", "num.partitions": "6",
		"log.retention.ms": "1000", "log.segment.bytes": "1073741824", "message.max.bytes": "1048588"} {
		if got[name].Value != value {
			t.Errorf("%s = %q, want %q", name, got[name].Value, value)
		}
	}
	if got["log.retention.ms"].Source != kmsg.ConfigSourceStaticBrokerConfig || !got["log.segment.bytes"].IsDefault {
		t.Errorf("sources: %+v %+v", got["log.retention.ms"], got["log.segment.bytes"])
	}
}

// TestPlanSpreadsLeaders: placement over 3 brokers gives every broker the
// same number of preferred leaders and replicas, and distinct replicas.
func TestPlanSpreadsLeaders(t *testing.T) {
	s := NewState()
	for i := range 3 {
		if _, err := s.Apply(model.Index(i+1), &RegisterBroker{NodeID: model.NodeID(i + 1), KafkaAddr: "h:1", RPCAddr: "h:2"}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.Tables().PlanCreateTopic(TopicRequest{Name: "t", Partitions: 9, ReplicationFactor: 2}, testTopicID(1), Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	leaders, replicas := map[model.NodeID]int{}, map[model.NodeID]int{}
	for _, r := range c.Assignment {
		leaders[r[0]]++
		for _, id := range r {
			replicas[id]++
		}
		if r[0] == r[1] {
			t.Fatalf("partition placed twice on %d", r[0])
		}
	}
	for id := model.NodeID(1); id <= 3; id++ {
		if leaders[id] != 3 || replicas[id] != 6 {
			t.Errorf("broker %d: %d leaders, %d replicas", id, leaders[id], replicas[id])
		}
	}
	// The same request plans the same command: the plan is deterministic.
	again, _ := s.Tables().PlanCreateTopic(TopicRequest{Name: "t", Partitions: 9, ReplicationFactor: 2}, testTopicID(1), Defaults{})
	if !slices.EqualFunc(c.Assignment, again.Assignment, slices.Equal) {
		t.Fatal("plan differs for the same input")
	}
}
