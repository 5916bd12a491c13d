package kafka

// CreateTopics (key 19): v0–v7.
//
// Behaviour:
//   - Each topic is planned against the controller tables (name rules,
//     partitions, replication factor against the registered brokers,
//     every config declared and valid), then proposed to the controller
//     and answered once its partitions serve, bounded by the request's
//     timeout (REQUEST_TIMED_OUT after it; the topic may still appear).
//   - -1 partitions / replication factor take the node's defaults (v4+):
//     the replication factor is the node's default (3 unless set) capped
//     at the registered brokers; an explicit factor above them, 0 or
//     below -1 is INVALID_REPLICATION_FACTOR naming both numbers.
//   - Replicas are placed by the plan (cluster.Tables.PlanCreateTopic:
//     distinct brokers, leaders and replicas balanced over all topics), or
//     as the request assigns them: partitions numbered 0..n-1 in any
//     order, lists of one length, distinct registered brokers, else
//     INVALID_REPLICA_ASSIGNMENT (INVALID_REQUEST when partitions or the
//     factor are also given).
//   - ValidateOnly (v1+) plans and checks without proposing.
//   - A name repeated in one request fails every copy with INVALID_REQUEST,
//     as Kafka does.
//   - v5+ answers with the resolved partitions, replication factor and the
//     topic's configs (DescribeConfigs' view); v7 with the topic id.

import (
	"context"
	"fmt"

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
		var err error
		if len(t.ReplicaAssignment) > 0 {
			treq.Assignment, err = manualAssignment(t.Topic, t.ReplicaAssignment)
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
		var cmd *cluster.CreateTopic
		if err == nil {
			cmd, err = b.Tables().PlanCreateTopic(treq, NewTopicID(), b.Defaults())
		}
		if err == nil && !req.ValidateOnly {
			err = b.CreateTopic(ctx, cmd)
		}
		if err != nil {
			rt.ErrorCode = partitionErrorCode(err)
			rt.ErrorMessage = errMsg(err)
		} else {
			fillCreated(b, &rt, cmd, req.ValidateOnly)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// manualAssignment orders a CreateTopics replica assignment by partition
// index, which must run from 0 without gaps or repeats, in any order (as
// Kafka's controller accepts it); the replica lists are checked by the
// plan.
func manualAssignment(topic string, in []kmsg.CreateTopicsRequestTopicReplicaAssignment) ([][]model.NodeID, error) {
	out := make([][]model.NodeID, len(in))
	seen := make([]bool, len(in))
	for _, a := range in {
		p := int(a.Partition)
		switch {
		case p < 0 || p >= len(in):
			return nil, fmt.Errorf("%w: topic %q: partition %d assigned: partitions must be numbered 0 to %d", cluster.ErrInvalidReplicaAssignment, topic, a.Partition, len(in)-1)
		case seen[p]:
			return nil, fmt.Errorf("%w: topic %q: partition %d assigned more than once", cluster.ErrInvalidReplicaAssignment, topic, p)
		}
		seen[p] = true
		out[p] = make([]model.NodeID, len(a.Replicas))
		for i, r := range a.Replicas {
			out[p][i] = model.NodeID(r)
		}
	}
	return out, nil
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
