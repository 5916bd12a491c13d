package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/group"
	"github.com/petrel-streaming/petrel/internal/model"
)

// wantBrokers is the fake cluster's broker list as clients must see it.
func wantBrokers(t *testing.T, what string, got []string) {
	t.Helper()
	want := []string{"1 self.example:9092 <nil>", "2 b2.example:9093 r2", "3 b3.example:9094 <nil>"}
	if !slices.Equal(got, want) {
		t.Errorf("%s: brokers %q, want %q", what, got, want)
	}
}

func rackString(r *string) string {
	if r == nil {
		return "<nil>"
	}
	return *r
}

func TestMetadataClusterView(t *testing.T) {
	f := newFakeCluster(t)
	api := metadataAPI(f)
	type want struct {
		code     int16
		leader   int32
		epoch    int32
		replicas []int32
		isr      []int32
	}
	wants := []want{
		{0, 2, 5, []int32{2, 1}, []int32{2, 1}},
		{0, 3, 7, []int32{3, 2}, []int32{3}},
		{0, 1, 4, []int32{1, 3}, []int32{1, 3}},
		{kerr.LeaderNotAvailable.Code, -1, -1, []int32{1, 2}, []int32{1, 2}},
	}
	for v := int16(0); v <= 13; v++ {
		req := metadataReq(v, "t")
		resp := call[*kmsg.MetadataResponse](t, api, req)
		var brokers []string
		for _, b := range resp.Brokers {
			brokers = append(brokers, fmt.Sprintf("%d %s:%d %s", b.NodeID, b.Host, b.Port, rackString(b.Rack)))
		}
		if v == 0 { // no racks, no controller before v1
			wantBrokersV0 := []string{"1 self.example:9092 <nil>", "2 b2.example:9093 <nil>", "3 b3.example:9094 <nil>"}
			if !slices.Equal(brokers, wantBrokersV0) {
				t.Errorf("v0: brokers %q", brokers)
			}
		} else {
			wantBrokers(t, fmt.Sprintf("v%d", v), brokers)
			if resp.ControllerID != 2 {
				t.Errorf("v%d: controller %d, want 2", v, resp.ControllerID)
			}
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 4 {
			t.Fatalf("v%d: topics %+v", v, resp.Topics)
		}
		for i, p := range resp.Topics[0].Partitions {
			w := wants[i]
			epoch := p.LeaderEpoch
			if v < 7 {
				epoch = w.epoch // not in the response before v7
			}
			if p.ErrorCode != w.code || p.Leader != w.leader || epoch != w.epoch ||
				!slices.Equal(p.Replicas, w.replicas) || !slices.Equal(p.ISR, w.isr) || len(p.OfflineReplicas) != 0 {
				t.Errorf("v%d p%d: code %d leader %d epoch %d replicas %v isr %v offline %v; want %+v",
					v, i, p.ErrorCode, p.Leader, p.LeaderEpoch, p.Replicas, p.ISR, p.OfflineReplicas, w)
			}
		}
	}
	// A leader the tables do not list cannot be reached: no leader.
	f.leaders[fakeKey(0)] = Leadership{Leader: 9, Epoch: 6}
	resp := call[*kmsg.MetadataResponse](t, api, metadataReq(12, "t"))
	if p := resp.Topics[0].Partitions[0]; p.Leader != -1 || p.ErrorCode != kerr.LeaderNotAvailable.Code {
		t.Errorf("unregistered leader: leader %d code %d", p.Leader, p.ErrorCode)
	}
	// An unknown controller is -1.
	f.controller = -1
	if resp := call[*kmsg.MetadataResponse](t, api, kmsg.NewPtrMetadataRequest()); resp.ControllerID != -1 {
		t.Errorf("unknown controller answered as %d", resp.ControllerID)
	}
}

// TestMetadataListsNamedBrokers: a broker this node sees down is left
// out of Metadata, unless the response names it as a partition's leader
// or as the controller (after a network partition heals, liveness on one
// node may lag what another node's replicas report; a client fails on a
// leader id missing from the broker list). A node that sees a majority
// of the brokers down is the one cut off: it lists every broker.
func TestMetadataListsNamedBrokers(t *testing.T) {
	f := newFakeCluster(t)
	api := metadataAPI(f)
	ids := func(resp *kmsg.MetadataResponse) []int32 {
		var out []int32
		for _, b := range resp.Brokers {
			out = append(out, b.NodeID)
		}
		return out
	}
	none := metadataReq(12)
	none.Topics = []kmsg.MetadataRequestTopic{}
	describe := func() []int32 {
		resp := call[*kmsg.DescribeClusterResponse](t, describeClusterAPI(f), kmsg.NewPtrDescribeClusterRequest())
		var out []int32
		for _, b := range resp.Brokers {
			out = append(out, b.NodeID)
		}
		return out
	}
	for _, c := range []struct {
		name       string
		down       []model.NodeID
		controller model.NodeID
		req        *kmsg.MetadataRequest
		want       []int32
	}{
		// Topic t: partition 1 is led by 3.
		{"3 down, topic t", []model.NodeID{3}, 2, metadataReq(12, "t"), []int32{1, 2, 3}},
		{"3 down, no topic", []model.NodeID{3}, 2, none, []int32{1, 2}},
		{"3 down and controller, no topic", []model.NodeID{3}, 3, none, []int32{1, 2, 3}},
		{"2 and 3 down: this node is cut off", []model.NodeID{2, 3}, 1, none, []int32{1, 2, 3}},
	} {
		f.down = map[model.NodeID]bool{}
		for _, id := range c.down {
			f.down[id] = true
		}
		f.controller = c.controller
		if got := ids(call[*kmsg.MetadataResponse](t, api, c.req)); !slices.Equal(got, c.want) {
			t.Errorf("%s: Metadata brokers %v, want %v", c.name, got, c.want)
		}
		if c.req == none {
			if got := describe(); !slices.Equal(got, c.want) {
				t.Errorf("%s: DescribeCluster brokers %v, want %v", c.name, got, c.want)
			}
		}
	}
}

// TestFindCoordinatorIsOffsetsLeader: a group's coordinator is the leader
// of its __consumer_offsets partition, wherever it is.
func TestFindCoordinatorIsOffsetsLeader(t *testing.T) {
	f := newFakeCluster(t)
	groups := make([]string, 3) // a group id for each offsets partition
	for i := 0; slices.Contains(groups, ""); i++ {
		if i > 1000 {
			t.Fatal("no group id found for every partition")
		}
		id := fmt.Sprintf("g%d", i)
		if p := group.PartitionFor(id, 3); groups[p] == "" {
			groups[p] = id
		}
	}
	want := []string{"1 self.example:9092 <nil>", "2 b2.example:9093 <nil>", "-1 :-1 " + kerr.CoordinatorNotAvailable.Message}
	for v := int16(0); v <= 6; v++ {
		var got []string
		for _, g := range groups {
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.Version, req.CoordinatorKey, req.CoordinatorKeys = v, g, []string{g}
			resp := call[*kmsg.FindCoordinatorResponse](t, findCoordinatorAPI(f), req)
			id, host, port, code := resp.NodeID, resp.Host, resp.Port, resp.ErrorCode
			if v >= 4 {
				c := resp.Coordinators[0]
				id, host, port, code = c.NodeID, c.Host, c.Port, c.ErrorCode
			}
			s := fmt.Sprintf("%d %s:%d <nil>", id, host, port)
			if code != 0 {
				s = fmt.Sprintf("%d %s:%d %s", id, host, port, kerr.ErrorForCode(code).(*kerr.Error).Message)
			}
			got = append(got, s)
		}
		if !slices.Equal(got, want) {
			t.Errorf("v%d: coordinators %q, want %q", v, got, want)
		}
	}
}

func TestDescribeClusterListsEveryBroker(t *testing.T) {
	f := newFakeCluster(t)
	for v := int16(0); v <= 2; v++ {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.Version = v
		req.EndpointType = 1
		resp := call[*kmsg.DescribeClusterResponse](t, describeClusterAPI(f), req)
		var brokers []string
		for _, b := range resp.Brokers {
			brokers = append(brokers, fmt.Sprintf("%d %s:%d %s", b.NodeID, b.Host, b.Port, rackString(b.Rack)))
		}
		wantBrokers(t, fmt.Sprintf("v%d", v), brokers)
		if resp.ControllerID != 2 || resp.ClusterID != "fake-cluster" {
			t.Errorf("v%d: controller %d cluster %q", v, resp.ControllerID, resp.ClusterID)
		}
	}
}

// produceReq produces one valid batch to each partition of topic t.
func produceReq(v int16, partitions ...int32) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = v, -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = "t", fakeTopicID
	for _, p := range partitions {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = p, validBatch()
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// hint formats a partition's answer: code and current leader.
func hint(code int16, leader, epoch int32) string {
	return fmt.Sprintf("%s leader=%d epoch=%d", kerr.ErrorForCode(code), leader, epoch)
}

func TestProduceNotLeaderHints(t *testing.T) {
	for v := int16(3); v <= 13; v++ {
		f := newFakeCluster(t)
		api := produceAPI(f)
		resp := call[*kmsg.ProduceResponse](t, api, produceReq(v, 0, 1, 2, 3))
		var got []string
		for _, p := range resp.Topics[0].Partitions {
			got = append(got, hint(p.ErrorCode, p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch))
		}
		notLeader := kerr.NotLeaderForPartition.Code
		want := []string{hint(notLeader, 2, 5), hint(notLeader, 3, 7), hint(0, -1, -1), hint(notLeader, -1, -1)}
		var brokers []string
		for _, b := range resp.Brokers {
			brokers = append(brokers, fmt.Sprintf("%d %s:%d %s", b.NodeID, b.Host, b.Port, rackString(b.Rack)))
		}
		wantEndpoints := []string{"2 b2.example:9093 r2", "3 b3.example:9094 <nil>"}
		if v < 10 { // KIP-951 fields exist from v10
			want = []string{hint(notLeader, -1, -1), hint(notLeader, -1, -1), hint(0, -1, -1), hint(notLeader, -1, -1)}
			wantEndpoints = nil
		}
		if !slices.Equal(got, want) || !slices.Equal(brokers, wantEndpoints) {
			t.Errorf("v%d:\n got %q brokers %q\nwant %q brokers %q", v, got, brokers, want, wantEndpoints)
		}
		if p := resp.Topics[0].Partitions[2]; p.BaseOffset != 10 {
			t.Errorf("v%d: the led partition's base offset %d, want 10", v, p.BaseOffset)
		}
		if !slices.Equal(f.produced, []model.PartitionKey{fakeKey(2)}) {
			t.Errorf("v%d: batches reached %v; only the led p2 should", v, f.produced)
		}
	}
}

// fetchOf fetches partitions of t; epochs[i] is partition i's current
// leader epoch (-1: unchecked).
func fetchOf(v int16, parts []int32, epochs []int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxWaitMillis, req.MaxBytes, req.SessionEpoch = v, 0, 1<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = "t", fakeTopicID
	for i, p := range parts {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = p, 1<<20, epochs[i]
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

func TestFetchNotLeaderHints(t *testing.T) {
	f := newFakeCluster(t)
	api := fetchAPI(f)
	notLeader, fenced := kerr.NotLeaderForPartition.Code, kerr.FencedLeaderEpoch.Code
	for v := int16(9); v <= 18; v++ { // CurrentLeaderEpoch exists from v9
		// p2 is led here at epoch 4: a client at epoch 3 is fenced.
		resp := call[*kmsg.FetchResponse](t, api, fetchOf(v, []int32{0, 1, 3, 2}, []int32{-1, -1, -1, 3}))
		if len(resp.Topics) != 1 {
			t.Fatalf("v%d: topics %+v", v, resp.Topics)
		}
		var got []string
		for _, p := range resp.Topics[0].Partitions {
			got = append(got, hint(p.ErrorCode, p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch))
		}
		want := []string{hint(notLeader, 2, 5), hint(notLeader, 3, 7), hint(notLeader, -1, -1), hint(fenced, 1, 4)}
		wantEndpoints := []string{"1 self.example:9092 <nil>", "2 b2.example:9093 r2", "3 b3.example:9094 <nil>"}
		if v < 16 { // KIP-951 hints from v16
			want = []string{hint(notLeader, -1, -1), hint(notLeader, -1, -1), hint(notLeader, -1, -1), hint(fenced, -1, -1)}
			wantEndpoints = nil
		}
		var brokers []string
		for _, b := range resp.Brokers {
			brokers = append(brokers, fmt.Sprintf("%d %s:%d %s", b.NodeID, b.Host, b.Port, rackString(b.Rack)))
		}
		if !slices.Equal(got, want) || !slices.Equal(brokers, wantEndpoints) {
			t.Errorf("v%d:\n got %q brokers %q\nwant %q brokers %q", v, got, brokers, want, wantEndpoints)
		}
	}
	// Older versions without leader epochs still answer.
	for v := int16(4); v < 9; v++ {
		resp := call[*kmsg.FetchResponse](t, api, fetchOf(v, []int32{0, 1}, []int32{-1, -1}))
		for _, p := range resp.Topics[0].Partitions {
			if p.ErrorCode != notLeader {
				t.Errorf("v%d p%d: %v", v, p.Partition, kerr.ErrorForCode(p.ErrorCode))
			}
		}
	}
}

// TestLeaderOnlyKeysRefuseNonLeaders: every key that reads or changes the
// leader's log answers NOT_LEADER_OR_FOLLOWER for a follower replica (p0),
// a partition not hosted here (p1) and a replica without a known leader
// (p3), and serves the partition led here (p2); the node's operations
// are reached only for p2.
func TestLeaderOnlyKeysRefuseNonLeaders(t *testing.T) {
	f := newFakeCluster(t)
	parts := []int32{0, 1, 2, 3}
	notLeader := kerr.NotLeaderForPartition.Code
	wantCodes := []int16{notLeader, notLeader, 0, notLeader}
	check := func(key string, codes []int16) {
		t.Helper()
		if !slices.Equal(codes, wantCodes) {
			t.Errorf("%s: codes %v, want %v", key, codes, wantCodes)
		}
	}
	{
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version = 7
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		for _, p := range parts {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = p, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp := call[*kmsg.ListOffsetsResponse](t, listOffsetsAPI(f), req)
		var codes []int16
		for _, p := range resp.Topics[0].Partitions {
			codes = append(codes, p.ErrorCode)
		}
		check("ListOffsets", codes)
		if p := resp.Topics[0].Partitions[2]; p.Offset != 10 {
			t.Errorf("ListOffsets latest of the led partition: %d, want 10", p.Offset)
		}
	}
	{
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.Version = 4
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = "t"
		for _, p := range parts {
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = p, -1, 4
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp := call[*kmsg.OffsetForLeaderEpochResponse](t, offsetForLeaderEpochAPI(f), req)
		var codes []int16
		for _, p := range resp.Topics[0].Partitions {
			codes = append(codes, p.ErrorCode)
		}
		check("OffsetForLeaderEpoch", codes)
	}
	{
		req := kmsg.NewPtrDeleteRecordsRequest()
		req.Version = 2
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = "t"
		for _, p := range parts {
			rp := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp.Partition, rp.Offset = p, 5
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp := call[*kmsg.DeleteRecordsResponse](t, deleteRecordsAPI(f), req)
		var codes []int16
		for _, p := range resp.Topics[0].Partitions {
			codes = append(codes, p.ErrorCode)
		}
		check("DeleteRecords", codes)
		if p := resp.Topics[0].Partitions[2]; p.LowWatermark != 5 {
			t.Errorf("DeleteRecords of the led partition: low watermark %d, want 5", p.LowWatermark)
		}
	}
	{
		req := kmsg.NewPtrDescribeProducersRequest()
		rt := kmsg.NewDescribeProducersRequestTopic()
		rt.Topic, rt.Partitions = "t", parts
		req.Topics = append(req.Topics, rt)
		resp := call[*kmsg.DescribeProducersResponse](t, describeProducersAPI(f), req)
		var codes []int16
		for _, p := range resp.Topics[0].Partitions {
			codes = append(codes, p.ErrorCode)
			if (p.ErrorCode == 0) != (len(p.ActiveProducers) == 1) {
				t.Errorf("DescribeProducers p%d: code %d with producers %+v", p.Partition, p.ErrorCode, p.ActiveProducers)
			}
		}
		check("DescribeProducers", codes)
	}
	if want := []model.PartitionKey{fakeKey(2), fakeKey(2)}; !slices.Equal(f.touched, want) {
		t.Errorf("DeleteRecords and Producers reached %v, want only p2 twice", f.touched)
	}
	{
		resp := call[*kmsg.ProduceResponse](t, produceAPI(f), produceReq(9, parts...))
		var codes []int16
		for _, p := range resp.Topics[0].Partitions {
			codes = append(codes, p.ErrorCode)
		}
		check("Produce", codes)
	}
	{
		// Fetch without p2 (the fake's read state has no log view).
		resp := call[*kmsg.FetchResponse](t, fetchAPI(f), fetchOf(12, []int32{0, 1, 3}, []int32{-1, -1, -1}))
		for _, p := range resp.Topics[0].Partitions {
			if p.ErrorCode != notLeader {
				t.Errorf("Fetch p%d: %v", p.Partition, kerr.ErrorForCode(p.ErrorCode))
			}
		}
	}
}

func TestCreateTopicsReplication(t *testing.T) {
	f := newFakeCluster(t)
	api := createTopicsAPI(f)
	topic := func(name string, partitions int32, rf int16, assign ...[]int32) kmsg.CreateTopicsRequestTopic {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
		for i, a := range assign {
			ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			ra.Partition, ra.Replicas = int32(i), a
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
		}
		return rt
	}
	shuffled := topic("shuffled", -1, -1, []int32{3, 1}, []int32{1, 2}, []int32{2, 3})
	// Assignments may come in any partition order.
	shuffled.ReplicaAssignment[0].Partition, shuffled.ReplicaAssignment[2].Partition = 2, 0
	gap := topic("gap", -1, -1, []int32{1}, []int32{2})
	gap.ReplicaAssignment[1].Partition = 2
	twice := topic("twice", -1, -1, []int32{1}, []int32{2})
	twice.ReplicaAssignment[1].Partition = 0
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.TimeoutMillis = 7, 5000
	req.Topics = []kmsg.CreateTopicsRequestTopic{
		topic("default", 6, -1),
		topic("wide", 1, 4),
		topic("zero", 1, 0),
		topic("negative", 1, -2),
		shuffled, gap, twice,
		topic("ragged", -1, -1, []int32{1, 2}, []int32{3}),
		topic("ghost", -1, -1, []int32{1, 9}),
		topic("both", 2, 2, []int32{1, 2}),
	}
	resp := call[*kmsg.CreateTopicsResponse](t, api, req)
	want := map[string]struct {
		code int16
		msg  []string
	}{
		"default":  {0, nil},
		"wide":     {kerr.InvalidReplicationFactor.Code, []string{"replication factor 4", "3 registered brokers"}},
		"zero":     {kerr.InvalidReplicationFactor.Code, []string{"replication factor 0"}},
		"negative": {kerr.InvalidReplicationFactor.Code, []string{"replication factor -2"}},
		"shuffled": {0, nil},
		"gap":      {kerr.InvalidReplicaAssignment.Code, []string{"partition 2"}},
		"twice":    {kerr.InvalidReplicaAssignment.Code, []string{"more than once"}},
		"ragged":   {kerr.InvalidReplicaAssignment.Code, []string{"partition 1 has 1 replicas"}},
		"ghost":    {kerr.InvalidReplicaAssignment.Code, []string{"broker 9"}},
		"both":     {kerr.InvalidRequest.Code, nil},
	}
	for _, rt := range resp.Topics {
		w := want[rt.Topic]
		msg := ""
		if rt.ErrorMessage != nil {
			msg = *rt.ErrorMessage
		}
		if rt.ErrorCode != w.code {
			t.Errorf("%s: %v (%s), want %v", rt.Topic, kerr.ErrorForCode(rt.ErrorCode), msg, kerr.ErrorForCode(w.code))
		}
		for _, m := range w.msg {
			if !strings.Contains(msg, m) {
				t.Errorf("%s: message %q lacks %q", rt.Topic, msg, m)
			}
		}
	}
	if len(f.created) != 2 {
		t.Fatalf("created %d topics, want 2", len(f.created))
	}
	def, sh := f.created[0], f.created[1]
	// -1 with no node default: 3, the registered brokers.
	if def.ReplicationFactor != 3 || len(def.Assignment) != 6 {
		t.Errorf("default topic: factor %d, assignment %v", def.ReplicationFactor, def.Assignment)
	}
	wantShuffled := [][]model.NodeID{{2, 3}, {1, 2}, {3, 1}}
	if !slices.EqualFunc(sh.Assignment, wantShuffled, slices.Equal) {
		t.Errorf("shuffled assignment planned as %v, want %v", sh.Assignment, wantShuffled)
	}
}

// TestProduceAcksZeroRefusedCloses: an acks=0 produce gets no response;
// when a partition is refused the others are still stored and the
// handler closes the connection (ErrAcksZeroRefused), as Kafka does.
func TestProduceAcksZeroRefusedCloses(t *testing.T) {
	for _, tc := range []struct {
		parts []int32
		err   error
	}{
		{[]int32{2}, nil},
		{[]int32{0, 2}, ErrAcksZeroRefused},
		{[]int32{1}, ErrAcksZeroRefused},
	} {
		f := newFakeCluster(t)
		req := produceReq(9, tc.parts...)
		req.Acks = 0
		resp, err := produceAPI(f).Handle(context.Background(), &Request{Key: 0, Version: 9, Msg: req, Received: time.Now()})
		if resp != nil || !errors.Is(err, tc.err) {
			t.Errorf("partitions %v: response %v, error %v; want none and %v", tc.parts, resp, err, tc.err)
		}
		wantStored := []model.PartitionKey(nil)
		if slices.Contains(tc.parts, 2) {
			wantStored = []model.PartitionKey{fakeKey(2)}
		}
		if !slices.Equal(f.produced, wantStored) {
			t.Errorf("partitions %v: stored %v, want %v", tc.parts, f.produced, wantStored)
		}
	}
}
