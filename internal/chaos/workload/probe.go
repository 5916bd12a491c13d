package workload

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/chaos/history"
)

// Probe pacing: one direct produce per node every ProbeEvery; the broker
// waits at most probeTimeout for the commit, the client twice as long.
const (
	ProbeEvery   = 100 * time.Millisecond
	probeTimeout = 1500 * time.Millisecond
)

// prober is one history process sending one-record acks=all produces
// straight to one node (kgo's Broker handle, not routed by metadata), one
// after the other, to the chaos partitions in turn: a client that still
// believes the node leads. Its sends carry Node, so the minority-ack check
// knows who answered: a node cut off from the majority must acknowledge
// none of those sent after the cut.
type prober struct {
	w    *Workload
	proc int
	node int32
}

func (pb *prober) run(ctx context.Context) {
	cfg := pb.w.cfg
	cl, err := kgo.NewClient(pb.w.baseOpts()...)
	if err != nil {
		cfg.Logger.Error("probe client", "node", pb.node, "err", err)
		return
	}
	defer cl.Close()
	var id [16]byte
	for i := 0; i < 1000 && ctx.Err() == nil; i++ { // the topic id: produce v13 names topics by id
		mctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		md, err := kadm.NewClient(cl).Metadata(mctx, Topic)
		cancel()
		if t, ok := md.Topics[Topic]; err == nil && ok && t.Err == nil {
			id = t.ID
			break
		}
		waitFor(ctx, 200*time.Millisecond)
	}
	tick := time.NewTicker(ProbeEvery)
	defer tick.Stop()
	name := fmt.Sprintf("n%d.probe", pb.node)
	for seq := 0; seq < 10_000_000 && ctx.Err() == nil; seq++ {
		part := int32(seq) % cfg.Partitions
		v := fmt.Sprintf("%s-%d", name, seq)
		node := pb.node
		inv := cfg.Rec.Invoke(history.Op{Process: pb.proc, Type: history.Send, Topic: Topic, Partition: part,
			Value: v, Producer: name, Node: &node})
		// Not ctx: a probe under way is never cancelled, only timed out.
		off, err := ProduceTo(context.WithoutCancel(ctx), cl, pb.node, Topic, id, part, v+":")
		switch {
		case err == nil:
			cfg.Rec.Complete(inv, history.OK, func(o *history.Op) { o.Offset = off })
		case definite(err):
			cfg.Rec.Complete(inv, history.Fail, func(o *history.Op) { o.Err = err.Error() })
		default:
			cfg.Rec.Complete(inv, history.Info, func(o *history.Op) { o.Err = err.Error() })
		}
		waitTick(ctx, tick)
	}
}

// ProduceTo sends one record with value v to node for topic/p (named
// also by its id: produce v13 names topics by id), acks=all, and returns
// its offset, or the partition's error code, or the request's error. It
// is not routed: the node answers whether or not it leads.
func ProduceTo(ctx context.Context, cl *kgo.Client, node int32, topic string, id [16]byte, p int32, v string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*probeTimeout)
	defer cancel()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, int32(probeTimeout/time.Millisecond)
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = p, OneRecordBatch(v)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl.Broker(int(node)))
	if err != nil {
		return -1, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return -1, errors.New("produce response without the one partition asked")
	}
	pr := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(pr.ErrorCode); err != nil {
		return -1, err
	}
	return pr.BaseOffset, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// OneRecordBatch is a v2 record batch (no producer id) holding one record
// with value v, its length and CRC-32C set.
func OneRecordBatch(v string) []byte {
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

// waitFor waits d or until ctx ends (retry pacing).
func waitFor(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
