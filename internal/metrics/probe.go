package metrics

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ProbeFunc returns the node's state at scrape time. It runs on the
// scraping goroutine and must return by ctx's deadline.
type ProbeFunc func(ctx context.Context) Probe

// Probe is a plain snapshot of what the node knows, turned into series
// at scrape time (STYLE 10: metrics come from plain probe structs).
type Probe struct {
	Connections int
	InFlight    int64 // requests read and not yet answered
	Budgets     []BudgetUse
	Partitions  []PartitionState
	// Lags are the committed offsets of consumer groups, with the high
	// watermark of their partitions.
	Lags []GroupOffset
}

// BudgetUse is one memory budget; Shard is "node" for node-wide ones.
type BudgetUse struct {
	Shard, Subsystem string
	Used, Limit      int64
}

// PartitionState is one local replica's published state.
type PartitionState struct {
	Topic         string
	Partition     int32
	Leader        bool
	LeaderEpoch   int32
	HighWatermark int64
	LogStart      int64
	LogEnd        int64
}

// GroupOffset is a group's committed offset on one partition.
type GroupOffset struct {
	Group, Topic  string
	Partition     int32
	Committed     int64
	HighWatermark int64
}

// Lag is the number of records the group has not committed yet, never
// negative (a committed offset past the watermark, e.g. after the log
// was truncated, is no lag).
func (g GroupOffset) Lag() int64 { return max(0, g.HighWatermark-g.Committed) }

// scrapeTimeout bounds one probe (group offsets are asked of the
// coordinators).
const scrapeTimeout = 5 * time.Second

type partKey struct {
	topic string
	part  int32
}

// probeCollector turns a Probe into const metrics at each scrape.
type probeCollector struct {
	opts Options
	m    *Metrics // for pruning topic counters

	mu       sync.Mutex
	fn       ProbeFunc
	epochs   map[partKey]int32 // the last leader epoch counted, per partition
	changes  uint64
	descs    []*prometheus.Desc
	conns    *prometheus.Desc
	inflight *prometheus.Desc
	used     *prometheus.Desc
	limit    *prometheus.Desc
	leaders  *prometheus.Desc
	parts    *prometheus.Desc
	changed  *prometheus.Desc
	hw       *prometheus.Desc
	start    *prometheus.Desc
	end      *prometheus.Desc
	lag      *prometheus.Desc
	commit   *prometheus.Desc
}

func newProbeCollector(m *Metrics, opts Options) *probeCollector {
	c := &probeCollector{opts: opts, m: m, epochs: map[partKey]int32{}}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		desc := prometheus.NewDesc(name, help, labels, nil)
		c.descs = append(c.descs, desc)
		return desc
	}
	c.conns = d("petrel_kafka_connections", "Open Kafka connections.")
	c.inflight = d("petrel_kafka_requests_in_flight", "Kafka requests read and not yet answered.")
	c.used = d("petrel_memory_budget_used_bytes", "Bytes held in a memory budget.", "shard", "subsystem")
	c.limit = d("petrel_memory_budget_limit_bytes", "A memory budget's bound.", "shard", "subsystem")
	c.leaders = d("petrel_raft_leaders", "Partition replicas on this node that lead their Raft group and serve.")
	c.parts = d("petrel_partitions", "Partition replicas hosted by this node.")
	c.changed = d("petrel_raft_leadership_changes_total",
		"Leadership changes seen on this node's replicas: each leader epoch begun (counted from the published epochs, so none is missed between scrapes).")
	if opts.PartitionSeries {
		c.hw = d("petrel_partition_high_watermark", "A partition's high watermark.", "topic", "partition")
		c.start = d("petrel_partition_log_start_offset", "A partition's log start offset.", "topic", "partition")
		c.end = d("petrel_partition_log_end_offset", "A partition's log end offset.", "topic", "partition")
		c.lag = d("petrel_consumer_group_lag", "Records a group has not committed: high watermark minus committed offset.", "group", "topic", "partition")
		c.commit = d("petrel_consumer_group_committed_offset", "A group's committed offset.", "group", "topic", "partition")
	} else {
		c.lag = d("petrel_consumer_group_lag", "Records a group has not committed, summed over the topic's partitions.", "group", "topic")
	}
	return c
}

func (c *probeCollector) set(fn ProbeFunc) {
	c.mu.Lock()
	c.fn = fn
	c.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (c *probeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *probeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	fn := c.fn
	c.mu.Unlock()
	if fn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	p := fn(ctx)

	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(c.conns, float64(p.Connections))
	gauge(c.inflight, float64(p.InFlight))
	for _, b := range p.Budgets {
		gauge(c.used, float64(b.Used), b.Shard, b.Subsystem)
		gauge(c.limit, float64(b.Limit), b.Shard, b.Subsystem)
	}
	leaders := 0
	topics := make(map[string]bool)
	for _, s := range p.Partitions {
		topics[s.Topic] = true
		if s.Leader {
			leaders++
		}
		if c.opts.PartitionSeries {
			part := strconv.Itoa(int(s.Partition))
			gauge(c.hw, float64(s.HighWatermark), s.Topic, part)
			gauge(c.start, float64(s.LogStart), s.Topic, part)
			gauge(c.end, float64(s.LogEnd), s.Topic, part)
		}
	}
	gauge(c.leaders, float64(leaders))
	gauge(c.parts, float64(len(p.Partitions)))
	ch <- prometheus.MustNewConstMetric(c.changed, prometheus.CounterValue, float64(c.countChanges(p.Partitions)))
	c.collectLag(ch, p.Lags)
	if c.m != nil {
		c.m.pruneTopics(func(t string) bool { return topics[t] })
	}
}

// countChanges adds the leader epochs begun since the last scrape and
// returns the total. A partition first seen leading counts one; the
// table holds only partitions present now, so it is bounded by them.
func (c *probeCollector) countChanges(parts []PartitionState) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make(map[partKey]bool, len(parts))
	for _, s := range parts {
		k := partKey{s.Topic, s.Partition}
		seen[k] = true
		last, ok := c.epochs[k]
		switch {
		case !ok:
			if s.Leader {
				c.changes++
			}
		case s.LeaderEpoch > last:
			c.changes += uint64(s.LeaderEpoch - last)
		default:
			continue
		}
		c.epochs[k] = s.LeaderEpoch
	}
	for k := range c.epochs {
		if !seen[k] {
			delete(c.epochs, k)
		}
	}
	return c.changes
}

func (c *probeCollector) collectLag(ch chan<- prometheus.Metric, lags []GroupOffset) {
	if c.opts.PartitionSeries {
		for _, g := range lags {
			part := strconv.Itoa(int(g.Partition))
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(g.Lag()), g.Group, g.Topic, part)
			ch <- prometheus.MustNewConstMetric(c.commit, prometheus.GaugeValue, float64(g.Committed), g.Group, g.Topic, part)
		}
		return
	}
	type gt struct{ group, topic string }
	sums := make(map[gt]int64)
	var order []gt
	for _, g := range lags {
		k := gt{g.Group, g.Topic}
		if _, ok := sums[k]; !ok {
			order = append(order, k)
		}
		sums[k] += g.Lag()
	}
	for _, k := range order {
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(sums[k]), k.group, k.topic)
	}
}
