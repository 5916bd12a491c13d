package kafka

// DeleteRecords (key 21): v0–v2.
//
// Behaviour:
//   - Each partition's log start offset moves to the requested offset (-1:
//     the high watermark); records below it are no longer served (fetch
//     below it is OFFSET_OUT_OF_RANGE, ListOffsets earliest reports it) and
//     the new start is the response's low watermark. An offset past the
//     high watermark is OFFSET_OUT_OF_RANGE; one below the current start
//     changes nothing.
//   - Only the partition's leader deletes: a follower replica, or a node
//     not hosting it, answers NOT_LEADER_OR_FOLLOWER.
//   - The new start is staged with the partition's next sync round; the
//     bytes stay on disk until retention removes their segments.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
)

func deleteRecordsAPI(b Broker) API {
	return API{
		Key: 21, MinVersion: 0, MaxVersion: 2,
		Handle: func(ctx context.Context, r *Request) (kmsg.Response, error) {
			req := r.Msg.(*kmsg.DeleteRecordsRequest)
			resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
			tables := b.Tables()
			for _, t := range req.Topics {
				rt := kmsg.NewDeleteRecordsResponseTopic()
				rt.Topic = t.Topic
				tp, known := tables.TopicByName(t.Topic)
				for _, p := range t.Partitions {
					rp := kmsg.NewDeleteRecordsResponseTopicPartition()
					rp.Partition, rp.LowWatermark = p.Partition, -1
					key, _, code := leaderKey(b, tp, known, p.Partition)
					rp.ErrorCode = code
					if code == 0 {
						rp.LowWatermark, rp.ErrorCode = deleteBefore(ctx, b, key, model.Offset(p.Offset))
					}
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			return resp, nil
		},
	}
}

// deleteBefore moves a led partition's log start: the new start, or -1
// and the error code.
func deleteBefore(ctx context.Context, b Broker, key model.PartitionKey, before model.Offset) (int64, int16) {
	start, err := b.DeleteRecords(ctx, key, before)
	switch {
	case errors.Is(err, partition.ErrOffsetOutOfRange):
		return -1, kerr.OffsetOutOfRange.Code
	case err != nil:
		return -1, partitionErrorCode(err)
	}
	return int64(start), 0
}
