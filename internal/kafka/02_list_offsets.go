package kafka

// ListOffsets (key 2): v0–v11.
//
// Behaviour:
//   - Timestamp -2: the log start offset; -1: the high watermark (both
//     isolation levels: no transactions, so the last stable offset is the
//     high watermark); -3 (v7+, KIP-734): the offset and timestamp of the
//     record with the largest timestamp; -4 (v8+, KIP-405: earliest local)
//     is the log start too (no tiered storage yet); -5 (v9+, KIP-1005:
//     earliest pending upload) answers -1; any other timestamp: the first
//     offset whose record timestamp is ≥ it, below the high watermark, or
//     -1 when there is none.
//   - v0 answers in OldStyleOffsets (one offset).
//   - A current leader epoch newer than ours is UNKNOWN_LEADER_EPOCH, older
//     FENCED_LEADER_EPOCH (v4+).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
	"github.com/petrel-streaming/petrel/internal/records"
)

func listOffsetsAPI(b Broker) API {
	return API{
		Key: 2, MinVersion: 0, MaxVersion: 11,
		Handle: func(_ context.Context, r *Request) (kmsg.Response, error) {
			return listOffsets(b, r.Msg.(*kmsg.ListOffsetsRequest)), nil
		},
	}
}

func listOffsets(b Broker, req *kmsg.ListOffsetsRequest) *kmsg.ListOffsetsResponse {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	tables := b.Tables()
	for _, t := range req.Topics {
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		tp, known := tables.TopicByName(t.Topic)
		for _, p := range t.Partitions {
			rp := kmsg.NewListOffsetsResponseTopicPartition()
			rp.Partition = p.Partition
			rp.Timestamp, rp.Offset = -1, -1
			rs, code := leaderState(b, tp, known, p.Partition, p.CurrentLeaderEpoch)
			rp.ErrorCode = code
			if code == 0 {
				rp.LeaderEpoch = rs.LeaderEpoch
				rp.Offset, rp.Timestamp, rp.ErrorCode = offsetFor(rs, p.Timestamp)
			}
			if req.Version == 0 && rp.ErrorCode == 0 {
				rp.OldStyleOffsets = []int64{rp.Offset}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// offsetFor answers one ListOffsets query from a read state.
func offsetFor(rs *partition.ReadState, ts int64) (offset, timestamp int64, code int16) {
	switch ts {
	case -2, -4:
		return int64(rs.LogStart), -1, 0
	case -1:
		return int64(rs.HighWatermark), -1, 0
	case -5:
		return -1, -1, 0
	case -3:
		return maxTimestamp(rs)
	}
	if ts < 0 {
		return -1, -1, kerr.InvalidRequest.Code
	}
	o, found, err := rs.View.OffsetForTimestamp(ts)
	if err != nil {
		return -1, -1, kerr.KafkaStorageError.Code
	}
	if !found || o >= rs.HighWatermark {
		return -1, -1, 0
	}
	// Kafka answers with the first record at or after ts, not its batch:
	// the batch is read (decompressed if need be) to find it.
	data, err := rs.View.ReadBatches(o, 1, rs.HighWatermark, nil)
	if err != nil {
		return -1, -1, kerr.KafkaStorageError.Code
	}
	bt, _, err := model.ParseBatch(data)
	if err != nil {
		return -1, -1, kerr.KafkaStorageError.Code
	}
	ro, rts, ok, err := records.FirstAtOrAfter(bt, ts, timeQueryDecompressLimit)
	if err != nil {
		return -1, -1, kerr.KafkaStorageError.Code
	}
	if !ok || ro >= rs.HighWatermark {
		// A batch whose max timestamp disagrees with its records: its base.
		return int64(o), bt.MaxTimestamp(), 0
	}
	return int64(ro), rts, 0
}

// timeQueryDecompressLimit bounds the decompressed batch a ListOffsets by
// time reads: stored batches passed Produce's cap, which is at most this.
const timeQueryDecompressLimit = 64 << 20

// maxTimestamp walks the committed batches for the largest max timestamp
// (KIP-734). Bounded by the log; done rarely (admin tools).
func maxTimestamp(rs *partition.ReadState) (int64, int64, int16) {
	bestTs, bestOff := int64(-1), int64(-1)
	from := rs.LogStart
	for from < rs.HighWatermark {
		data, err := rs.View.ReadBatches(from, 1<<20, rs.HighWatermark, nil)
		if err != nil || len(data) == 0 {
			return -1, -1, kerr.KafkaStorageError.Code
		}
		for len(data) > 0 {
			bt, rest, err := model.ParseBatch(data)
			if err != nil {
				return -1, -1, kerr.KafkaStorageError.Code
			}
			if bt.MaxTimestamp() > bestTs {
				bestTs, bestOff = bt.MaxTimestamp(), int64(bt.LastOffset())
			}
			from = bt.LastOffset() + 1
			data = rest
		}
	}
	return bestOff, bestTs, 0
}
