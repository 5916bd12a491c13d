package kafka

// AlterPartitionReassignments (key 45): v0–v1.
//
// Behaviour:
//   - Each topic's partitions become one cluster.AlterReassignments,
//     pre-checked against the tables (Tables.CheckMoves) and proposed
//     through the controller; the answer is per partition, from the
//     command's Result.Moves (the controller's judgement once it applied).
//     The move itself happens afterwards: nodes move the partition's Raft
//     voters and complete it (see ListPartitionReassignments).
//   - Replicas set a partition's target (distinct registered brokers,
//     preferred leader first; the replication factor may change, unless
//     v1's AllowReplicationFactorChange is false: then a target of another
//     size is INVALID_REPLICATION_FACTOR). A target equal to the replicas
//     with no move in progress changes nothing. Null replicas cancel a
//     move (NO_REASSIGNMENT_IN_PROGRESS when there is none).
//   - Unknown topics and partitions: UNKNOWN_TOPIC_OR_PARTITION; bad
//     targets: INVALID_REPLICA_ASSIGNMENT; a topic or a partition named
//     twice: INVALID_REQUEST for each copy; REQUEST_TIMED_OUT when the
//     request's timeout passes before the controller applied the change
//     (it may still apply). The top-level error stays 0 (Kafka's
//     request-level errors are NOT_CONTROLLER and authorization, which
//     do not arise: any node forwards to the controller).

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
)

func alterPartitionReassignmentsAPI(b Broker) API {
	return API{
		Key: 45, MinVersion: 0, MaxVersion: 1,
		Handle: func(ctx context.Context, r *Request) (kmsg.Response, error) {
			return alterPartitionReassignments(ctx, b, r.Msg.(*kmsg.AlterPartitionAssignmentsRequest)), nil
		},
	}
}

func alterPartitionReassignments(ctx context.Context, b Broker, req *kmsg.AlterPartitionAssignmentsRequest) *kmsg.AlterPartitionAssignmentsResponse {
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.AllowReplicationFactorChange = req.Version < 1 || req.AllowReplicationFactorChange
	ctx, cancel := requestContext(ctx, req.TimeoutMillis)
	defer cancel()
	seen := nameCounts(req.Topics, func(t kmsg.AlterPartitionAssignmentsRequestTopic) string { return t.Topic })
	for _, t := range req.Topics {
		errs := reassignTopic(ctx, b, t, seen[t.Topic] > 1, resp.AllowReplicationFactorChange)
		rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		rt.Topic = t.Topic
		for i, p := range t.Partitions {
			rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode, rp.ErrorMessage = reassignErrorCode(errs[i]), errMsg(errs[i])
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// reassignTopic checks, proposes and answers one topic's partitions: an
// error (or nil) per partition, in the request's order.
func reassignTopic(ctx context.Context, b Broker, t kmsg.AlterPartitionAssignmentsRequestTopic, dupTopic, allowRF bool) []error {
	errs := make([]error, len(t.Partitions))
	fail := func(err error) []error {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	if dupTopic {
		return fail(fmt.Errorf("%w: topic named more than once in the request", cluster.ErrInvalidRequest))
	}
	tables := b.Tables()
	tp, ok := tables.TopicByName(t.Topic)
	if !ok {
		return fail(fmt.Errorf("%w: topic %q", cluster.ErrUnknownTopic, t.Topic))
	}
	counts := nameCounts(t.Partitions, func(p kmsg.AlterPartitionAssignmentsRequestTopicPartition) string {
		return strconv.Itoa(int(p.Partition))
	})
	cmd := &cluster.AlterReassignments{Topic: tp.ID}
	var slots []int // request index of each move in cmd
	for i, p := range t.Partitions {
		m, err := requestMove(tp, p, counts[strconv.Itoa(int(p.Partition))] > 1, allowRF)
		if err == nil {
			var checks []error
			if checks, err = tables.CheckMoves(&cluster.AlterReassignments{Topic: tp.ID, Moves: []cluster.Move{m}}); err == nil {
				err = checks[0]
			}
		}
		if errs[i] = err; err == nil {
			cmd.Moves = append(cmd.Moves, m)
			slots = append(slots, i)
		}
	}
	if len(cmd.Moves) == 0 {
		return errs
	}
	res, err := b.Propose(ctx, cmd)
	for k, i := range slots {
		switch {
		case err != nil:
			errs[i] = err
		case k < len(res.Moves):
			errs[i] = res.Moves[k].Err
		}
	}
	return errs
}

// requestMove turns one requested partition into a Move, refusing what
// the command cannot carry or the request does not allow.
func requestMove(tp *cluster.Topic, p kmsg.AlterPartitionAssignmentsRequestTopicPartition, dup, allowRF bool) (cluster.Move, error) {
	m := cluster.Move{Partition: model.PartitionID(p.Partition)}
	switch {
	case dup:
		return m, fmt.Errorf("%w: partition %d named more than once in the request", cluster.ErrInvalidRequest, p.Partition)
	case p.Partition < 0 || int(p.Partition) >= len(tp.Partitions):
		return m, fmt.Errorf("%w: topic %q has no partition %d", cluster.ErrUnknownTopic, tp.Name, p.Partition)
	case p.Replicas == nil:
		return m, nil // cancel
	case len(p.Replicas) > cluster.MaxReplicationFactor:
		return m, fmt.Errorf("%w: topic %q: partition %d has %d replicas, at most %d", cluster.ErrInvalidReplicaAssignment, tp.Name, p.Partition, len(p.Replicas), cluster.MaxReplicationFactor)
	case !allowRF && len(p.Replicas) > 0 && len(p.Replicas) != len(tp.Partitions[p.Partition].Replicas):
		return m, fmt.Errorf("%w: topic %q: partition %d has %d replicas: the request does not allow changing it to %d", cluster.ErrInvalidReplicationFactor, tp.Name, p.Partition, len(tp.Partitions[p.Partition].Replicas), len(p.Replicas))
	}
	m.Target = make([]model.NodeID, len(p.Replicas))
	for i, r := range p.Replicas {
		m.Target[i] = model.NodeID(r)
	}
	return m, nil
}

// reassignErrorCode is partitionErrorCode, with a topic deleted since the
// request was read answered as unknown, as Kafka does.
func reassignErrorCode(err error) int16 {
	if errors.Is(err, cluster.ErrUnknownTopicID) {
		return kerr.UnknownTopicOrPartition.Code
	}
	return partitionErrorCode(err)
}
