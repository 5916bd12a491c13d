package bench

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/kafka"
	"github.com/petrel-streaming/petrel/internal/model"
)

const (
	// maxValueBytes bounds the value size of synthetic records.
	maxValueBytes = 1 << 20
	// syntheticBatchBytes is the target size of a full synthetic batch.
	syntheticBatchBytes = 256 << 10
	// templateCacheMax bounds the full synthetic batches kept (one per
	// value size seen).
	templateCacheMax = 8
	// fetchResponseMaxBytes caps a fetch response below the client's
	// MaxBytes (50 MiB in franz-go): internal/kafka encodes a response by
	// appending to a buffer it does not keep past 64 KiB, so a large
	// response costs copies that grow with its size (measured: 12 MiB
	// responses halved the null broker's consume rate).
	fetchResponseMaxBytes = 4 << 20
	// fetchWaitMax caps a fetch's long poll on the null broker.
	fetchWaitMax = 500 * time.Millisecond
)

// produce acknowledges every well-formed batch at once: the partition's
// next offsets are taken, the bytes dropped.
func (b *NullBroker) produce(_ context.Context, r *kafka.Request) (kmsg.Response, error) {
	req := r.Msg.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition, rp.LogAppendTime = p.Partition, -1
			part := b.partition(t.Topic, p.Partition)
			records, valueBytes, ok := countRecords(p.Records)
			switch {
			case part == nil:
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case !ok:
				rp.ErrorCode = kerr.CorruptMessage.Code
			default:
				rp.BaseOffset = part.hwm.Add(records) - records
				if valueBytes >= 0 {
					part.valueBytes.Store(valueBytes)
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	b.wake.notify()
	if req.Acks == 0 {
		return nil, nil
	}
	return resp, nil
}

// countRecords counts the records of the batches in records and reads the
// value size of the first record of the first batch when it is not
// compressed (-1 otherwise). ok is false when the bytes are not whole v2
// batches.
func countRecords(records []byte) (n int64, valueBytes int32, ok bool) {
	valueBytes = -1
	if len(records) == 0 {
		return 0, -1, false
	}
	for first := true; len(records) > 0; first = false {
		batch, rest, err := model.ParseBatch(records)
		if err != nil || batch.RecordCount() < 1 {
			return 0, -1, false
		}
		if first && batch.Codec() == 0 {
			valueBytes = firstValueBytes(batch[model.BatchHeaderSize:])
		}
		n += int64(batch.RecordCount())
		records = rest
	}
	return n, valueBytes, true
}

// firstValueBytes reads the value length of the first record of an
// uncompressed records section: length, attributes, timestamp delta,
// offset delta, key, value length (all varints but attributes).
func firstValueBytes(recs []byte) int32 {
	next := func() (int64, bool) {
		v, n := binary.Varint(recs)
		if n <= 0 {
			return 0, false
		}
		recs = recs[n:]
		return v, true
	}
	if _, ok := next(); !ok || len(recs) < 1 { // length
		return -1
	}
	recs = recs[1:] // attributes
	for range 2 {   // timestamp delta, offset delta
		if _, ok := next(); !ok {
			return -1
		}
	}
	key, ok := next()
	if !ok || key > int64(len(recs)) {
		return -1
	}
	if key > 0 {
		recs = recs[key:]
	}
	value, ok := next()
	if !ok || value < 0 || value > maxValueBytes {
		return -1
	}
	return int32(value)
}

// fetch serves, from each partition's fetch offset up to its high
// watermark, synthetic batches of records of the partition's value size.
// With nothing to serve it waits for a produce, up to MaxWaitMillis
// (capped at fetchWaitMax), once.
func (b *NullBroker) fetch(ctx context.Context, r *kafka.Request) (kmsg.Response, error) {
	req := r.Msg.(*kmsg.FetchRequest)
	wake := b.wake.wait()
	resp, served := b.fill(req)
	if served > 0 || req.MaxWaitMillis <= 0 {
		return resp, nil
	}
	t := time.NewTimer(min(time.Duration(req.MaxWaitMillis)*time.Millisecond, fetchWaitMax))
	defer t.Stop()
	select {
	case <-wake:
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	resp, _ = b.fill(req)
	return resp, nil
}

// fill builds a fetch response; served is the record bytes in it.
func (b *NullBroker) fill(req *kmsg.FetchRequest) (resp *kmsg.FetchResponse, served int) {
	resp = req.ResponseKind().(*kmsg.FetchResponse)
	maxBytes := min(int(req.MaxBytes), fetchResponseMaxBytes)
	if maxBytes <= 0 {
		maxBytes = 1 << 20
	}
	for _, t := range req.Topics {
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition = p.Partition
			part := b.partition(t.Topic, p.Partition)
			if part == nil {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			hwm := part.hwm.Load()
			rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = hwm, hwm, 0
			switch {
			case p.FetchOffset < 0 || p.FetchOffset > hwm:
				rp.ErrorCode = kerr.OffsetOutOfRange.Code
			case served < maxBytes:
				valueBytes := part.valueBytes.Load()
				if valueBytes <= 0 {
					valueBytes = b.defaultValueBytes
				}
				limit := min(int(p.PartitionMaxBytes), maxBytes-served)
				rp.RecordBatches = b.templates.serve(nil, valueBytes, p.FetchOffset, hwm, limit)
				served += len(rp.RecordBatches)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, served
}

// templateCache keeps one full synthetic batch per value size. Any
// goroutine.
type templateCache struct {
	mu    sync.Mutex
	batch map[int32][]byte
}

// serve appends to dst synthetic batches for offsets [from, hwm) of
// valueBytes records, at least one batch and then up to limit bytes.
func (c *templateCache) serve(dst []byte, valueBytes int32, from, hwm int64, limit int) []byte {
	full := c.full(valueBytes)
	perBatch := int64(model.Batch(full).RecordCount())
	start := len(dst)
	for off := from; off < hwm && (len(dst) == start || len(dst)-start+len(full) <= limit); {
		n := min(perBatch, hwm-off)
		at := len(dst)
		if n == perBatch {
			dst = append(dst, full...)
		} else {
			dst = appendSyntheticBatch(dst, valueBytes, int32(n))
		}
		model.Batch(dst[at:]).SetBaseOffset(model.Offset(off))
		off += n
	}
	return dst
}

func (c *templateCache) full(valueBytes int32) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.batch[valueBytes]; ok {
		return b
	}
	if c.batch == nil || len(c.batch) >= templateCacheMax {
		c.batch = map[int32][]byte{}
	}
	n := max(1, syntheticBatchBytes/(int(valueBytes)+8))
	b := appendSyntheticBatch(nil, valueBytes, int32(n))
	c.batch[valueBytes] = b
	return b
}

// appendSyntheticBatch appends a v2 batch of n records with no key and a
// zero value of valueBytes each, base offset 0.
func appendSyntheticBatch(dst []byte, valueBytes, n int32) []byte {
	value := make([]byte, valueBytes)
	var recs []byte
	for i := range n {
		var body []byte
		body = append(body, 0)                     // attributes
		body = binary.AppendVarint(body, 0)        // timestamp delta
		body = binary.AppendVarint(body, int64(i)) // offset delta
		body = binary.AppendVarint(body, -1)       // key: null
		body = binary.AppendVarint(body, int64(len(value)))
		body = append(body, value...)
		body = binary.AppendVarint(body, 0) // headers
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	return model.AppendBatch(dst, model.BatchFields{
		LastOffsetDelta: n - 1,
		ProducerID:      -1,
		ProducerEpoch:   -1,
		BaseSequence:    -1,
		RecordCount:     n,
	}, recs)
}
