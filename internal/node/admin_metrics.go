package node

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/group"
	"github.com/petrel-streaming/petrel/internal/kafka"
	"github.com/petrel-streaming/petrel/internal/metrics"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
)

// maxLagGroups bounds the groups whose offsets one scrape reads (and so
// the lag series): past it, the rest are left out of that scrape.
const maxLagGroups = 1000

// kafkaObserver adapts the node's metrics to kafka.Observer: topic IDs
// (Produce and Fetch v13+) become names through the current tables.
type kafkaObserver struct{ n *Node }

var _ kafka.Observer = kafkaObserver{}

func (o kafkaObserver) Request(key int16, took time.Duration, failed bool) {
	o.n.metrics.Request(key, took, failed)
}

func (o kafkaObserver) TopicBytes(in bool, name string, id [16]byte, n int) {
	if name == "" {
		tp, ok := o.n.Tables().TopicByID(model.TopicID(id))
		if !ok {
			return
		}
		name = tp.Name
	}
	o.n.metrics.TopicBytes(in, name, n)
}

// MetricsProbe is the node's state for a scrape: connections, memory
// budgets, every local partition's published read state and the
// committed offsets of every group (at most maxLagGroups).
func (n *Node) MetricsProbe(ctx context.Context) metrics.Probe {
	var p metrics.Probe
	if n.kafkaSrv != nil {
		st := n.kafkaSrv.Stats()
		p.Connections, p.InFlight = st.Connections, st.InFlight
		p.Budgets = append(p.Budgets, metrics.BudgetUse{Shard: "node", Subsystem: "kafka_decode",
			Used: st.DecodeBytesInUse, Limit: st.DecodeBytesMax})
	}
	for i, sb := range n.rt.Budgets().Shards {
		shard := strconv.Itoa(i)
		for _, b := range []struct {
			name string
			used func() int64
			lim  int64
		}{
			{"inbox", sb.Inbox.Used, sb.Inbox.Limit()},
			{"write_behind", sb.WriteBehind.Used, sb.WriteBehind.Limit()},
			{"batch_cache", sb.BatchCache.Used, sb.BatchCache.Limit()},
			{"decode", sb.Decode.Used, sb.Decode.Limit()},
			{"raft", sb.Raft.Used, sb.Raft.Limit()},
		} {
			p.Budgets = append(p.Budgets, metrics.BudgetUse{Shard: shard, Subsystem: b.name, Used: b.used(), Limit: b.lim})
		}
	}
	hw := map[model.PartitionKey]int64{}
	tables := n.Tables()
	n.replicas.Range(func(k, v any) bool {
		key := k.(model.PartitionKey)
		tp, ok := tables.TopicByID(key.Topic)
		rs := v.(*partition.Replica).State()
		if !ok || rs == nil {
			return true
		}
		hw[key] = int64(rs.HighWatermark)
		p.Partitions = append(p.Partitions, metrics.PartitionState{Topic: tp.Name, Partition: int32(key.Partition),
			Leader: rs.Leader, LeaderEpoch: rs.LeaderEpoch, HighWatermark: int64(rs.HighWatermark),
			LogStart: int64(rs.LogStart), LogEnd: int64(rs.LogEnd)})
		return true
	})
	p.Lags = n.groupOffsets(ctx, func(topic string, part int32) (int64, bool) {
		tp, ok := tables.TopicByName(topic)
		if !ok {
			return 0, false
		}
		h, ok := hw[model.PartitionKey{Topic: tp.ID, Partition: model.PartitionID(part)}]
		return h, ok
	})
	return p
}

// groupOffsets asks every coordinator for its groups and their committed
// offsets, paired with the partitions' high watermarks (partitions
// without a local replica are left out).
func (n *Node) groupOffsets(ctx context.Context, hw func(topic string, part int32) (int64, bool)) []metrics.GroupOffset {
	g := n.groups
	if g == nil || !g.loaded.Load() {
		return nil
	}
	var out []metrics.GroupOffset
	budget := maxLagGroups
	client := group.Client{ID: "petrel-metrics", Host: "admin"} // how the probe introduces itself
	for _, svc := range g.services {
		if budget <= 0 {
			break
		}
		lr := kmsg.NewPtrListGroupsRequest()
		lr.Version = 4
		resp, err := svc.Do(ctx, client, lr)
		if err != nil {
			continue
		}
		groups := resp.(*kmsg.ListGroupsResponse).Groups
		if len(groups) == 0 {
			continue
		}
		if len(groups) > budget {
			groups = groups[:budget]
		}
		budget -= len(groups)
		fr := kmsg.NewPtrOffsetFetchRequest()
		fr.Version = 8
		for _, lg := range groups {
			rg := kmsg.NewOffsetFetchRequestGroup()
			rg.Group = lg.Group // Topics nil: every committed offset
			fr.Groups = append(fr.Groups, rg)
		}
		resp, err = svc.Do(ctx, client, fr)
		if err != nil {
			continue
		}
		for _, rg := range resp.(*kmsg.OffsetFetchResponse).Groups {
			for _, t := range rg.Topics {
				for _, pt := range t.Partitions {
					h, ok := hw(t.Topic, pt.Partition)
					if pt.ErrorCode != 0 || pt.Offset < 0 || !ok {
						continue
					}
					out = append(out, metrics.GroupOffset{Group: rg.Group, Topic: t.Topic, Partition: pt.Partition,
						Committed: pt.Offset, HighWatermark: h})
				}
			}
		}
	}
	return out
}
