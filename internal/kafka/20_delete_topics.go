package kafka

// DeleteTopics (key 20): v0–v6.
//
// Behaviour:
//   - Topics by name (v0–v5 names; v6 entries with a name or an id).
//   - Each deletion is proposed to the controller and answered once
//     applied (the partitions' files go with their shards' next round),
//     bounded by the request's timeout.
//   - Unknown: UNKNOWN_TOPIC_OR_PARTITION (UNKNOWN_TOPIC_ID by id); the
//     internal __consumer_offsets topic cannot be deleted (the code
//     cluster.ErrorCode gives ErrInternalTopic, with a message).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
)

func deleteTopicsAPI(b Broker) API {
	return API{
		Key: 20, MinVersion: 0, MaxVersion: 6,
		Handle: func(ctx context.Context, r *Request) (kmsg.Response, error) {
			return deleteTopics(ctx, b, r.Msg.(*kmsg.DeleteTopicsRequest)), nil
		},
	}
}

func deleteTopics(ctx context.Context, b Broker, req *kmsg.DeleteTopicsRequest) *kmsg.DeleteTopicsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	ctx, cancel := requestContext(ctx, req.TimeoutMillis)
	defer cancel()
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	if req.Version >= 6 {
		for _, t := range req.Topics {
			targets = append(targets, target{t.Topic, t.TopicID})
		}
	} else {
		for i := range req.TopicNames {
			targets = append(targets, target{name: &req.TopicNames[i]})
		}
	}
	for _, tg := range targets {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic, rt.TopicID = tg.name, tg.id
		name := ""
		if tg.name != nil {
			name = *tg.name
		}
		tp, ok := topicOf(b.Tables(), name, tg.id)
		switch {
		case !ok && tg.id != ([16]byte{}):
			rt.ErrorCode = kerr.UnknownTopicID.Code
		case !ok:
			rt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		case tp.Internal:
			rt.ErrorCode = partitionErrorCode(cluster.ErrInternalTopic)
			msg := "internal topics cannot be deleted"
			rt.ErrorMessage = &msg
		default:
			n := tp.Name
			rt.Topic, rt.TopicID = &n, tp.ID
			if err := b.DeleteTopic(ctx, model.TopicID(tp.ID)); err != nil {
				rt.ErrorCode = partitionErrorCode(err)
				rt.ErrorMessage = errMsg(err)
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
