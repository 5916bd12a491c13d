package kafka

// DescribeLogDirs (key 35): v0–v5.
//
// Behaviour:
//   - One log directory: the node's data directory. Its topics are the
//     partitions hosted here (null topics: all of them; otherwise those
//     asked for that exist here — an unknown topic or partition is left
//     out, as Kafka leaves out what a directory does not hold).
//   - A partition's size is the bytes of its segment files on disk
//     (Broker.PartitionBytes; the active segment counts its preallocated
//     space); its offset lag is 0 and it is never a future replica.
//   - TotalBytes and UsableBytes (v4+) are -1 (unknown); the directory is
//     never cordoned (v5). A partition whose files cannot be listed makes
//     the directory KAFKA_STORAGE_ERROR, as an offline log dir does.

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
)

func describeLogDirsAPI(b Broker) API {
	return API{
		Key: 35, MinVersion: 0, MaxVersion: 5,
		Handle: func(_ context.Context, r *Request) (kmsg.Response, error) {
			return describeLogDirs(b, r.Msg.(*kmsg.DescribeLogDirsRequest)), nil
		},
	}
}

func describeLogDirs(b Broker, req *kmsg.DescribeLogDirsRequest) *kmsg.DescribeLogDirsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = b.DataDir()
	dir.TotalBytes, dir.UsableBytes = -1, -1
	tables := b.Tables()
	type want struct {
		tp    *cluster.Topic
		parts []int32 // nil: all
	}
	var wants []want
	if req.Topics == nil {
		for _, tp := range tables.Topics() {
			wants = append(wants, want{tp: tp})
		}
	} else {
		for _, t := range req.Topics {
			if tp, ok := tables.TopicByName(t.Topic); ok {
				wants = append(wants, want{tp, t.Partitions})
			}
		}
	}
	for _, w := range wants {
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = w.tp.Name
		for _, p := range w.tp.Partitions {
			if w.parts != nil && !slices.Contains(w.parts, int32(p.ID)) {
				continue
			}
			key := model.PartitionKey{Topic: w.tp.ID, Partition: p.ID}
			if b.ReadState(key) == nil {
				continue // not hosted here
			}
			size, err := b.PartitionBytes(key)
			if err != nil {
				dir.ErrorCode = partitionErrorCode(fmt.Errorf("%w: %w", partition.ErrStorage, err))
				dir.Topics = nil
				resp.Dirs = append(resp.Dirs, dir)
				return resp
			}
			dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			dp.Partition, dp.Size = int32(p.ID), size
			dt.Partitions = append(dt.Partitions, dp)
		}
		if len(dt.Partitions) > 0 {
			dir.Topics = append(dir.Topics, dt)
		}
	}
	resp.Dirs = append(resp.Dirs, dir)
	return resp
}
