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
					key, ok := model.PartitionKey{}, known
					if ok {
						key, ok = partitionKey(tp, p.Partition)
					}
					if !ok {
						rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
					} else if start, err := b.DeleteRecords(ctx, key, model.Offset(p.Offset)); err != nil {
						rp.ErrorCode = partitionErrorCode(err)
						if errors.Is(err, partition.ErrOffsetOutOfRange) {
							rp.ErrorCode = kerr.OffsetOutOfRange.Code
						}
					} else {
						rp.LowWatermark = int64(start)
					}
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			return resp, nil
		},
	}
}
