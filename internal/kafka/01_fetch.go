package kafka

// Fetch (key 1): v4–v18. v0–v3 return the legacy message format.
//
// Behaviour:
//   - Reads come from each partition's published read state (storage view
//     and high watermark) on this goroutine, without a shard hop, never
//     past the high watermark. read_committed reads the same (no
//     transactions yet, so the last stable offset is the high watermark).
//   - An offset below the log start or above the log end is
//     OFFSET_OUT_OF_RANGE; an offset between the high watermark and the
//     log end returns no records (it is not out of range: the records are
//     written but not yet committed).
//   - Long poll: while fewer than MinBytes are available the request waits
//     up to MaxWaitMillis for any of its partitions to change (no timer
//     per partition: it waits on their read states' Changed channels).
//   - At least one whole batch is returned even if larger than the
//     partition or request maximum (KIP-74), then as much as fits.
//   - v7+ fetch sessions: the broker declines to create sessions (session
//     id 0 in the response), which KIP-227 allows; clients then send full
//     fetches. v13+ name topics by id (UNKNOWN_TOPIC_ID when unknown).

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
	"github.com/petrel-streaming/petrel/internal/storage"
)

// maxFetchWait bounds a long poll whatever the client asks.
const maxFetchWait = 30 * time.Second

func fetchAPI(b Broker) API {
	return API{
		Key: 1, MinVersion: 4, MaxVersion: 18,
		Handle: func(ctx context.Context, r *Request) (kmsg.Response, error) {
			return fetch(ctx, b, r.Msg.(*kmsg.FetchRequest))
		},
	}
}

func fetch(ctx context.Context, b Broker, req *kmsg.FetchRequest) (kmsg.Response, error) {
	wait := time.Duration(req.MaxWaitMillis) * time.Millisecond
	if wait > maxFetchWait {
		wait = maxFetchWait
	}
	deadline := time.Now().Add(wait)
	maxBytes := int(req.MaxBytes)
	if req.Version < 3 || maxBytes <= 0 {
		maxBytes = 50 << 20
	}
	for {
		resp, total, waits := fetchOnce(b, req, maxBytes)
		remaining := time.Until(deadline)
		if total >= int(req.MinBytes) || total > 0 && req.MinBytes <= 0 || remaining <= 0 || len(waits) == 0 {
			return resp, nil
		}
		if err := waitAny(ctx, waits, remaining); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				r, _, _ := fetchOnce(b, req, maxBytes)
				return r, nil
			}
			return nil, err
		}
	}
}

// fetchOnce builds a response from the current read states; it returns
// the bytes it holds and the Changed channels a long poll may wait on.
func fetchOnce(b Broker, req *kmsg.FetchRequest, maxBytes int) (*kmsg.FetchResponse, int, []<-chan struct{}) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	tables := b.Tables()
	total := 0
	var waits []<-chan struct{}
	for _, t := range req.Topics {
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		tp, known := topicOf(tables, t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition = p.Partition
			rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = -1, -1, -1
			// Empty, not null: librdkafka refuses a null record set
			// ("invalid MessageSetSize -1").
			rp.RecordBatches = []byte{}
			rt.Partitions = append(rt.Partitions, rp)
			out := &rt.Partitions[len(rt.Partitions)-1]
			if !known {
				out.ErrorCode = kerr.UnknownTopicOrPartition.Code
				if req.Version >= 13 {
					out.ErrorCode = kerr.UnknownTopicID.Code
				}
				continue
			}
			key, ok := partitionKey(tp, p.Partition)
			if !ok {
				out.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			rs := b.ReadState(key)
			if rs == nil || !rs.Leader {
				out.ErrorCode = kerr.NotLeaderForPartition.Code
				continue
			}
			if p.CurrentLeaderEpoch >= 0 && p.CurrentLeaderEpoch != rs.LeaderEpoch {
				if p.CurrentLeaderEpoch > rs.LeaderEpoch {
					out.ErrorCode = kerr.UnknownLeaderEpoch.Code
				} else {
					out.ErrorCode = kerr.FencedLeaderEpoch.Code
				}
				continue
			}
			n, code := readPartition(out, rs, model.Offset(p.FetchOffset), int(p.PartitionMaxBytes), maxBytes-total, total == 0)
			out.ErrorCode = code
			total += n
			if code == 0 {
				waits = append(waits, rs.Changed())
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, total, waits
}

func readPartition(out *kmsg.FetchResponseTopicPartition, rs *partition.ReadState, from model.Offset, partMax, left int, first bool) (int, int16) {
	out.HighWatermark = int64(rs.HighWatermark)
	out.LastStableOffset = int64(rs.HighWatermark)
	out.LogStartOffset = int64(rs.LogStart)
	if from < rs.LogStart || from > rs.LogEnd {
		return 0, kerr.OffsetOutOfRange.Code
	}
	if from >= rs.HighWatermark {
		return 0, 0
	}
	limit := partMax
	if left < limit {
		limit = left
	}
	if limit <= 0 && !first {
		return 0, 0
	}
	data, err := rs.View.ReadBatches(from, limit, rs.HighWatermark, nil)
	if err != nil {
		if errors.Is(err, storage.ErrOffsetOutOfRange) {
			return 0, kerr.OffsetOutOfRange.Code
		}
		return 0, kerr.KafkaStorageError.Code
	}
	out.RecordBatches = data
	return len(data), 0
}

// waitAny waits until one of chans is closed, d passes (DeadlineExceeded)
// or ctx ends.
func waitAny(ctx context.Context, chans []<-chan struct{}, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	cases := make([]reflect.SelectCase, 0, len(chans)+2)
	cases = append(cases,
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)})
	for _, c := range chans {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c)})
	}
	switch i, _, _ := reflect.Select(cases); i {
	case 0:
		return ctx.Err()
	case 1:
		return context.DeadlineExceeded
	}
	return nil
}
