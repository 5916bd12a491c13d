package kafka

// ListPartitionReassignments (key 46): v0.
//
// Behaviour:
//   - Answers from the controller tables: every partition with a move in
//     progress (a non-nil Target), of every topic when topics are null,
//     else of the partitions named. Unknown topics and partitions, and
//     partitions not moving, are left out, as Kafka does.
//   - Kafka's convention: Replicas is the full set during the move (the
//     current replicas, then the target's others, in order),
//     AddingReplicas = Target − Replicas, RemovingReplicas = Replicas −
//     Target.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
)

func listPartitionReassignmentsAPI(b Broker) API {
	return API{
		Key: 46, MinVersion: 0, MaxVersion: 0,
		Handle: func(_ context.Context, r *Request) (kmsg.Response, error) {
			return listPartitionReassignments(b, r.Msg.(*kmsg.ListPartitionReassignmentsRequest)), nil
		},
	}
}

func listPartitionReassignments(b Broker, req *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse {
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	tables := b.Tables()
	add := func(tp *cluster.Topic, parts []int32) {
		rt := kmsg.NewListPartitionReassignmentsResponseTopic()
		rt.Topic = tp.Name
		for _, id := range parts {
			if id < 0 || int(id) >= len(tp.Partitions) || tp.Partitions[id].Target == nil {
				continue
			}
			p := &tp.Partitions[id]
			rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
			rp.Partition = id
			rp.AddingReplicas = nodeIDs(minus(p.Target, p.Replicas))
			rp.RemovingReplicas = nodeIDs(minus(p.Replicas, p.Target))
			rp.Replicas = append(nodeIDs(p.Replicas), rp.AddingReplicas...)
			rt.Partitions = append(rt.Partitions, rp)
		}
		if len(rt.Partitions) > 0 {
			resp.Topics = append(resp.Topics, rt)
		}
	}
	if req.Topics == nil {
		for _, tp := range tables.Topics() {
			all := make([]int32, len(tp.Partitions))
			for i := range all {
				all[i] = int32(i)
			}
			add(tp, all)
		}
		return resp
	}
	for _, t := range req.Topics {
		if tp, ok := tables.TopicByName(t.Topic); ok {
			add(tp, t.Partitions)
		}
	}
	return resp
}

// minus returns the ids of a not in b, in a's order.
func minus(a, b []model.NodeID) []model.NodeID {
	var out []model.NodeID
	for _, id := range a {
		if !slices.Contains(b, id) {
			out = append(out, id)
		}
	}
	return out
}
