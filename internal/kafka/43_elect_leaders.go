package kafka

// ElectLeaders (key 43): v0–v2.
//
// Behaviour:
//   - Preferred elections (type 0; v0 has only these) move each named
//     partition's leadership to its preferred replica (the first of its
//     replicas), through the node that leads it, and answer once the
//     preferred replica leads or the request's timeout passes
//     (PREFERRED_LEADER_NOT_AVAILABLE then, as when it is down or behind).
//     A partition led by its preferred replica already answers
//     ELECTION_NOT_NEEDED; one with no leader LEADER_NOT_AVAILABLE.
//   - Unclean elections (type 1) are never performed (they can lose
//     acknowledged writes): a partition with a leader answers
//     ELECTION_NOT_NEEDED, one without ELIGIBLE_LEADERS_NOT_AVAILABLE.
//   - Null topics: every partition of every topic. Unknown topics and
//     partitions: UNKNOWN_TOPIC_OR_PARTITION; another type: INVALID_REQUEST.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
)

func electLeadersAPI(b Broker) API {
	return API{
		Key: 43, MinVersion: 0, MaxVersion: 2,
		Handle: func(ctx context.Context, r *Request) (kmsg.Response, error) {
			return electLeaders(ctx, b, r.Msg.(*kmsg.ElectLeadersRequest)), nil
		},
	}
}

func electLeaders(ctx context.Context, b Broker, req *kmsg.ElectLeadersRequest) *kmsg.ElectLeadersResponse {
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	ctx, cancel := requestContext(ctx, req.TimeoutMillis)
	defer cancel()
	tables := b.Tables()
	topics := req.Topics
	if topics == nil {
		for _, tp := range tables.Topics() {
			t := kmsg.NewElectLeadersRequestTopic()
			t.Topic = tp.Name
			for _, p := range tp.Partitions {
				t.Partitions = append(t.Partitions, int32(p.ID))
			}
			topics = append(topics, t)
		}
	}
	type slot struct{ t, p int }
	var keys []model.PartitionKey
	var slots []slot
	for _, t := range topics {
		rt := kmsg.NewElectLeadersResponseTopic()
		rt.Topic = t.Topic
		tp, known := tables.TopicByName(t.Topic)
		for _, p := range t.Partitions {
			rp := kmsg.NewElectLeadersResponseTopicPartition()
			rp.Partition = p
			key, ok := model.PartitionKey{}, false
			if known {
				key, ok = partitionKey(tp, p)
			}
			switch {
			case !ok:
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case req.Version >= 1 && req.ElectionType == 1:
				if b.Leadership(key).Leader >= 0 {
					rp.ErrorCode = kerr.ElectionNotNeeded.Code
				} else {
					rp.ErrorCode = kerr.EligibleLeadersNotAvailable.Code
				}
			case req.Version >= 1 && req.ElectionType != 0:
				rp.ErrorCode = kerr.InvalidRequest.Code
			default:
				keys = append(keys, key)
				slots = append(slots, slot{len(resp.Topics), len(rt.Partitions)})
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(keys) > 0 {
		for i, err := range b.ElectPreferred(ctx, keys) {
			rp := &resp.Topics[slots[i].t].Partitions[slots[i].p]
			switch {
			case err == nil:
			case errors.Is(err, partition.ErrElectionNotNeeded):
				rp.ErrorCode = kerr.ElectionNotNeeded.Code
			case errors.Is(err, partition.ErrNotLeader):
				rp.ErrorCode = kerr.LeaderNotAvailable.Code
			default:
				rp.ErrorCode = kerr.PreferredLeaderNotAvailable.Code
			}
			rp.ErrorMessage = errMsg(err)
		}
	}
	return resp
}
