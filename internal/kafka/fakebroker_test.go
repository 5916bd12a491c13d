package kafka

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
)

// fakeBroker is a Broker over fixed tables: read states and leadership
// per partition are set by the test, and the operations record what
// reached them. Any goroutine.
type fakeBroker struct {
	id         model.NodeID
	host       string
	port       int32
	tables     *cluster.Tables
	states     map[model.PartitionKey]*partition.ReadState
	leaders    map[model.PartitionKey]Leadership
	controller model.NodeID
	down       map[model.NodeID]bool // brokers this node's liveness sees down

	mu       sync.Mutex
	produced []model.PartitionKey // Produce batches
	touched  []model.PartitionKey // DeleteRecords, Producers
	created  []*cluster.CreateTopic
}

var _ Broker = (*fakeBroker)(nil)

func (f *fakeBroker) NodeID() int32                                    { return int32(f.id) }
func (f *fakeBroker) ClusterID() string                                { return "fake-cluster" }
func (f *fakeBroker) Advertised() (string, int32)                      { return f.host, f.port }
func (f *fakeBroker) Tables() *cluster.Tables                          { return f.tables }
func (f *fakeBroker) ControllerID() model.NodeID                       { return f.controller }
func (f *fakeBroker) AutoCreateTopics() bool                           { return false }
func (f *fakeBroker) Defaults() cluster.Defaults                       { return cluster.Defaults{Partitions: 1} }
func (f *fakeBroker) DataDir() string                                  { return "/nonexistent" }
func (f *fakeBroker) DeleteTopic(context.Context, model.TopicID) error { return nil }

func (f *fakeBroker) ReadState(key model.PartitionKey) *partition.ReadState { return f.states[key] }

func (f *fakeBroker) Leadership(key model.PartitionKey) Leadership {
	if l, ok := f.leaders[key]; ok {
		return l
	}
	return Leadership{Leader: -1, Epoch: -1}
}

// Produce acknowledges every batch at offset 10, as a leader would.
func (f *fakeBroker) Produce(_ context.Context, batches []ProduceBatch, done func(int, partition.ProduceResult)) {
	for i, pb := range batches {
		f.mu.Lock()
		f.produced = append(f.produced, pb.Key)
		f.mu.Unlock()
		done(i, partition.ProduceResult{BaseOffset: 10})
	}
}

func (f *fakeBroker) CreateTopic(_ context.Context, cmd *cluster.CreateTopic) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, cmd)
	return nil
}

func (f *fakeBroker) Propose(context.Context, cluster.Command) (cluster.Result, error) {
	return cluster.Result{}, nil
}

func (f *fakeBroker) CreatePartitions(context.Context, *cluster.CreatePartitions) error { return nil }

// DeleteRecords and Producers succeed whatever the replica, as the node's
// shard-side operations may on a follower: the handler must not call
// them for a partition it does not lead.
func (f *fakeBroker) DeleteRecords(_ context.Context, key model.PartitionKey, _ model.Offset) (model.Offset, error) {
	f.touch(key)
	return 5, nil
}

func (f *fakeBroker) Producers(_ context.Context, key model.PartitionKey) ([]partition.ProducerInfo, error) {
	f.touch(key)
	return []partition.ProducerInfo{{ID: 7, Epoch: 1, LastSequence: 3, LastTimestamp: 1}}, nil
}

func (f *fakeBroker) ElectPreferred(_ context.Context, keys []model.PartitionKey) []error {
	return make([]error, len(keys))
}
func (f *fakeBroker) Live(id model.NodeID) bool                        { return !f.down[id] }
func (f *fakeBroker) PartitionBytes(model.PartitionKey) (int64, error) { return 0, nil }

func (f *fakeBroker) touch(key model.PartitionKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.touched = append(f.touched, key)
}

// The fake cluster: this node is broker 1 (advertised as
// self.example:9092; registered at another address, which clients must
// not be told); broker 2 in rack r2; broker 3. Topic "t" (id fakeTopicID),
// replication factor 2:
//
//	p0 replicas [2 1]  a follower here; leader 2, epoch 5, ISR [2 1]
//	p1 replicas [3 2]  not hosted here; leader 3, epoch 7, ISR [3]
//	p2 replicas [1 3]  led here, epoch 4, ISR [1 3]
//	p3 replicas [1 2]  a replica here with no known leader
//
// __consumer_offsets has 3 partitions led by 1 (here), 2 and none. The
// controller is broker 2.
var (
	fakeTopicID   = model.TopicID{0: 0xab, 15: 1}
	fakeOffsetsID = model.TopicID{0: 0xab, 15: 2}
)

func fakeKey(p int) model.PartitionKey {
	return model.PartitionKey{Topic: fakeTopicID, Partition: model.PartitionID(p)}
}

func newFakeCluster(t *testing.T) *fakeBroker {
	t.Helper()
	s := cluster.NewState()
	for i, c := range []cluster.Command{
		&cluster.RegisterBroker{NodeID: 1, KafkaAddr: "10.0.0.1:9092", RPCAddr: "10.0.0.1:33145"},
		&cluster.RegisterBroker{NodeID: 2, KafkaAddr: "b2.example:9093", RPCAddr: "b2.example:33145", Rack: "r2"},
		&cluster.RegisterBroker{NodeID: 3, KafkaAddr: "b3.example:9094", RPCAddr: "b3.example:33145"},
		&cluster.CreateTopic{Name: "t", ID: fakeTopicID, Partitions: 4, ReplicationFactor: 2,
			Assignment: [][]model.NodeID{{2, 1}, {3, 2}, {1, 3}, {1, 2}}},
		&cluster.CreateTopic{Name: "__consumer_offsets", ID: fakeOffsetsID, Partitions: 3, ReplicationFactor: 2,
			Assignment: [][]model.NodeID{{1, 2}, {2, 3}, {3, 1}}},
	} {
		if _, err := s.Apply(model.Index(i+1), c); err != nil {
			t.Fatal(err)
		}
	}
	return &fakeBroker{
		id: 1, host: "self.example", port: 9092, tables: s.Tables(), controller: 2,
		states: map[model.PartitionKey]*partition.ReadState{
			fakeKey(0): {Leader: false, LeaderID: 2, LeaderEpoch: 5, HighWatermark: 10, LogEnd: 10},
			fakeKey(2): {Leader: true, LeaderID: 1, LeaderEpoch: 4, HighWatermark: 10, LogEnd: 10, ISR: []model.NodeID{1, 3}},
			fakeKey(3): {Leader: false, LeaderID: -1, LeaderEpoch: 2},
		},
		leaders: map[model.PartitionKey]Leadership{
			fakeKey(0):                           {Leader: 2, Epoch: 5, ISR: []model.NodeID{2, 1}},
			fakeKey(1):                           {Leader: 3, Epoch: 7, ISR: []model.NodeID{3}},
			fakeKey(2):                           {Leader: 1, Epoch: 4, ISR: []model.NodeID{1, 3}},
			fakeKey(3):                           {Leader: -1, Epoch: -1},
			{Topic: fakeOffsetsID, Partition: 0}: {Leader: 1, Epoch: 1},
			{Topic: fakeOffsetsID, Partition: 1}: {Leader: 2, Epoch: 1},
		},
	}
}

// call runs api's handler on req as the wire would deliver it (encoded
// and decoded at its version) and returns the response as the client
// decodes it.
func call[T kmsg.Response](t *testing.T, api API, req kmsg.Request) T {
	t.Helper()
	wire := req.ResponseKind().RequestKind()
	wire.SetVersion(req.GetVersion())
	if err := wire.ReadFrom(req.AppendTo(nil)); err != nil {
		t.Fatalf("key %d v%d: request round trip: %v", req.Key(), req.GetVersion(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := api.Handle(ctx, &Request{Key: req.Key(), Version: req.GetVersion(), Msg: wire, Received: time.Now()})
	if err != nil || resp == nil {
		t.Fatalf("key %d v%d: handler: %v, %v", req.Key(), req.GetVersion(), resp, err)
	}
	out := req.ResponseKind()
	out.SetVersion(req.GetVersion())
	if err := out.ReadFrom(resp.AppendTo(nil)); err != nil {
		t.Fatalf("key %d v%d: response round trip: %v", req.Key(), req.GetVersion(), err)
	}
	return out.(T)
}

// validBatch is a batch as a client sends it: a v2 header, one record
// (no key, an empty value), its length and CRC-32C filled in.
func validBatch() []byte {
	b := make([]byte, 61, 70)
	b[16] = 2 // magic
	binary.BigEndian.PutUint32(b[57:], 1)
	rec := []byte{0, 0, 0, 1, 0, 0} // attrs, ts delta, offset delta, key -1, value 0, headers 0
	b = binary.AppendVarint(b, int64(len(rec)))
	b = append(b, rec...)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}
