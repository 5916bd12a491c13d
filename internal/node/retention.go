package node

import (
	"context"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/shard"
	"github.com/petrel-streaming/petrel/internal/storage"
)

// defaultRetentionInterval is how often every partition's segment.bytes,
// segment.ms, retention.ms and retention.bytes are applied when
// Config.RetentionCheckInterval is zero (Kafka checks every 5 minutes;
// a check costs one message per shard and rarely deletes anything).
const defaultRetentionInterval = time.Minute

func (n *Node) retentionInterval() time.Duration {
	if n.cfg.RetentionCheckInterval > 0 {
		return n.cfg.RetentionCheckInterval
	}
	return defaultRetentionInterval
}

// retain runs until stop: once per interval, each shard applies its
// partitions' retention policies (one message per shard, no timer per
// partition).
func (n *Node) retain(stop <-chan struct{}) {
	t := time.NewTicker(n.retentionInterval())
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		n.retainOnce()
	}
}

func (n *Node) retainOnce() {
	type topicPolicy struct {
		segBytes int64
		segAge   time.Duration
		keep     storage.RetentionPolicy
	}
	tables := n.Tables()
	policies := make(map[model.PartitionKey]topicPolicy)
	for _, tp := range tables.Topics() {
		pol := topicPolicy{segBytes: tp.Config.SegmentBytes, segAge: time.Duration(tp.Config.SegmentMs) * time.Millisecond,
			keep: storage.RetentionPolicy{Bytes: tp.Config.RetentionBytes}}
		if tp.Config.RetentionMs > 0 {
			pol.keep.Age = time.Duration(tp.Config.RetentionMs) * time.Millisecond
		}
		for _, p := range tp.Partitions {
			policies[model.PartitionKey{Topic: tp.ID, Partition: p.ID}] = pol
		}
	}
	if len(policies) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.retentionInterval())
	defer cancel()
	for i := range n.shards {
		_ = n.rt.InvokeOn(ctx, model.ShardID(i), func(s *shard.Shard) {
			m := n.shards[s.ID()]
			for key, pol := range policies {
				if n.shardOf(key) != s.ID() {
					continue
				}
				r := m.Replica(key)
				if r == nil {
					continue
				}
				r.SetSegmentLimits(pol.segBytes, pol.segAge)
				if pol.keep.Bytes <= 0 && pol.keep.Age <= 0 {
					continue
				}
				if _, err := r.Retain(pol.keep); err != nil {
					n.log.Warn("retention", "partition", key.String(), "err", err)
				}
			}
		})
	}
}
