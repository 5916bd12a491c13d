package kafka

// DescribeCluster (key 60): v0–v2.
//
// Behaviour:
//   - Answers the cluster id, the controller (this node: a single node
//     is its own controller) and the brokers: this node at its advertised
//     address, with its registered rack. No broker is ever fenced.
//   - EndpointType (v1+) 1 (brokers) is served; 2 (controllers) is
//     UNSUPPORTED_ENDPOINT_TYPE, as a Kafka broker answers it.
//   - Authorized operations are not computed (no ACLs yet): the field is
//     -2147483648 ("not requested/unknown"), whatever the request asks.

import (
	"context"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/model"
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
	resp.ControllerID = b.NodeID()
	br := kmsg.NewDescribeClusterResponseBroker()
	br.NodeID = b.NodeID()
	br.Host, br.Port = b.Advertised()
	if reg, ok := b.Tables().Broker(model.NodeID(b.NodeID())); ok && reg.Rack != "" {
		rack := reg.Rack
		br.Rack = &rack
	}
	resp.Brokers = append(resp.Brokers, br)
	return resp
}
