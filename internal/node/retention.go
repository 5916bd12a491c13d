package node

import (
	"context"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/shard"
	"github.com/petrel-streaming/petrel/internal/storage"
)

// retentionInterval is how often every partition's retention.ms and
// retention.bytes are applied (Kafka's log.retention.check.interval.ms is
// 5 minutes; segments are large, so a check is cheap and rarely deletes).
const retentionInterval = time.Minute

// retain runs until stop: once per interval, each shard applies its
// partitions' retention policies (one message per shard, no timer per
// partition).
func (n *Node) retain(stop <-chan struct{}) {
	t := time.NewTicker(retentionInterval)
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
	tables := n.Tables()
	policies := make(map[model.PartitionKey]storage.RetentionPolicy)
	for _, tp := range tables.Topics() {
		pol := storage.RetentionPolicy{Bytes: tp.Config.RetentionBytes}
		if tp.Config.RetentionMs > 0 {
			pol.Age = time.Duration(tp.Config.RetentionMs) * time.Millisecond
		}
		if pol.Bytes <= 0 && pol.Age <= 0 {
			continue
		}
		for _, p := range tp.Partitions {
			policies[model.PartitionKey{Topic: tp.ID, Partition: p.ID}] = pol
		}
	}
	if len(policies) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), retentionInterval)
	defer cancel()
	for i := range n.shards {
		_ = n.rt.InvokeOn(ctx, model.ShardID(i), func(s *shard.Shard) {
			m := n.shards[s.ID()]
			for key, pol := range policies {
				if n.shardOf(key) != s.ID() {
					continue
				}
				if r := m.Replica(key); r != nil {
					if _, err := r.Retain(pol); err != nil {
						n.log.Warn("retention", "partition", key.String(), "err", err)
					}
				}
			}
		})
	}
}
