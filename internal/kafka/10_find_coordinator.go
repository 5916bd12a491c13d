package kafka

// FindCoordinator (key 10): v0–v6.
//
// Behaviour:
//   - Group coordinators (key type 0): the leader of the group's
//     partition of __consumer_offsets (group.PartitionFor, as the group
//     keys route), at its endpoint as Metadata lists it;
//     COORDINATOR_NOT_AVAILABLE while that partition has no known leader.
//     Before __consumer_offsets exists: this node.
//   - Transaction coordinators (key type 1): COORDINATOR_NOT_AVAILABLE
//     until transactions exist; other key types: INVALID_REQUEST.
//   - v4+ answers each of several keys (KIP-699); v0–v3 one key.
//   - An empty group id is INVALID_REQUEST (Kafka: INVALID_GROUP_ID for
//     JoinGroup, but FindCoordinator of "" is refused as invalid).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/group"
	"github.com/petrel-streaming/petrel/internal/model"
)

// offsetsTopic holds the groups' offsets; a group's coordinator is the
// leader of its partition.
const offsetsTopic = "__consumer_offsets"

func findCoordinatorAPI(b Broker) API {
	return API{
		Key: 10, MinVersion: 0, MaxVersion: 6,
		Handle: func(_ context.Context, r *Request) (kmsg.Response, error) {
			return findCoordinator(b, r.Msg.(*kmsg.FindCoordinatorRequest)), nil
		},
	}
}

func findCoordinator(b Broker, req *kmsg.FindCoordinatorRequest) *kmsg.FindCoordinatorResponse {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	tables := b.Tables()
	offsets, haveOffsets := tables.TopicByName(offsetsTopic)
	answer := func(key string) (int32, string, int32, int16) {
		switch {
		case req.CoordinatorType == 1:
			return -1, "", -1, kerr.CoordinatorNotAvailable.Code
		case req.CoordinatorType != 0 || key == "":
			return -1, "", -1, kerr.InvalidRequest.Code
		}
		leader := model.NodeID(b.NodeID())
		if haveOffsets && len(offsets.Partitions) > 0 {
			p := group.PartitionFor(key, len(offsets.Partitions))
			leader = b.Leadership(model.PartitionKey{Topic: offsets.ID, Partition: model.PartitionID(p)}).Leader
		}
		e, ok := brokerEndpoint(b, tables, leader)
		if leader < 0 || !ok {
			return -1, "", -1, kerr.CoordinatorNotAvailable.Code
		}
		return e.id, e.host, e.port, 0
	}
	if req.Version < 4 {
		resp.NodeID, resp.Host, resp.Port, resp.ErrorCode = answer(req.CoordinatorKey)
		return resp
	}
	for _, k := range req.CoordinatorKeys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key = k
		c.NodeID, c.Host, c.Port, c.ErrorCode = answer(k)
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return resp
}
