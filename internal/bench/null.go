package bench

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/kafka"
)

// NullBroker is a one-node Kafka broker that acknowledges produces without
// storing them and serves fetches from synthetic batches: the client's
// ceiling against which the bench reports Petrel and kfake. It is built on
// Petrel's wire edge (internal/kafka) so connection handling and decoding
// cost what they cost in Petrel; what it leaves out is the partition, the
// log and the disk.
//
// Per partition it keeps only the next offset (the high watermark) and the
// value size of the last record batch it saw, so a consumer reading back
// what was produced gets the same number of records of the same size. Any
// goroutine; state is a topic map under a mutex and atomics per partition.
type NullBroker struct {
	srv  *kafka.Server
	ln   net.Listener
	log  *slog.Logger
	host string
	port int32

	defaultValueBytes int32

	mu     sync.RWMutex
	topics map[string]*nullTopic

	wake        notifier
	producerIDs atomic.Int64
	templates   templateCache
}

type nullTopic struct {
	id    [16]byte
	parts []nullPartition
}

type nullPartition struct {
	hwm        atomic.Int64
	valueBytes atomic.Int32 // of the last uncompressed batch produced; 0: never seen
}

// nullNodeID is the broker's node id in Metadata.
const nullNodeID = 0

// NewNullBroker returns a null broker that will serve on ln (Serve).
// defaultValueBytes is the value size of fetched records for partitions
// that have not been produced to uncompressed.
func NewNullBroker(ln net.Listener, defaultValueBytes int, logger *slog.Logger) (*NullBroker, error) {
	host, portStr, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, err
	}
	if defaultValueBytes < 0 || defaultValueBytes > maxValueBytes {
		return nil, fmt.Errorf("bench: null broker value size %d outside [0, %d]", defaultValueBytes, maxValueBytes)
	}
	b := &NullBroker{
		ln: ln, log: logger, host: host, port: int32(port),
		defaultValueBytes: int32(defaultValueBytes),
		topics:            map[string]*nullTopic{},
	}
	reg := kafka.NewRegistry()
	for _, a := range []kafka.API{
		{Key: 0, MinVersion: 3, MaxVersion: 12, MaxBodyBytes: 1<<31 - 1, Handle: b.produce,
			// ProduceCheck bounds decoded Produce bodies at 2× their size
			// (internal/kafka 00_produce_check.go: produceAmplification).
			Check: kafka.ProduceCheck, Amplification: 2},
		{Key: 1, MinVersion: 4, MaxVersion: 12, Handle: b.fetch},
		{Key: 2, MinVersion: 1, MaxVersion: 8, Handle: b.listOffsets},
		{Key: 3, MinVersion: 1, MaxVersion: 12, Handle: b.metadata},
		{Key: 19, MinVersion: 2, MaxVersion: 7, Handle: b.createTopics},
		{Key: 22, MinVersion: 0, MaxVersion: 5, Handle: b.initProducerID},
	} {
		if err := reg.Register(a); err != nil {
			return nil, err
		}
	}
	if b.srv, err = kafka.NewServer(kafka.Config{}, reg, logger); err != nil {
		return nil, err
	}
	return b, nil
}

// Serve serves until Close; it returns nil after Close.
func (b *NullBroker) Serve() error {
	if err := b.srv.Serve(b.ln); !errors.Is(err, kafka.ErrServerClosed) {
		return err
	}
	return nil
}

// Addr is the listener's address.
func (b *NullBroker) Addr() string { return b.ln.Addr().String() }

// Close stops the broker, bounded by ctx.
func (b *NullBroker) Close(ctx context.Context) error { return b.srv.Close(ctx) }

// partition returns the partition of topic, or nil.
func (b *NullBroker) partition(topic string, p int32) *nullPartition {
	b.mu.RLock()
	t := b.topics[topic]
	b.mu.RUnlock()
	if t == nil || p < 0 || int(p) >= len(t.parts) {
		return nil
	}
	return &t.parts[p]
}

func (b *NullBroker) metadata(_ context.Context, r *kafka.Request) (kmsg.Response, error) {
	req := r.Msg.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	br := kmsg.NewMetadataResponseBroker()
	br.NodeID, br.Host, br.Port = nullNodeID, b.host, b.port
	resp.Brokers = []kmsg.MetadataResponseBroker{br}
	resp.ClusterID = kmsg.StringPtr("petrel-bench-null")
	resp.ControllerID = nullNodeID
	b.mu.RLock()
	defer b.mu.RUnlock()
	var names []string
	if req.Topics == nil {
		for name := range b.topics {
			names = append(names, name)
		}
	}
	for _, t := range req.Topics {
		if t.Topic != nil {
			names = append(names, *t.Topic)
		}
	}
	for _, name := range names {
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic = kmsg.StringPtr(name)
		t := b.topics[name]
		if t == nil {
			rt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		rt.TopicID = t.id
		for p := range t.parts {
			rp := kmsg.NewMetadataResponseTopicPartition()
			rp.Partition, rp.Leader = int32(p), nullNodeID
			rp.Replicas, rp.ISR = []int32{nullNodeID}, []int32{nullNodeID}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

// maxNullPartitions bounds a topic of the null broker.
const maxNullPartitions = 100_000

func (b *NullBroker) createTopics(_ context.Context, r *kafka.Request) (kmsg.Response, error) {
	req := r.Msg.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, t := range req.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = t.Topic
		n := t.NumPartitions
		if n == -1 {
			n = 1
		}
		switch {
		case b.topics[t.Topic] != nil:
			rt.ErrorCode = kerr.TopicAlreadyExists.Code
		case t.Topic == "" || n < 1 || n > maxNullPartitions:
			rt.ErrorCode = kerr.InvalidPartitions.Code
		default:
			id := sha256.Sum256([]byte(t.Topic))
			rt.TopicID = [16]byte(id[:16])
			rt.NumPartitions, rt.ReplicationFactor = n, 1
			if !req.ValidateOnly {
				b.topics[t.Topic] = &nullTopic{id: rt.TopicID, parts: make([]nullPartition, n)}
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

func (b *NullBroker) initProducerID(_ context.Context, r *kafka.Request) (kmsg.Response, error) {
	req := r.Msg.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID = b.producerIDs.Add(1)
	return resp, nil
}

func (b *NullBroker) listOffsets(_ context.Context, r *kafka.Request) (kmsg.Response, error) {
	req := r.Msg.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewListOffsetsResponseTopicPartition()
			rp.Partition, rp.Timestamp = p.Partition, -1
			switch part := b.partition(t.Topic, p.Partition); {
			case part == nil:
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case p.Timestamp == -1 || p.Timestamp == -3: // latest, max timestamp
				rp.Offset = part.hwm.Load()
			default: // earliest, or a time: everything is at offset 0 onwards
				rp.Offset = 0
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

// notifier wakes fetches waiting for data when a produce lands.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed by the next notify.
func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) notify() {
	n.mu.Lock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
	n.mu.Unlock()
}
