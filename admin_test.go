package petrel_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// adminSetup starts a broker on a fresh directory and returns a client,
// an admin client on it and a context bounding the test.
func adminSetup(t *testing.T) (context.Context, *kgo.Client, *kadm.Client, string) {
	t.Helper()
	dir := t.TempDir()
	b := startBroker(t, dir)
	t.Cleanup(func() { _ = b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return ctx, cl, kadm.NewClient(cl), dir
}

func mustCreate(ctx context.Context, t *testing.T, adm *kadm.Client, partitions int32, topic string) {
	t.Helper()
	res, err := adm.CreateTopics(ctx, partitions, 1, nil, topic)
	if err != nil || res[topic].Err != nil {
		t.Fatalf("create %s: %v %v", topic, err, res[topic].Err)
	}
}

// topicConfig describes one config of a topic.
func topicConfig(ctx context.Context, t *testing.T, adm *kadm.Client, topic, key string) kadm.Config {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe %s: %v %v", topic, err, rc.Err)
	}
	for _, c := range rc.Configs {
		if c.Key == key {
			return c
		}
	}
	t.Fatalf("describe %s: no %s among %d configs", topic, key, len(rc.Configs))
	return kadm.Config{}
}

func str(s string) *string { return &s }

func TestAdminDescribeConfigs(t *testing.T) {
	ctx, cl, adm, _ := adminSetup(t)
	res, err := adm.CreateTopics(ctx, 1, 1, map[string]*string{"retention.ms": str("12345")}, "cfg")
	if err != nil || res["cfg"].Err != nil {
		t.Fatalf("create: %v %v", err, res["cfg"].Err)
	}
	c := topicConfig(ctx, t, adm, "cfg", "retention.ms")
	if c.MaybeValue() != "12345" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("retention.ms = %q from %v, want 12345 DYNAMIC_TOPIC_CONFIG", c.MaybeValue(), c.Source)
	}
	// kadm asks for synonyms: the topic's own value first, then the
	// broker-level default under its broker name.
	if len(c.Synonyms) < 2 || c.Synonyms[0].Source != kmsg.ConfigSourceDynamicTopicConfig ||
		c.Synonyms[len(c.Synonyms)-1].Key != "log.retention.ms" {
		t.Fatalf("synonyms %+v", c.Synonyms)
	}
	d := topicConfig(ctx, t, adm, "cfg", "cleanup.policy")
	if d.MaybeValue() != "delete" || d.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("cleanup.policy = %q from %v", d.MaybeValue(), d.Source)
	}

	// Unknown topic.
	rcs, err := adm.DescribeTopicConfigs(ctx, "nope")
	if err != nil {
		t.Fatal(err)
	}
	if rc, _ := rcs.On("nope", nil); !errors.Is(rc.Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("unknown topic: %v", rc.Err)
	}

	// v4 with documentation and config types, and a name filter.
	req := kmsg.NewPtrDescribeConfigsRequest()
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, "cfg"
	r.ConfigNames = []string{"segment.bytes", "no.such.config"}
	req.Resources = append(req.Resources, r)
	req.IncludeDocumentation = true
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Resources) != 1 || len(resp.Resources[0].Configs) != 1 {
		t.Fatalf("filtered describe: %+v", resp.Resources)
	}
	sc := resp.Resources[0].Configs[0]
	if sc.Name != "segment.bytes" || sc.ConfigType != kmsg.ConfigTypeInt || sc.Documentation == nil || *sc.Documentation == "" {
		t.Fatalf("segment.bytes: %+v", sc)
	}

	// Broker resources: by id and by "" (the broker asked); another id is refused.
	brcs, err := adm.DescribeBrokerConfigs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	brc, err := brcs.On("0", nil)
	if err != nil || brc.Err != nil {
		t.Fatalf("broker 0: %v %v", err, brc.Err)
	}
	found := false
	for _, c := range brc.Configs {
		if c.Key == "broker.id" {
			found = c.MaybeValue() == "0" && c.Source == kmsg.ConfigSourceStaticBrokerConfig
		}
	}
	if !found {
		t.Fatalf("broker.id missing or wrong in %d configs", len(brc.Configs))
	}
	for name, want := range map[string]error{"": nil, "7": kerr.InvalidRequest} {
		req := kmsg.NewPtrDescribeConfigsRequest()
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeBroker, name
		req.Resources = append(req.Resources, r)
		// Straight to broker 0: kgo would route "7" to a broker 7.
		kresp, err := cl.Broker(0).Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		resp := kresp.(*kmsg.DescribeConfigsResponse)
		if got := kerr.ErrorForCode(resp.Resources[0].ErrorCode); got != want || (want == nil && len(resp.Resources[0].Configs) == 0) {
			t.Fatalf("broker %q: %v with %d configs, want %v", name, got, len(resp.Resources[0].Configs), want)
		}
	}
}

func TestAdminIncrementalAlterConfigs(t *testing.T) {
	ctx, cl, adm, _ := adminSetup(t)
	mustCreate(ctx, t, adm, 1, "inc")
	alter := func(validate bool, ops ...kadm.AlterConfig) error {
		t.Helper()
		f := adm.AlterTopicConfigs
		if validate {
			f = adm.ValidateAlterTopicConfigs
		}
		rs, err := f(ctx, ops, "inc")
		if err != nil {
			t.Fatal(err)
		}
		r, err := rs.On("inc", nil)
		if err != nil {
			t.Fatal(err)
		}
		return r.Err
	}
	if err := alter(true, kadm.AlterConfig{Name: "retention.ms", Value: str("600000")}); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if c := topicConfig(ctx, t, adm, "inc", "retention.ms"); c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("validate-only changed retention.ms to %q (%v)", c.MaybeValue(), c.Source)
	}
	if err := alter(false, kadm.AlterConfig{Name: "retention.ms", Value: str("600000")},
		kadm.AlterConfig{Op: kadm.AppendConfig, Name: "leader.replication.throttled.replicas", Value: str("0:0")}); err != nil {
		t.Fatalf("set: %v", err)
	}
	if c := topicConfig(ctx, t, adm, "inc", "retention.ms"); c.MaybeValue() != "600000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("retention.ms = %q (%v)", c.MaybeValue(), c.Source)
	}
	if err := alter(false, kadm.AlterConfig{Op: kadm.AppendConfig, Name: "leader.replication.throttled.replicas", Value: str("1:0")}); err != nil {
		t.Fatalf("append: %v", err)
	}
	if c := topicConfig(ctx, t, adm, "inc", "leader.replication.throttled.replicas"); c.MaybeValue() != "0:0,1:0" {
		t.Fatalf("after append: %q", c.MaybeValue())
	}
	if err := alter(false, kadm.AlterConfig{Op: kadm.SubtractConfig, Name: "leader.replication.throttled.replicas", Value: str("0:0")}); err != nil {
		t.Fatalf("subtract: %v", err)
	}
	if c := topicConfig(ctx, t, adm, "inc", "leader.replication.throttled.replicas"); c.MaybeValue() != "1:0" {
		t.Fatalf("after subtract: %q", c.MaybeValue())
	}
	if err := alter(false, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "retention.ms"}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if c := topicConfig(ctx, t, adm, "inc", "retention.ms"); c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("after delete retention.ms = %q (%v)", c.MaybeValue(), c.Source)
	}
	for _, tc := range []struct {
		op   kadm.AlterConfig
		want error
	}{
		{kadm.AlterConfig{Op: kadm.AppendConfig, Name: "retention.ms", Value: str("1")}, kerr.InvalidRequest},
		{kadm.AlterConfig{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: str("compact")}, kerr.InvalidConfig},
		{kadm.AlterConfig{Name: "no.such.config", Value: str("1")}, kerr.InvalidConfig},
		{kadm.AlterConfig{Name: "retention.ms", Value: str("soon")}, kerr.InvalidConfig},
	} {
		if err := alter(false, tc.op); !errors.Is(err, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.op, err, tc.want)
		}
	}
	// Broker configs are static.
	rs, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "log.retention.ms", Value: str("1000")}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || !errors.Is(rs[0].Err, kerr.InvalidRequest) {
		t.Fatalf("broker alter: %+v", rs)
	}
	// Unknown topic.
	rs, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: str("1000")}}, "nope")
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := rs.On("nope", nil); !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("unknown topic: %v", r.Err)
	}
	_ = cl
}

func TestAdminAlterConfigsLegacy(t *testing.T) {
	ctx, _, adm, _ := adminSetup(t)
	mustCreate(ctx, t, adm, 1, "leg")
	state := func(validate bool, ops ...kadm.AlterConfig) error {
		t.Helper()
		f := adm.AlterTopicConfigsState
		if validate {
			f = adm.ValidateAlterTopicConfigsState
		}
		rs, err := f(ctx, ops, "leg")
		if err != nil {
			t.Fatal(err)
		}
		r, err := rs.On("leg", nil)
		if err != nil {
			t.Fatal(err)
		}
		return r.Err
	}
	if err := state(false, kadm.AlterConfig{Name: "retention.ms", Value: str("777")}, kadm.AlterConfig{Name: "segment.ms", Value: str("60000")}); err != nil {
		t.Fatal(err)
	}
	if c := topicConfig(ctx, t, adm, "leg", "segment.ms"); c.MaybeValue() != "60000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("segment.ms = %q (%v)", c.MaybeValue(), c.Source)
	}
	// Replace-all: what is left out returns to its default.
	if err := state(false, kadm.AlterConfig{Name: "retention.ms", Value: str("888")}); err != nil {
		t.Fatal(err)
	}
	if c := topicConfig(ctx, t, adm, "leg", "segment.ms"); c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("segment.ms kept %q (%v) after replace", c.MaybeValue(), c.Source)
	}
	if c := topicConfig(ctx, t, adm, "leg", "retention.ms"); c.MaybeValue() != "888" {
		t.Fatalf("retention.ms = %q", c.MaybeValue())
	}
	// Validate-only changes nothing; a bad value is INVALID_CONFIG.
	if err := state(true, kadm.AlterConfig{Name: "retention.ms", Value: str("999")}); err != nil {
		t.Fatal(err)
	}
	if c := topicConfig(ctx, t, adm, "leg", "retention.ms"); c.MaybeValue() != "888" {
		t.Fatalf("validate-only changed retention.ms to %q", c.MaybeValue())
	}
	if err := state(false, kadm.AlterConfig{Name: "retention.ms", Value: str("x")}); !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("bad value: %v", err)
	}
}

func TestAdminCreatePartitions(t *testing.T) {
	ctx, cl, adm, _ := adminSetup(t)
	mustCreate(ctx, t, adm, 1, "grow")
	partitions := func() int {
		t.Helper()
		td, err := adm.ListTopics(ctx, "grow")
		if err != nil || td["grow"].Err != nil {
			t.Fatalf("list: %v %v", err, td["grow"].Err)
		}
		return len(td["grow"].Partitions)
	}
	rs, err := adm.ValidateCreatePartitions(ctx, 2, "grow")
	if err != nil || rs["grow"].Err != nil {
		t.Fatalf("validate: %v %v", err, rs["grow"].Err)
	}
	if n := partitions(); n != 1 {
		t.Fatalf("validate-only made %d partitions", n)
	}
	rs, err = adm.CreatePartitions(ctx, 2, "grow")
	if err != nil || rs["grow"].Err != nil {
		t.Fatalf("create partitions: %v %v", err, rs["grow"].Err)
	}
	if n := partitions(); n != 3 {
		t.Fatalf("%d partitions after adding 2, want 3", n)
	}
	// The new partition serves: a record produced to it is at offset 0.
	pcl, err := kgo.NewClient(kgo.SeedBrokers(cl.OptValue(kgo.SeedBrokers).([]string)...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	r := &kgo.Record{Topic: "grow", Partition: 2, Value: []byte("new")}
	if err := pcl.ProduceSync(ctx, r).FirstErr(); err != nil || r.Partition != 2 || r.Offset != 0 {
		t.Fatalf("produce to the new partition: %v (partition %d offset %d)", err, r.Partition, r.Offset)
	}
	for _, tc := range []struct {
		set   int
		topic string
		want  error
	}{
		{2, "grow", kerr.InvalidPartitions},
		{3, "grow", kerr.InvalidPartitions},
		{5, "nope", kerr.UnknownTopicOrPartition},
	} {
		rs, err := adm.UpdatePartitions(ctx, tc.set, tc.topic)
		if err != nil {
			t.Fatal(err)
		}
		if got := rs[tc.topic].Err; !errors.Is(got, tc.want) {
			t.Errorf("set %s to %d: %v, want %v", tc.topic, tc.set, got, tc.want)
		}
	}
}

func TestAdminDescribeCluster(t *testing.T) {
	ctx, cl, _, _ := adminSetup(t)
	meta := kmsg.NewPtrMetadataRequest()
	mresp, err := meta.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []int16{0, 1, 2} {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.Version = v
		req.EndpointType = 1
		kresp, err := cl.Request(ctx, req)
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		resp := kresp.(*kmsg.DescribeClusterResponse)
		if resp.ErrorCode != 0 || resp.ClusterID == "" || mresp.ClusterID == nil || resp.ClusterID != *mresp.ClusterID ||
			resp.ControllerID != 0 || resp.ClusterAuthorizedOperations != -2147483648 {
			t.Fatalf("v%d: %+v", v, resp)
		}
		if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 0 ||
			resp.Brokers[0].Host != mresp.Brokers[0].Host || resp.Brokers[0].Port != mresp.Brokers[0].Port {
			t.Fatalf("v%d brokers %+v, metadata %+v", v, resp.Brokers, mresp.Brokers)
		}
	}
	req := kmsg.NewPtrDescribeClusterRequest()
	req.EndpointType = 2
	kresp, err := cl.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if code := kresp.(*kmsg.DescribeClusterResponse).ErrorCode; code != kerr.UnsupportedEndpointType.Code {
		t.Fatalf("controllers endpoint: code %d", code)
	}
}

func TestAdminDescribeLogDirs(t *testing.T) {
	ctx, cl, adm, dir := adminSetup(t)
	mustCreate(ctx, t, adm, 2, "dirs")
	mustCreate(ctx, t, adm, 1, "other")
	const n, valueBytes = 50, 1000
	rng := rand.NewChaCha8([32]byte{1})
	for i := 0; i < n; i++ {
		v := make([]byte, valueBytes)
		rng.Read(v) // incompressible: the client compresses batches
		r := &kgo.Record{Topic: "dirs", Value: v}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	all, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	dirs := all[0]
	if len(all) != 1 || len(dirs) != 1 {
		t.Fatalf("log dirs: %+v", all)
	}
	d, ok := dirs[dir]
	if !ok || d.Err != nil {
		t.Fatalf("no log dir %s (or error) in %+v", dir, dirs)
	}
	if len(d.Topics["dirs"]) != 2 || len(d.Topics["other"]) != 1 {
		t.Fatalf("topics %+v", d.Topics)
	}
	// The default partitioner spread the records; their bytes are on disk
	// in one of the two partitions at least.
	var size int64
	for _, p := range d.Topics["dirs"] {
		size += p.Size
	}
	if size < n*valueBytes {
		t.Fatalf("partitions of dirs hold %d bytes, want ≥ %d", size, n*valueBytes)
	}
	// A filter keeps only what is asked for; an unknown topic is left out.
	// (Straight to broker 0: kgo refuses to route an unknown topic.)
	req := kmsg.NewPtrDescribeLogDirsRequest()
	for _, name := range []string{"other", "nope"} {
		rt := kmsg.NewDescribeLogDirsRequestTopic()
		rt.Topic, rt.Partitions = name, []int32{0}
		req.Topics = append(req.Topics, rt)
	}
	kresp, err := cl.Broker(0).Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	resp := kresp.(*kmsg.DescribeLogDirsResponse)
	if len(resp.Dirs) != 1 || resp.Dirs[0].ErrorCode != 0 || len(resp.Dirs[0].Topics) != 1 ||
		resp.Dirs[0].Topics[0].Topic != "other" || len(resp.Dirs[0].Topics[0].Partitions) != 1 {
		t.Fatalf("filtered: %+v", resp.Dirs)
	}
}

func TestAdminOffsetForLeaderEpoch(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// produce appends n records in one epoch and returns that epoch.
	produce := func(addr string, n int) int32 {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequiredAcks(kgo.AllISRAcks()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		for i := 0; i < n; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "ep", Value: []byte("x")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		m, err := kadm.NewClient(cl).Metadata(ctx, "ep")
		if err != nil || m.Topics["ep"].Err != nil {
			t.Fatalf("metadata: %v %v", err, m.Topics["ep"].Err)
		}
		return m.Topics["ep"].Partitions[0].LeaderEpoch
	}
	b := startBroker(t, dir)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(ctx, t, kadm.NewClient(cl), 1, "ep")
	cl.Close()
	e1 := produce(b.Addr(), 3)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// A restart elects the partition's leader in a new term: a new epoch.
	b = startBroker(t, dir)
	defer b.Close()
	e2 := produce(b.Addr(), 2)
	if e2 <= e1 {
		t.Fatalf("epoch %d after restart, was %d", e2, e1)
	}
	cl, err = kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	type answer struct {
		code   int16
		epoch  int32
		offset int64
	}
	ask := func(current, epoch int32) answer {
		t.Helper()
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = "ep"
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.CurrentLeaderEpoch, rp.LeaderEpoch = current, epoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		kresp, err := cl.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		p := kresp.(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0]
		return answer{p.ErrorCode, p.LeaderEpoch, p.EndOffset}
	}
	cases := []struct {
		current, epoch int32
		want           answer
	}{
		{-1, e2, answer{0, e2, 5}},
		{e2, e1, answer{0, e1, 3}},
		{-1, e2 + 1, answer{0, -1, -1}},
		{e2 + 1, e2, answer{kerr.UnknownLeaderEpoch.Code, -1, -1}},
		{e2 - 1, e2, answer{kerr.FencedLeaderEpoch.Code, -1, -1}},
	}
	if e1 > 0 {
		// Older than any epoch in the log: the start of the first one.
		cases = append(cases, struct {
			current, epoch int32
			want           answer
		}{-1, e1 - 1, answer{0, e1 - 1, 0}})
	}
	for _, tc := range cases {
		if got := ask(tc.current, tc.epoch); got != tc.want {
			t.Errorf("current %d epoch %d: %+v, want %+v (e1 %d, e2 %d)", tc.current, tc.epoch, got, tc.want, e1, e2)
		}
	}
}
