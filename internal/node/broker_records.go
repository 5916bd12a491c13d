package node

import (
	"context"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
	"github.com/petrel-streaming/petrel/internal/shard"
)

// onReplica runs fn on the shard that owns key, with its replica
// (ErrNotLeader when this node does not host it).
func (n *Node) onReplica(ctx context.Context, key model.PartitionKey, fn func(*partition.Replica) error) error {
	var err error
	if ierr := n.rt.InvokeOn(ctx, n.shardOf(key), func(s *shard.Shard) {
		r := n.shards[s.ID()].Replica(key)
		if r == nil {
			err = partition.ErrNotLeader
			return
		}
		err = fn(r)
	}); ierr != nil {
		return ierr
	}
	return err
}

// DeleteRecords implements kafka.Broker: it answers once the new log
// start is committed (a majority of the replicas have it) and applied by
// this leader.
func (n *Node) DeleteRecords(ctx context.Context, key model.PartitionKey, before model.Offset) (model.Offset, error) {
	var start model.Offset
	err := n.onReplica(ctx, key, func(r *partition.Replica) error {
		var err error
		start, err = r.DeleteRecords(before)
		return err
	})
	if err != nil {
		return start, err
	}
	for {
		rs := n.ReadState(key)
		switch {
		case rs == nil || !rs.Leader:
			return -1, partition.ErrNotLeader
		case rs.LogStart >= start:
			return rs.LogStart, nil
		}
		select {
		case <-rs.Changed():
		case <-ctx.Done():
			return -1, ctx.Err()
		}
	}
}

// Producers implements kafka.Broker.
func (n *Node) Producers(ctx context.Context, key model.PartitionKey) ([]partition.ProducerInfo, error) {
	var out []partition.ProducerInfo
	err := n.onReplica(ctx, key, func(r *partition.Replica) error {
		out = r.Producers()
		return nil
	})
	return out, err
}
