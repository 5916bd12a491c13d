package kafka

// CreatePartitions (key 37): v0–v3.
//
// Behaviour:
//   - Each topic is planned against the controller tables
//     (Tables.PlanCreatePartitions: the count must grow and stay within
//     bounds, manual assignments must name registered brokers with the
//     topic's replication factor, each list of distinct brokers; without
//     one, the new partitions are placed to balance leaders and replicas
//     per broker over all topics), then proposed and answered once the new
//     partitions serve, bounded by the request's timeout
//     (REQUEST_TIMED_OUT after it; the partitions may still appear).
//   - Unknown topic: UNKNOWN_TOPIC_OR_PARTITION; not growing:
//     INVALID_PARTITIONS; bad assignment: INVALID_REPLICA_ASSIGNMENT.
//   - ValidateOnly plans and checks without proposing.
//   - A topic named more than once fails every copy with INVALID_REQUEST.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
)

func createPartitionsAPI(b Broker) API {
	return API{
		Key: 37, MinVersion: 0, MaxVersion: 3,
		Handle: func(ctx context.Context, r *Request) (kmsg.Response, error) {
			return createPartitions(ctx, b, r.Msg.(*kmsg.CreatePartitionsRequest)), nil
		},
	}
}

func createPartitions(ctx context.Context, b Broker, req *kmsg.CreatePartitionsRequest) *kmsg.CreatePartitionsResponse {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	ctx, cancel := requestContext(ctx, req.TimeoutMillis)
	defer cancel()
	seen := nameCounts(req.Topics, func(t kmsg.CreatePartitionsRequestTopic) string { return t.Topic })
	for _, t := range req.Topics {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		var err error
		if seen[t.Topic] > 1 {
			err = fmt.Errorf("%w: topic named more than once in the request", cluster.ErrInvalidRequest)
		} else {
			err = growTopic(ctx, b, t, req.ValidateOnly)
		}
		rt.ErrorCode, rt.ErrorMessage = partitionErrorCode(err), errMsg(err)
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func growTopic(ctx context.Context, b Broker, t kmsg.CreatePartitionsRequestTopic, validateOnly bool) error {
	var assignment [][]model.NodeID
	for _, a := range t.Assignment {
		reps := make([]model.NodeID, len(a.Replicas))
		for i, r := range a.Replicas {
			reps[i] = model.NodeID(r)
		}
		assignment = append(assignment, reps)
	}
	cmd, err := b.Tables().PlanCreatePartitions(t.Topic, t.Count, assignment)
	if err != nil || validateOnly {
		return err
	}
	return b.CreatePartitions(ctx, cmd)
}
