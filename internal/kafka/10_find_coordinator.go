package kafka

// FindCoordinator (key 10): v0–v6.
//
// Behaviour:
//   - Group coordinators (key type 0): this node, which hosts every
//     partition of __consumer_offsets on a single node.
//   - Transaction coordinators (key type 1): COORDINATOR_NOT_AVAILABLE
//     until transactions exist; other key types: INVALID_REQUEST.
//   - v4+ answers each of several keys (KIP-699); v0–v3 one key.
//   - An empty group id is INVALID_REQUEST (Kafka: INVALID_GROUP_ID for
//     JoinGroup, but FindCoordinator of "" is refused as invalid).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

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
	host, port := b.Advertised()
	answer := func(key string) (int32, string, int32, int16) {
		switch {
		case req.CoordinatorType == 1:
			return -1, "", -1, kerr.CoordinatorNotAvailable.Code
		case req.CoordinatorType != 0 || key == "":
			return -1, "", -1, kerr.InvalidRequest.Code
		}
		return b.NodeID(), host, port, 0
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
