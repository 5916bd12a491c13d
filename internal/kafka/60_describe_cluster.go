package kafka

// DescribeCluster (key 60): v0–v2.
//
// Behaviour:
//   - Answers the cluster id, the controller (the controller group's
//     leader as this node knows it, -1 while unknown) and every broker
//     as Metadata lists them (leaders.go): registered address and rack,
//     this node at its advertised address. No broker is ever fenced.
//   - EndpointType (v1+) 1 (brokers) is served; 2 (controllers) is
//     UNSUPPORTED_ENDPOINT_TYPE, as a Kafka broker answers it.
//   - Authorized operations are not computed (no ACLs yet): the field is
//     -2147483648 ("not requested/unknown"), whatever the request asks.

import (
	"context"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func describeClusterAPI(b Broker) API {
	return API{
		Key: 60, MinVersion: 0, MaxVersion: 2,
		Handle: func(_ context.Context, r *Request) (kmsg.Response, error) {
			return describeCluster(b, r.Msg.(*kmsg.DescribeClusterRequest)), nil
		},
	}
}

func describeCluster(b Broker, req *kmsg.DescribeClusterRequest) *kmsg.DescribeClusterResponse {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.ClusterAuthorizedOperations = math.MinInt32
	resp.EndpointType = 1
	if req.Version >= 1 && req.EndpointType != 1 {
		resp.EndpointType = req.EndpointType
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		msg := "only broker endpoints are served"
		resp.ErrorMessage = &msg
		return resp
	}
	resp.ClusterID = b.ClusterID()
	resp.ControllerID = int32(b.ControllerID())
	for _, e := range brokerEndpoints(b, b.Tables(), b.ControllerID()) {
		br := kmsg.NewDescribeClusterResponseBroker()
		br.NodeID, br.Host, br.Port, br.Rack = e.id, e.host, e.port, e.rack
		resp.Brokers = append(resp.Brokers, br)
	}
	return resp
}
