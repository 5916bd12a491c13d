package kafka

// InitProducerId (key 22): v0–v5, for idempotent producers.
//
// Behaviour:
//   - Without a transactional id: a new producer id, epoch 0. Ids come
//     from blocks the controller allocates (AllocateProducerIDs), so they
//     are unique across restarts and, later, across the cluster.
//   - v3+ (KIP-360) with an existing producer id and epoch: a new id as
//     well (epoch bumps need transaction state, which comes with
//     transactions).
//   - A transactional id: transactions are not supported yet, so
//     INVALID_REQUEST (a retriable code such as COORDINATOR_NOT_AVAILABLE
//     would make the client retry forever).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ProducerIDs hands out producer ids; the node implements it over the
// controller's blocks.
type ProducerIDs interface {
	NextProducerID(ctx context.Context) (int64, error)
}

func initProducerIDAPI(ids ProducerIDs) API {
	return API{
		Key: 22, MinVersion: 0, MaxVersion: 5,
		Handle: func(ctx context.Context, r *Request) (kmsg.Response, error) {
			req := r.Msg.(*kmsg.InitProducerIDRequest)
			resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
			resp.ProducerID, resp.ProducerEpoch = -1, -1
			if req.TransactionalID != nil {
				resp.ErrorCode = kerr.InvalidRequest.Code
				return resp, nil
			}
			id, err := ids.NextProducerID(ctx)
			if err != nil {
				resp.ErrorCode = partitionErrorCode(err)
				if resp.ErrorCode == kerr.UnknownServerError.Code {
					resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
				}
				return resp, nil
			}
			resp.ProducerID, resp.ProducerEpoch = id, 0
			return resp, nil
		},
	}
}
