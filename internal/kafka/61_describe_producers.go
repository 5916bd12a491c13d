package kafka

// DescribeProducers (key 61): v0.
//
// Behaviour: per partition, the idempotent producers the partition
// remembers (id, epoch, last sequence, last timestamp); coordinator epoch
// and transaction start offset are -1 (no transactions yet). Unknown
// topic or partition: UNKNOWN_TOPIC_OR_PARTITION; a partition this node
// does not lead (a follower replica, or not hosted here):
// NOT_LEADER_OR_FOLLOWER, as Kafka answers.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func describeProducersAPI(b Broker) API {
	return API{
		Key: 61, MinVersion: 0, MaxVersion: 0,
		Handle: func(ctx context.Context, r *Request) (kmsg.Response, error) {
			req := r.Msg.(*kmsg.DescribeProducersRequest)
			resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
			tables := b.Tables()
			for _, t := range req.Topics {
				rt := kmsg.NewDescribeProducersResponseTopic()
				rt.Topic = t.Topic
				tp, known := tables.TopicByName(t.Topic)
				for _, p := range t.Partitions {
					rp := kmsg.NewDescribeProducersResponseTopicPartition()
					rp.Partition = p
					key, _, code := leaderKey(b, tp, known, p)
					if code != 0 {
						rp.ErrorCode = code
						rt.Partitions = append(rt.Partitions, rp)
						continue
					}
					infos, err := b.Producers(ctx, key)
					if err != nil {
						rp.ErrorCode = partitionErrorCode(err)
						rp.ErrorMessage = errMsg(err)
					}
					for _, in := range infos {
						ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
						ap.ProducerID, ap.ProducerEpoch = in.ID, int32(in.Epoch)
						ap.LastSequence, ap.LastTimestamp = in.LastSequence, in.LastTimestamp
						ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = -1, -1
						rp.ActiveProducers = append(rp.ActiveProducers, ap)
					}
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			return resp, nil
		},
	}
}
