package kafka

// CreateTopics (key 19): v0–v7.
//
// Behaviour:
//   - Each topic is planned against the controller tables (name rules,
//     partitions, replication factor against the registered brokers,
//     every config declared and valid), then proposed to the controller
//     and answered once its partitions serve, bounded by the request's
//     timeout (REQUEST_TIMED_OUT after it; the topic may still appear).
//   - -1 partitions / replication factor take the node's defaults (v4+).
//   - ValidateOnly (v1+) plans and checks without proposing.
//   - A name repeated in one request fails every copy with INVALID_REQUEST,
//     as Kafka does.
//   - v5+ answers with the resolved partitions, replication factor and the
//     topic's configs (DescribeConfigs' view); v7 with the topic id.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
)

func createTopicsAPI(b Broker) API {
	return API{
		Key: 19, MinVersion: 0, MaxVersion: 7,
		Handle: func(ctx context.Context, r *Request) (kmsg.Response, error) {
			return createTopics(ctx, b, r.Msg.(*kmsg.CreateTopicsRequest)), nil
		},
	}
}

func createTopics(ctx context.Context, b Broker, req *kmsg.CreateTopicsRequest) *kmsg.CreateTopicsResponse {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	ctx, cancel := requestContext(ctx, req.TimeoutMillis)
	defer cancel()
	seen := nameCounts(req.Topics, func(t kmsg.CreateTopicsRequestTopic) string { return t.Topic })
	for _, t := range req.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = t.Topic
		rt.NumPartitions, rt.ReplicationFactor = -1, -1
		if seen[t.Topic] > 1 {
			rt.ErrorCode = kerr.InvalidRequest.Code
			msg := "topic named more than once in the request"
			rt.ErrorMessage = &msg
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		treq := cluster.TopicRequest{Name: t.Topic, Partitions: t.NumPartitions, ReplicationFactor: t.ReplicationFactor}
		if len(t.ReplicaAssignment) > 0 {
			for _, a := range t.ReplicaAssignment {
				if int(a.Partition) != len(treq.Assignment) {
					treq.Assignment = nil
					rt.ErrorCode = kerr.InvalidReplicaAssignment.Code
					break
				}
				reps := make([]model.NodeID, len(a.Replicas))
				for i, r := range a.Replicas {
					reps[i] = model.NodeID(r)
				}
				treq.Assignment = append(treq.Assignment, reps)
			}
		}
		if len(t.Configs) > 0 {
			treq.Configs = make(map[string]string, len(t.Configs))
			for _, c := range t.Configs {
				if c.Value == nil {
					continue // null: the default
				}
				treq.Configs[c.Name] = *c.Value
			}
		}
		if rt.ErrorCode == 0 {
			cmd, err := b.Tables().PlanCreateTopic(treq, NewTopicID(), b.Defaults())
			if err == nil && !req.ValidateOnly {
				err = b.CreateTopic(ctx, cmd)
			}
			if err != nil {
				rt.ErrorCode = partitionErrorCode(err)
				rt.ErrorMessage = errMsg(err)
			} else {
				fillCreated(b, &rt, cmd, req.ValidateOnly)
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func fillCreated(b Broker, rt *kmsg.CreateTopicsResponseTopic, cmd *cluster.CreateTopic, validateOnly bool) {
	rt.NumPartitions, rt.ReplicationFactor = cmd.Partitions, cmd.ReplicationFactor
	if !validateOnly {
		rt.TopicID = cmd.ID
	}
	tables := b.Tables()
	tp := &cluster.Topic{Name: cmd.Name, ID: cmd.ID, Configs: cmd.Configs}
	for _, e := range tables.DescribeConfigs(tp) {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name = e.Name
		v := e.Value
		c.Value = &v
		c.ReadOnly, c.IsSensitive = e.ReadOnly, e.Sensitive
		c.Source = int8(e.Source)
		rt.Configs = append(rt.Configs, c)
	}
}
