package cluster_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// probeOutcome is one direct produce to one node.
type probeOutcome struct {
	p                 int32
	v                 string
	invoked, answered time.Time
	off               int64 // valid when err is nil
	err               error // the partition's error code, or the request's error
}

// prober sends one-record acks=all produces straight to one node (not
// routed by metadata: kgo's Broker handle), one after the other, for the
// partitions given in turn, and keeps every outcome. It models a client
// that still believes the node leads: the minority side of a partition
// must never acknowledge such a produce once cut off. Bounded: at most
// maxProbes sends.
type prober struct {
	mu   sync.Mutex
	outs []probeOutcome

	cancel context.CancelFunc
	done   chan struct{}
}

const (
	probeEvery   = 100 * time.Millisecond
	probeTimeout = 1500 * time.Millisecond // the request's timeout; the client waits twice as long
	maxProbes    = 2000
)

func startProber(ctx context.Context, cl *kgo.Client, node int32, topic string, id [16]byte, parts []int32, tag string) *prober {
	ctx, cancel := context.WithCancel(ctx)
	pb := &prober{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(pb.done)
		tk := time.NewTicker(probeEvery)
		defer tk.Stop()
		for i := 0; i < maxProbes; i++ {
			p := parts[i%len(parts)]
			o := probeOutcome{p: p, v: fmt.Sprintf("probe-%s-%d", tag, i), invoked: time.Now()}
			o.off, o.err = produceTo(ctx, cl, node, topic, id, p, o.v)
			o.answered = time.Now()
			if ctx.Err() != nil {
				return // stopped: this outcome says nothing
			}
			pb.mu.Lock()
			pb.outs = append(pb.outs, o)
			pb.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
		}
	}()
	return pb
}

// stop ends the probes and returns every outcome.
func (pb *prober) stop() []probeOutcome {
	pb.cancel()
	<-pb.done
	pb.mu.Lock()
	defer pb.mu.Unlock()
	return pb.outs
}

// produceTo sends one record to node for topic/p and returns its offset
// or the partition's error. The topic goes by name and by id (v13 names
// topics by id).
func produceTo(ctx context.Context, cl *kgo.Client, node int32, topic string, id [16]byte, p int32, v string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*probeTimeout)
	defer cancel()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, int32(probeTimeout/time.Millisecond)
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = p, oneRecordBatch(v)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl.Broker(int(node)))
	if err != nil {
		return -1, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return -1, fmt.Errorf("produce response with %d topics", len(resp.Topics))
	}
	pr := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(pr.ErrorCode); err != nil {
		return -1, err
	}
	return pr.BaseOffset, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// oneRecordBatch is a v2 record batch (no producer id) holding one record
// with value v, its length and CRC-32C set.
func oneRecordBatch(v string) []byte {
	body := []byte{0}                  // attributes
	body = kbin.AppendVarlong(body, 0) // timestamp delta
	body = kbin.AppendVarint(body, 0)  // offset delta
	body = kbin.AppendVarint(body, -1) // null key
	body = kbin.AppendVarintBytes(body, []byte(v))
	body = kbin.AppendVarint(body, 0) // headers
	recs := kbin.AppendVarint(nil, int32(len(body)))
	recs = append(recs, body...)
	now := time.Now().UnixMilli()
	rb := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1, Records: recs}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))                   // batch length: after the length field
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli)) // CRC-32C from attributes on
	return b
}
