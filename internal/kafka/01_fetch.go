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
//   - v7+ fetch sessions (KIP-227, fetch_session.go): SessionEpoch 0
//     creates a session from a full fetch when the cache has room, -1
//     closes one; an incremental request lists only changed partitions
//     and its response only the partitions with records, an error, or a
//     new high watermark or log start offset. The long poll of an
//     incremental fetch watches every partition of its session. v13+ name
//     topics by id (UNKNOWN_TOPIC_ID when unknown, also inside sessions).
//   - A partition this node does not lead (a follower replica, or not
//     hosted here) is NOT_LEADER_OR_FOLLOWER (no fetch from followers);
//     v16+ adds the leader hint to it and to FENCED_LEADER_EPOCH
//     (KIP-951, leaders.go): CurrentLeader and the leader's endpoint in
//     Brokers.

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
	"github.com/petrel-streaming/petrel/internal/storage"
)

// maxFetchWait bounds a long poll whatever the client asks.
const maxFetchWait = 30 * time.Second

func fetchAPI(b Broker) API {
	sessions := newSessionCache(sessionLimits{})
	return API{
		Key: 1, MinVersion: 4, MaxVersion: 18,
		Handle: func(ctx context.Context, r *Request) (kmsg.Response, error) {
			return fetch(ctx, b, sessions, r.Msg.(*kmsg.FetchRequest))
		},
	}
}

func fetch(ctx context.Context, b Broker, sessions *sessionCache, req *kmsg.FetchRequest) (kmsg.Response, error) {
	wait := time.Duration(req.MaxWaitMillis) * time.Millisecond
	if wait > maxFetchWait {
		wait = maxFetchWait
	}
	deadline := time.Now().Add(wait)
	maxBytes := int(req.MaxBytes)
	if req.Version < 3 || maxBytes <= 0 {
		maxBytes = 50 << 20
	}
	fc := sessions.open(req, time.Now())
	results, waits := []partResult(nil), []<-chan struct{}(nil)
	for fc.mode != modeError {
		var total int
		results, total, waits = readParts(b, fc.parts, req.Version, maxBytes, results[:0], waits[:0])
		remaining := time.Until(deadline)
		if total >= int(req.MinBytes) || total > 0 && req.MinBytes <= 0 || remaining <= 0 || len(waits) == 0 {
			break
		}
		if err := waitAny(ctx, waits, remaining); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				results, _, _ = readParts(b, fc.parts, req.Version, maxBytes, results[:0], waits[:0])
				break
			}
			return nil, err
		}
	}
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	results, resp.SessionID, resp.ErrorCode = sessions.finish(&fc, results, time.Now())
	appendTopics(resp, results)
	if req.Version >= 16 {
		hintFetch(b, resp)
	}
	return resp, nil
}

// hintFetch adds the KIP-951 leader hints to the partitions a Fetch
// response refuses (v16+).
func hintFetch(b Broker, resp *kmsg.FetchResponse) {
	h := newLeaderHints(b)
	for i := range resp.Topics {
		t := &resp.Topics[i]
		for j := range t.Partitions {
			p := &t.Partitions[j]
			p.CurrentLeader = h.current(p.ErrorCode, t.Topic, t.TopicID, p.Partition)
		}
	}
	resp.Brokers = append(resp.Brokers, h.brokers()...)
}

// appendTopics groups results into response topics: a new topic entry
// whenever the topic differs from the previous result's (as Kafka does).
func appendTopics(resp *kmsg.FetchResponse, results []partResult) {
	for i := range results {
		r := &results[i]
		n := len(resp.Topics)
		if n == 0 || resp.Topics[n-1].Topic != r.part.topic || resp.Topics[n-1].TopicID != r.part.topicID {
			rt := kmsg.NewFetchResponseTopic()
			rt.Topic, rt.TopicID = r.part.topic, r.part.topicID
			resp.Topics = append(resp.Topics, rt)
			n++
		}
		resp.Topics[n-1].Partitions = append(resp.Topics[n-1].Partitions, r.resp)
	}
}

// readParts reads parts from the current read states into results; it
// returns them, the bytes they hold and the Changed channels a long poll
// may wait on.
func readParts(b Broker, parts []fetchPart, version int16, maxBytes int,
	results []partResult, waits []<-chan struct{}) ([]partResult, int, []<-chan struct{}) {
	tables := b.Tables()
	total := 0
	var (
		tp       *cluster.Topic
		known    bool
		resolved *fetchPart
	)
	for i := range parts {
		p := &parts[i]
		if resolved == nil || resolved.topic != p.topic || resolved.topicID != p.topicID {
			tp, known = topicOf(tables, p.topic, p.topicID)
			resolved = p
		}
		out := kmsg.NewFetchResponseTopicPartition()
		out.Partition = p.key.partition
		out.HighWatermark, out.LastStableOffset, out.LogStartOffset = -1, -1, -1
		// Empty, not null: librdkafka refuses a null record set
		// ("invalid MessageSetSize -1").
		out.RecordBatches = []byte{}
		if code, rs := readable(b, tp, known, p, version); code != 0 {
			out.ErrorCode = code
		} else {
			n, code := readPartition(&out, rs, model.Offset(p.fetchOffset), int(p.maxBytes), maxBytes-total, total == 0)
			out.ErrorCode = code
			total += n
			if code == 0 {
				waits = append(waits, rs.Changed())
			}
		}
		results = append(results, partResult{part: *p, resp: out})
	}
	return results, total, waits
}

// readable finds a part's read state, or the error code that answers it.
func readable(b Broker, tp *cluster.Topic, known bool, p *fetchPart, version int16) (int16, *partition.ReadState) {
	if !known {
		if version >= 13 {
			return kerr.UnknownTopicID.Code, nil
		}
		return kerr.UnknownTopicOrPartition.Code, nil
	}
	key, ok := partitionKey(tp, p.key.partition)
	if !ok {
		return kerr.UnknownTopicOrPartition.Code, nil
	}
	rs, code := localLeader(b, key)
	if code != 0 {
		return code, nil
	}
	if p.leaderEpoch >= 0 && p.leaderEpoch != rs.LeaderEpoch {
		if p.leaderEpoch > rs.LeaderEpoch {
			return kerr.UnknownLeaderEpoch.Code, nil
		}
		return kerr.FencedLeaderEpoch.Code, nil
	}
	return 0, rs
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
