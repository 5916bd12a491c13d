package kafka

// OffsetForLeaderEpoch (key 23): v0–v4, as a consumer (or a truncating
// follower) asks it of the leader.
//
// Behaviour (Kafka's LeaderEpochFileCache.endOffsetFor, with the epochs
// read from the log: every batch carries the leader epoch — the Raft term
// — that appended it, so epochs never decrease along the log):
//   - requested epoch == the current epoch: (epoch, log end offset);
//   - requested epoch older: (the largest epoch ≤ it that has batches in
//     the log, or the requested epoch when none has, and the start offset
//     of the first later epoch — the current epoch's start is the log end
//     when it has appended nothing yet);
//   - requested epoch newer than the current one, or -1: (-1, -1), no
//     error, as Kafka answers an epoch it does not know.
//   - CurrentLeaderEpoch (v2+, -1: unchecked) newer than ours is
//     UNKNOWN_LEADER_EPOCH, older FENCED_LEADER_EPOCH; a partition not led
//     here NOT_LEADER_OR_FOLLOWER; unknown UNKNOWN_TOPIC_OR_PARTITION.
//
// Bound: the first offset of a later epoch is found by binary search over
// [log start, log end), reading the one batch holding the probed offset,
// so at most ~64 batch reads per partition whatever the log's size.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
)

func offsetForLeaderEpochAPI(b Broker) API {
	return API{
		Key: 23, MinVersion: 0, MaxVersion: 4,
		Handle: func(_ context.Context, r *Request) (kmsg.Response, error) {
			return offsetForLeaderEpoch(b, r.Msg.(*kmsg.OffsetForLeaderEpochRequest)), nil
		},
	}
}

func offsetForLeaderEpoch(b Broker, req *kmsg.OffsetForLeaderEpochRequest) *kmsg.OffsetForLeaderEpochResponse {
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	tables := b.Tables()
	var buf []byte
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
		rt.Topic = t.Topic
		tp, known := tables.TopicByName(t.Topic)
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			rp.Partition = p.Partition
			rp.LeaderEpoch, rp.EndOffset = -1, -1
			rs, code := leaderState(b, tp, known, p.Partition, p.CurrentLeaderEpoch)
			rp.ErrorCode = code
			if code == 0 {
				rp.LeaderEpoch, rp.EndOffset, buf, rp.ErrorCode = endOffsetForEpoch(rs, p.LeaderEpoch, buf)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// endOffsetForEpoch answers one partition; buf is a reusable read buffer.
func endOffsetForEpoch(rs *partition.ReadState, epoch int32, buf []byte) (int32, int64, []byte, int16) {
	switch {
	case epoch < 0 || epoch > rs.LeaderEpoch:
		return -1, -1, buf, 0
	case epoch == rs.LeaderEpoch:
		return epoch, int64(rs.LogEnd), buf, 0
	}
	// The first offset whose batch has an epoch > epoch.
	lo, hi := rs.LogStart, rs.LogEnd
	for lo < hi {
		mid := lo + (hi-lo)/2
		e, last, b, err := batchEpochAt(rs, mid, buf)
		buf = b
		if err != nil {
			return -1, -1, buf, kerr.KafkaStorageError.Code
		}
		if e > epoch {
			hi = mid
		} else {
			lo = last + 1
		}
	}
	higher := lo
	if higher == rs.LogStart {
		return epoch, int64(higher), buf, 0 // older than every epoch in the log
	}
	floor, _, buf, err := batchEpochAt(rs, higher-1, buf)
	if err != nil {
		return -1, -1, buf, kerr.KafkaStorageError.Code
	}
	return floor, int64(higher), buf, 0
}

// batchEpochAt reads the batch holding offset o and returns its leader
// epoch and last offset.
func batchEpochAt(rs *partition.ReadState, o model.Offset, buf []byte) (int32, model.Offset, []byte, error) {
	data, err := rs.View.ReadBatches(o, 1, rs.LogEnd, buf[:0])
	if err != nil {
		return 0, 0, data, err
	}
	bt, _, err := model.ParseBatch(data)
	if err != nil {
		return 0, 0, data, err
	}
	return bt.LeaderEpoch(), bt.LastOffset(), data, nil
}
