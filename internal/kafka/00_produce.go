package kafka

// Produce (key 0): v0–v13, storing record batch v2 (magic 2) only.
//
// v0–v2 are advertised although their clients send the legacy message
// format (magic 0/1), which Petrel does not store (such a partition gets
// UNSUPPORTED_FOR_MESSAGE_FORMAT): librdkafka up to 2.11 enables gzip,
// snappy and lz4 only when the broker's Produce range includes v0
// (rdkafka_msgset_writer.c asks for Produce in [0, 0]), so with a range
// starting at v3 kcat and confluent-kafka silently send those codecs
// uncompressed. Clients with record batch v2 use v3+.
//
// Behaviour:
//   - The body is walked before it is decoded (ProduceCheck): a frame that
//     would decode to more than twice its size is refused (connection
//     closed), so a crafted 100 MiB request cannot cost gigabytes.
//   - acks must be -1, 0 or 1 (else INVALID_REQUIRED_ACKS); acks=1 is
//     served as acks=all: a batch is acknowledged once committed, which on
//     one node means durable (DESIGN: only safe settings). acks=0 gets no
//     response, but its batches are still validated and stored; when a
//     partition is refused (not led here, unknown, invalid records) the
//     valid ones are stored and the connection is closed
//     (ErrAcksZeroRefused), as Kafka does, so the client refreshes its
//     metadata.
//   - The batches of the Produce requests a connection pipelines reach
//     their partitions in the order they were sent (Request.InOrder), so a
//     producer with several requests in flight keeps its order; validation
//     and the wait for acks still overlap.
//   - Every partition's records are validated on this goroutine
//     (records.Validate: exactly one v2 batch, CRC-32C, counts, every
//     codec decompressed with a cap, max.message.bytes), then the batches
//     of all partitions go to their shards at once; the response waits
//     for all of them, bounded by the request's timeout
//     (REQUEST_TIMED_OUT for what did not commit in time).
//   - LogAppendTime topics: the broker's time is stamped into the batch
//     (timestamp type, max timestamp, CRC recomputed) and returned.
//   - Transactional produce is not supported yet: INVALID_REQUEST with a
//     message saying so.
//   - A partition this node does not lead (a follower replica, or not
//     hosted here) is NOT_LEADER_OR_FOLLOWER before its records are
//     validated, as Kafka answers; v10+ adds the leader hint (KIP-951,
//     leaders.go): CurrentLeader and the leader's endpoint in Brokers.
//   - v13 names topics by id (UNKNOWN_TOPIC_ID when unknown).

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
	"github.com/petrel-streaming/petrel/internal/records"
	"github.com/petrel-streaming/petrel/internal/shard"
)

// Decompression bounds: a batch may decompress to at most
// uncompressedFactor × max.message.bytes (Kafka streams and has no such
// bound; Petrel validates in memory), and the node's validations in
// flight may hold at most decompressBudgetBytes of such worst cases: a
// compressed batch is charged twice its cap (the output buffer grows by
// doubling, so a bomb's garbage adds up to about twice what it keeps)
// before it is decompressed, so a flood of zip bombs waits (backpressure)
// instead of exhausting memory: at most four decompress at once at the
// default 16 MiB cap. Validation takes microseconds to a few milliseconds
// a batch, so real compressed traffic rarely waits.
const (
	uncompressedFactor    = 16
	minUncompressedBytes  = 4 << 20
	decompressBudgetBytes = 128 << 20
)

func produceAPI(b Broker) API {
	decompress := shard.NewBudget("produce decompression", decompressBudgetBytes)
	return API{
		Key: 0, MinVersion: 0, MaxVersion: 13,
		MaxBodyBytes: math.MaxInt32, Check: ProduceCheck, Amplification: produceAmplification,
		Handle: func(ctx context.Context, r *Request) (kmsg.Response, error) {
			resp, err := produce(ctx, b, r, decompress)
			if resp == nil {
				return nil, err // acks=0: no response (not a typed nil)
			}
			if resp.Version >= 10 {
				hintProduce(b, resp)
			}
			return resp, err
		},
	}
}

func produce(ctx context.Context, b Broker, r *Request, decompress *shard.Budget) (*kmsg.ProduceResponse, error) {
	req := r.Msg.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	tables := b.Tables()
	fail := func(code int16, msg string) {
		for _, t := range req.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				if msg != "" {
					rp.ErrorMessage = &msg
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	}
	switch {
	case req.Acks != -1 && req.Acks != 0 && req.Acks != 1:
		fail(kerr.InvalidRequiredAcks.Code, "")
		return resp, nil
	case req.TransactionID != nil:
		fail(kerr.InvalidRequest.Code, "transactional produce is not supported yet")
		return resp, nil
	}
	now := r.Received
	if now.IsZero() {
		now = time.Now()
	}
	var batches []ProduceBatch
	var slots []*kmsg.ProduceResponseTopicPartition
	for _, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		tp, ok := topicOf(tables, t.Topic, t.TopicID)
		if !ok && t.TopicID == ([16]byte{}) && b.AutoCreateTopics() {
			tp, ok = autoCreate(ctx, b, t.Topic)
			tables = b.Tables()
		}
		rt.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(t.Partitions))
		for i, p := range t.Partitions {
			rp := &rt.Partitions[i]
			rp.Default()
			rp.Partition = p.Partition
			rp.BaseOffset, rp.LogAppendTime, rp.LogStartOffset = -1, -1, -1
			if !ok {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				if t.TopicID != ([16]byte{}) {
					rp.ErrorCode = kerr.UnknownTopicID.Code
				}
				continue
			}
			key, ok := partitionKey(tp, p.Partition)
			if !ok {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			if _, code := localLeader(b, key); code != 0 {
				rp.ErrorCode = code
				continue
			}
			cfg := tp.Config
			lim := records.Limits{MaxMessageBytes: int(cfg.MaxMessageBytes), NoZstd: req.Version < 7}
			if !cfg.LogAppendTime {
				lim.NowMs = now.UnixMilli()
				lim.TimestampBeforeMaxMs, lim.TimestampAfterMaxMs = cfg.TimestampBeforeMaxMs, cfg.TimestampAfterMaxMs
			}
			lim.MaxUncompressedBytes = min(records.DefaultMaxUncompressedBytes,
				max(minUncompressedBytes, uncompressedFactor*int(cfg.MaxMessageBytes)))
			charge := int64(0)
			if bt, _, err := model.ParseBatch(p.Records); err == nil && bt.Codec() != 0 {
				charge = 2 * int64(lim.MaxUncompressedBytes)
				if err := decompress.Acquire(ctx, charge); err != nil {
					return nil, err
				}
			}
			info, err := records.Validate(p.Records, lim)
			decompress.Release(charge)
			if err != nil {
				rp.ErrorCode = records.ErrorCode(err)
				if req.Version < 3 && errors.Is(err, records.ErrUnsupportedMagic) {
					rp.ErrorCode = kerr.UnsupportedForMessageFormat.Code
				}
				rp.ErrorMessage = errMsg(err)
				continue
			}
			pb := ProduceBatch{Key: key, Batch: p.Records, ProducerID: info.ProducerID,
				ProducerEpoch: info.ProducerEpoch, BaseSequence: info.BaseSequence, Count: info.Count}
			if cfg.LogAppendTime {
				pb.LogAppendTime = now.UnixMilli()
				rp.LogAppendTime = pb.LogAppendTime
			}
			batches = append(batches, pb)
			slots = append(slots, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if req.Acks == 0 {
		var err error
		if len(batches) > 0 {
			r.Retain() // the batches alias the frame until they are stored
			err = r.InOrder(ctx, func() {
				b.Produce(context.WithoutCancel(ctx), batches, func(int, partition.ProduceResult) {})
			})
		}
		if err == nil && len(batches) < partitionCount(resp) {
			err = ErrAcksZeroRefused
		}
		return nil, err
	}
	if len(batches) == 0 {
		return resp, nil
	}
	r.Retain() // the batches alias the frame until they are stored
	type result struct {
		i int
		r partition.ProduceResult
	}
	results := make(chan result, len(batches))
	if err := r.InOrder(ctx, func() {
		b.Produce(ctx, batches, func(i int, pr partition.ProduceResult) { results <- result{i, pr} })
	}); err != nil {
		return nil, err
	}
	timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	done := make([]bool, len(batches))
	for n := 0; n < len(batches); n++ {
		select {
		case res := <-results:
			done[res.i] = true
			rp := slots[res.i]
			if res.r.Err != nil {
				rp.ErrorCode = partitionErrorCode(res.r.Err)
				rp.ErrorMessage = errMsg(res.r.Err)
				rp.LogAppendTime = -1
				continue
			}
			rp.BaseOffset = int64(res.r.BaseOffset)
			if rs := b.ReadState(batches[res.i].Key); rs != nil {
				rp.LogStartOffset = int64(rs.LogStart)
			}
		case <-timer.C:
			for i, d := range done {
				if !d {
					slots[i].ErrorCode = kerr.RequestTimedOut.Code
					slots[i].LogAppendTime = -1
				}
			}
			return resp, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return resp, nil
}

// partitionCount counts a response's partitions.
func partitionCount(resp *kmsg.ProduceResponse) int {
	var n int
	for _, t := range resp.Topics {
		n += len(t.Partitions)
	}
	return n
}

// hintProduce adds the KIP-951 leader hints to the partitions a Produce
// response refuses (v10+).
func hintProduce(b Broker, resp *kmsg.ProduceResponse) {
	h := newLeaderHints(b)
	for i := range resp.Topics {
		t := &resp.Topics[i]
		for j := range t.Partitions {
			p := &t.Partitions[j]
			p.CurrentLeader = kmsg.ProduceResponseTopicPartitionCurrentLeader(h.current(p.ErrorCode, t.Topic, t.TopicID, p.Partition))
		}
	}
	for _, br := range h.brokers() {
		resp.Brokers = append(resp.Brokers, kmsg.ProduceResponseBroker(br))
	}
}

// partitionErrorCode maps partition and controller errors to Kafka codes:
// the one table of the wire edge for errors from below it.
func partitionErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, partition.ErrNotLeader):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, partition.ErrStorage):
		return kerr.KafkaStorageError.Code
	case errors.Is(err, partition.ErrRemoved):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, partition.ErrOverloaded), errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code
	case errors.Is(err, model.ErrCorrupt):
		return kerr.CorruptMessage.Code
	}
	if code := cluster.ErrorCode(err); code != 0 && code != kerr.UnknownServerError.Code {
		return code
	}
	// Producer state errors (OUT_OF_ORDER_SEQUENCE_NUMBER,
	// INVALID_PRODUCER_EPOCH) carry their kerr error.
	return records.ErrorCode(err)
}

// autoCreate creates a topic named by a produce or metadata request when
// the node allows it, with the node's defaults.
func autoCreate(ctx context.Context, b Broker, name string) (*cluster.Topic, bool) {
	if cluster.CheckTopicName(name) != nil {
		return nil, false
	}
	cmd, err := b.Tables().PlanCreateTopic(cluster.TopicRequest{Name: name, Partitions: -1, ReplicationFactor: -1}, NewTopicID(), b.Defaults())
	if err == nil {
		err = b.CreateTopic(ctx, cmd)
	}
	if err != nil && !errors.Is(err, cluster.ErrTopicExists) {
		return nil, false
	}
	return b.Tables().TopicByName(name)
}
