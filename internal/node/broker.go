package node

import (
	"context"
	"fmt"
	"time"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/kafka"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
	"github.com/petrel-streaming/petrel/internal/shard"
)

// Produce implements kafka.Broker: the batches are grouped by owning shard
// and each shard gets one message proposing all of its batches.
func (n *Node) Produce(ctx context.Context, batches []kafka.ProduceBatch, done func(int, partition.ProduceResult)) {
	byShard := make(map[model.ShardID][]int)
	for i := range batches {
		pb := &batches[i]
		if pb.LogAppendTime != 0 {
			if b, _, err := model.ParseBatch(pb.Batch); err == nil {
				b.SetLogAppendTime(pb.LogAppendTime)
			}
		}
		s := n.shardOf(pb.Key)
		byShard[s] = append(byShard[s], i)
	}
	for s, idx := range byShard {
		err := n.rt.InvokeOn(ctx, s, func(sh *shard.Shard) {
			m := n.shards[sh.ID()]
			for _, i := range idx {
				r := m.Replica(batches[i].Key)
				if r == nil {
					done(i, partition.ProduceResult{Err: partition.ErrNotLeader})
					continue
				}
				r.Produce(batches[i].Batch, func(pr partition.ProduceResult) { done(i, pr) })
			}
		})
		if err != nil {
			for _, i := range idx {
				done(i, partition.ProduceResult{Err: fmt.Errorf("%w: %v", partition.ErrOverloaded, err)})
			}
		}
	}
}

// CreateTopic implements kafka.Broker.
func (n *Node) CreateTopic(ctx context.Context, cmd *cluster.CreateTopic) error {
	if _, err := n.ctrl.propose(ctx, cmd); err != nil {
		return err
	}
	return n.waitServing(ctx, cmd.ID)
}

// waitServing waits until every local partition of a topic has a leader
// (here or on a peer).
func (n *Node) waitServing(ctx context.Context, id model.TopicID) error {
	if err := n.ctrl.waitReconciled(ctx, n.Tables().Version()); err != nil {
		return err
	}
	tp, ok := n.Tables().TopicByID(id)
	if !ok {
		return nil
	}
	for _, p := range tp.Partitions {
		key := model.PartitionKey{Topic: id, Partition: p.ID}
		for {
			rs := n.ReadState(key)
			if rs == nil && n.transport != nil {
				break // hosted elsewhere
			}
			if rs != nil && (rs.Leader || rs.LeaderID >= 0 && rs.LeaderID != n.cfg.NodeID) {
				break
			}
			var ch <-chan struct{}
			if rs != nil {
				ch = rs.Changed()
			}
			select {
			case <-ch:
			case <-time.After(5 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// DeleteTopic implements kafka.Broker.
func (n *Node) DeleteTopic(ctx context.Context, id model.TopicID) error {
	if _, err := n.ctrl.propose(ctx, &cluster.DeleteTopic{ID: id}); err != nil {
		return err
	}
	return n.ctrl.waitReconciled(ctx, n.Tables().Version())
}

// Propose implements kafka.Broker.
func (n *Node) Propose(ctx context.Context, cmd cluster.Command) (cluster.Result, error) {
	res, err := n.ctrl.propose(ctx, cmd)
	if err != nil {
		return res, err
	}
	return res, n.ctrl.waitReconciled(ctx, n.Tables().Version())
}
