package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/group"
	"github.com/petrel-streaming/petrel/internal/kafka"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
)

// offsetsTopic holds group state and offsets, in Kafka's format.
const offsetsTopic = "__consumer_offsets"

// offsetsPartitions is the partition count of __consumer_offsets when this
// node creates it (Kafka's offsets.topic.num.partitions is 50; a partition
// here is a Raft group and a coordinator goroutine, and idle ones cost
// nothing, but one node needs fewer).
const offsetsPartitions = 16

// errNoCoordinator: the coordinators are not loaded (yet, or any more).
var errNoCoordinator = errors.New("node: group coordinator not available")

// groups hosts one group.Service per partition of __consumer_offsets,
// each persisting its records as ordinary batches of its partition.
type groups struct {
	n        *Node
	topic    *cluster.Topic
	services []*group.Service
	loaded   atomic.Bool
}

func newGroups(n *Node) *groups { return &groups{n: n} }

func (g *groups) register(reg *kafka.Registry) error { return kafka.RegisterGroups(reg, g.n, g) }

// start creates __consumer_offsets if needed, replays each partition into
// its coordinator and starts them.
func (g *groups) start(ctx context.Context) error {
	n := g.n
	if err := n.waitFounders(ctx); err != nil {
		return err
	}
	tp, ok := n.Tables().TopicByName(offsetsTopic)
	if !ok {
		cmd, err := n.Tables().PlanCreateTopic(cluster.TopicRequest{Name: offsetsTopic, Partitions: offsetsPartitions,
			ReplicationFactor: -1, Configs: map[string]string{}}, kafka.NewTopicID(), n.Defaults())
		if err != nil {
			return fmt.Errorf("node: plan %s: %w", offsetsTopic, err)
		}
		if err := n.CreateTopic(ctx, cmd); err != nil && !errors.Is(err, cluster.ErrTopicExists) {
			return fmt.Errorf("node: create %s: %w", offsetsTopic, err)
		}
		if tp, ok = n.Tables().TopicByName(offsetsTopic); !ok {
			return fmt.Errorf("node: %s missing after create", offsetsTopic)
		}
	}
	if err := n.waitServing(ctx, tp.ID); err != nil {
		return err
	}
	g.topic = tp
	cfg := group.DefaultConfig()
	switch d := n.cfg.GroupInitialRebalanceDelay; {
	case d < 0:
		cfg.InitialRebalanceDelay = 0
	case d > 0:
		cfg.InitialRebalanceDelay = d
	}
	for _, p := range tp.Partitions {
		key := model.PartitionKey{Topic: tp.ID, Partition: p.ID}
		svc, err := group.NewService(cfg, offsetsLog{n: n, key: key}, n.log.With("coordinator", int32(p.ID)), time.Now)
		if err != nil {
			return err
		}
		if err := svc.Load(g.replay(key)); err != nil {
			return fmt.Errorf("node: load groups of partition %d: %w", p.ID, err)
		}
		svc.Start()
		g.services = append(g.services, svc)
	}
	g.loaded.Store(true)
	return nil
}

// replay yields the committed records of an offsets partition.
func (g *groups) replay(key model.PartitionKey) iter.Seq2[group.Record, error] {
	return func(yield func(group.Record, error) bool) {
		rs := g.n.ReadState(key)
		if rs == nil {
			yield(group.Record{}, fmt.Errorf("partition %s not open", key))
			return
		}
		for from := rs.LogStart; from < rs.HighWatermark; {
			data, err := rs.View.ReadBatches(from, 1<<20, rs.HighWatermark, nil)
			if err == nil && len(data) == 0 {
				err = fmt.Errorf("no batch at offset %d below %d: %w", from, rs.HighWatermark, model.ErrCorrupt)
			}
			if err != nil {
				yield(group.Record{}, err)
				return
			}
			for len(data) > 0 {
				b, rest, err := model.ParseBatch(data)
				if err != nil {
					yield(group.Record{}, err)
					return
				}
				if err := eachRecord(b, func(k, v []byte) bool { return yield(group.Record{Key: k, Value: v}, nil) }); err != nil {
					if !errors.Is(err, errStop) {
						yield(group.Record{}, err)
					}
					return
				}
				from = b.LastOffset() + 1
				data = rest
			}
		}
	}
}

// Partitions implements kafka.Groups.
func (g *groups) Partitions() int {
	if !g.loaded.Load() {
		return 1
	}
	return len(g.services)
}

// Do implements kafka.Groups.
func (g *groups) Do(ctx context.Context, p int32, c group.Client, req kmsg.Request) (kmsg.Response, error) {
	if !g.loaded.Load() || int(p) >= len(g.services) {
		return notCoordinator(req), nil
	}
	resp, err := g.services[p].Do(ctx, c, req)
	if errors.Is(err, group.ErrLogFailed) || errors.Is(err, group.ErrClosed) {
		return notCoordinator(req), nil
	}
	return resp, err
}

// notCoordinator answers a group request with NOT_COORDINATOR, so the
// client looks the coordinator up again and retries.
func notCoordinator(req kmsg.Request) kmsg.Response {
	resp := req.ResponseKind()
	code := kerr.NotCoordinator.Code
	switch r := resp.(type) {
	case *kmsg.JoinGroupResponse:
		r.ErrorCode = code
	case *kmsg.SyncGroupResponse:
		r.ErrorCode = code
	case *kmsg.HeartbeatResponse:
		r.ErrorCode = code
	case *kmsg.LeaveGroupResponse:
		r.ErrorCode = code
	case *kmsg.OffsetFetchResponse:
		r.ErrorCode = code
		// v8+ answers per group; the top-level code is not read there.
		for _, g := range req.(*kmsg.OffsetFetchRequest).Groups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, code
			r.Groups = append(r.Groups, rg)
		}
	case *kmsg.ListGroupsResponse:
		r.ErrorCode = code
	case *kmsg.OffsetDeleteResponse:
		r.ErrorCode = code
	case *kmsg.OffsetCommitResponse:
		for _, t := range req.(*kmsg.OffsetCommitRequest).Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			r.Topics = append(r.Topics, rt)
		}
	case *kmsg.DescribeGroupsResponse:
		for _, id := range req.(*kmsg.DescribeGroupsRequest).Groups {
			d := kmsg.NewDescribeGroupsResponseGroup()
			d.Group, d.ErrorCode = id, code
			r.Groups = append(r.Groups, d)
		}
	case *kmsg.DeleteGroupsResponse:
		for _, id := range req.(*kmsg.DeleteGroupsRequest).Groups {
			d := kmsg.NewDeleteGroupsResponseGroup()
			d.Group, d.ErrorCode = id, code
			r.Groups = append(r.Groups, d)
		}
	}
	return resp
}

func (g *groups) close(ctx context.Context) {
	g.loaded.Store(false)
	for _, s := range g.services {
		_ = s.Close(ctx)
	}
}

// offsetsLog is a coordinator's log: its records become one uncompressed
// batch on its partition, acknowledged once committed.
type offsetsLog struct {
	n   *Node
	key model.PartitionKey
}

func (l offsetsLog) Append(ctx context.Context, recs []group.Record) error {
	if len(recs) == 0 {
		return nil
	}
	batch := encodeRecords(recs, time.Now().UnixMilli())
	done := make(chan partition.ProduceResult, 1)
	l.n.Produce(ctx, []kafka.ProduceBatch{{Key: l.key, Batch: batch, ProducerID: -1, Count: int32(len(recs))}},
		func(_ int, r partition.ProduceResult) { done <- r })
	select {
	case r := <-done:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// encodeRecords builds a v2 batch of key/value records (nil value: a
// tombstone), uncompressed, no headers.
func encodeRecords(recs []group.Record, nowMs int64) []byte {
	var body, rec []byte
	for i, r := range recs {
		rec = rec[:0]
		rec = append(rec, 0)                     // attributes
		rec = binary.AppendVarint(rec, 0)        // timestamp delta
		rec = binary.AppendVarint(rec, int64(i)) // offset delta
		rec = appendVarBytes(rec, r.Key)
		rec = appendVarBytes(rec, r.Value)
		rec = binary.AppendVarint(rec, 0) // headers
		body = binary.AppendVarint(body, int64(len(rec)))
		body = append(body, rec...)
	}
	return model.AppendBatch(nil, model.BatchFields{
		LastOffsetDelta: int32(len(recs) - 1), BaseTimestamp: nowMs, MaxTimestamp: nowMs,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, RecordCount: int32(len(recs)),
	}, body)
}

func appendVarBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	return append(binary.AppendVarint(dst, int64(len(b))), b...)
}

var errStop = errors.New("stop")

// eachRecord walks the records of an uncompressed batch written by
// encodeRecords (or any uncompressed v2 batch), calling fn with each key
// and value; fn returning false stops the walk with errStop.
func eachRecord(b model.Batch, fn func(k, v []byte) bool) error {
	if b.Codec() != 0 {
		return fmt.Errorf("offsets batch at %d is compressed: %w", b.BaseOffset(), model.ErrCorrupt)
	}
	data := b[model.BatchHeaderSize:]
	bad := fmt.Errorf("offsets batch at %d: bad record: %w", b.BaseOffset(), model.ErrCorrupt)
	for i := int32(0); i < b.RecordCount(); i++ {
		l, n := binary.Varint(data)
		if n <= 0 || l < 0 || int64(len(data)-n) < l {
			return bad
		}
		rec := data[n : n+int(l)]
		data = data[n+int(l):]
		if len(rec) < 1 {
			return bad
		}
		rec = rec[1:]
		for j := 0; j < 2; j++ { // timestamp and offset deltas
			if _, n := binary.Varint(rec); n <= 0 {
				return bad
			} else {
				rec = rec[n:]
			}
		}
		var kv [2][]byte
		for j := range kv {
			l, n := binary.Varint(rec)
			if n <= 0 || l < -1 || int64(len(rec)-n) < l {
				return bad
			}
			rec = rec[n:]
			if l >= 0 {
				kv[j] = rec[:l]
				rec = rec[l:]
			}
		}
		if !fn(kv[0], kv[1]) {
			return errStop
		}
	}
	return nil
}
