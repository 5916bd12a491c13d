package node

import (
	"cmp"
	"errors"
	"net"
	"slices"
	"strconv"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
)

// The admin API's typed snapshots (STYLE 10): each is a plain struct a
// handler only serialises. Field names follow Redpanda's admin API where
// it has the endpoint, so its tools and habits carry over. Any goroutine.

// kafkaNamespace is the namespace of Kafka topics in partition paths
// (/v1/partitions/kafka/{topic}/{partition}), as in Redpanda.
const kafkaNamespace = "kafka"

// errNotFound: the broker, topic or partition asked for does not exist.
var errNotFound = errors.New("node: not found")

// BrokerInfo is one broker, as /v1/brokers lists it.
type BrokerInfo struct {
	NodeID             int32  `json:"node_id"`
	NumCores           int    `json:"num_cores"`
	Rack               string `json:"rack,omitempty"`
	InternalRPCAddress string `json:"internal_rpc_address"`
	InternalRPCPort    int    `json:"internal_rpc_port"`
	KafkaAddress       string `json:"kafka_address"`
	MembershipStatus   string `json:"membership_status"` // active, or draining (decommissioned)
	IsAlive            bool   `json:"is_alive"`
	Maintenance        bool   `json:"maintenance"`
}

// BrokersSnapshot lists the registered brokers, by node id.
func (n *Node) BrokersSnapshot() []BrokerInfo {
	bs := n.Tables().Brokers()
	out := make([]BrokerInfo, 0, len(bs))
	for _, b := range bs {
		out = append(out, n.brokerInfo(b))
	}
	slices.SortFunc(out, func(a, b BrokerInfo) int { return cmp.Compare(a.NodeID, b.NodeID) })
	return out
}

// BrokerSnapshot is one broker, or errNotFound.
func (n *Node) BrokerSnapshot(id model.NodeID) (BrokerInfo, error) {
	b, ok := n.Tables().Broker(id)
	if !ok {
		return BrokerInfo{}, errNotFound
	}
	return n.brokerInfo(b), nil
}

func (n *Node) brokerInfo(b cluster.Broker) BrokerInfo {
	bi := BrokerInfo{NodeID: int32(b.NodeID), Rack: b.Rack, KafkaAddress: b.KafkaAddr, MembershipStatus: "active",
		InternalRPCAddress: b.RPCAddr}
	if h, p, err := net.SplitHostPort(b.RPCAddr); err == nil {
		bi.InternalRPCAddress = h
		bi.InternalRPCPort, _ = strconv.Atoi(p)
	}
	if b.Draining {
		bi.MembershipStatus = "draining"
	}
	bi.Maintenance = b.Maintenance
	if b.NodeID == n.cfg.NodeID {
		// Other brokers' core counts are not known here.
		bi.NumCores, bi.IsAlive = n.meta.Shards, n.ready.Load()
	} else {
		bi.IsAlive = n.Live(b.NodeID)
	}
	return bi
}

// HealthOverview is /v1/cluster/health_overview.
type HealthOverview struct {
	IsHealthy                 bool     `json:"is_healthy"`
	UnhealthyReasons          []string `json:"unhealthy_reasons"`
	ControllerID              int32    `json:"controller_id"` // -1: none elected
	AllNodes                  []int32  `json:"all_nodes"`
	NodesDown                 []int32  `json:"nodes_down"`
	LeaderlessPartitions      []string `json:"leaderless_partitions"` // at most maxListedPartitions
	LeaderlessCount           int      `json:"leaderless_count"`
	UnderReplicatedPartitions []string `json:"under_replicated_partitions"`
	UnderReplicatedCount      int      `json:"under_replicated_count"`
}

// maxListedPartitions truncates the partition lists of the health
// overview (Redpanda's bound).
const maxListedPartitions = 128

// HealthSnapshot is the cluster's health as this node sees it. On one
// node a partition is leaderless when its replica is not open or not (yet)
// serving as leader; nothing is under-replicated.
func (n *Node) HealthSnapshot() HealthOverview {
	h := HealthOverview{ControllerID: -1, UnhealthyReasons: []string{}, AllNodes: []int32{}, NodesDown: []int32{},
		LeaderlessPartitions: []string{}, UnderReplicatedPartitions: []string{}}
	if rs := n.ctrl.replica.State(); rs != nil && rs.Leader {
		h.ControllerID = int32(n.cfg.NodeID)
	}
	for _, b := range n.BrokersSnapshot() {
		h.AllNodes = append(h.AllNodes, b.NodeID)
		if b.NodeID == int32(n.cfg.NodeID) && !b.IsAlive {
			h.NodesDown = append(h.NodesDown, b.NodeID)
		}
	}
	for _, tp := range sortedTopics(n.Tables()) {
		for _, p := range tp.Partitions {
			if !hosts(p.Replicas, n.cfg.NodeID) {
				continue
			}
			if rs := n.ReadState(model.PartitionKey{Topic: tp.ID, Partition: p.ID}); rs == nil || !rs.Leader {
				h.LeaderlessCount++
				if len(h.LeaderlessPartitions) < maxListedPartitions {
					h.LeaderlessPartitions = append(h.LeaderlessPartitions, kafkaNamespace+"/"+tp.Name+"/"+strconv.Itoa(int(p.ID)))
				}
			}
		}
	}
	if h.ControllerID < 0 {
		h.UnhealthyReasons = append(h.UnhealthyReasons, "controller_unavailable")
	}
	if len(h.NodesDown) > 0 {
		h.UnhealthyReasons = append(h.UnhealthyReasons, "nodes_down")
	}
	if h.LeaderlessCount > 0 {
		h.UnhealthyReasons = append(h.UnhealthyReasons, "leaderless_partitions")
	}
	h.IsHealthy = len(h.UnhealthyReasons) == 0
	return h
}

func sortedTopics(t *cluster.Tables) []*cluster.Topic {
	ts := t.Topics()
	slices.SortFunc(ts, func(a, b *cluster.Topic) int { return cmp.Compare(a.Name, b.Name) })
	return ts
}

// PartitionSummary is one partition of /v1/partitions: those with a
// replica on this node.
type PartitionSummary struct {
	NS           string `json:"ns"`
	Topic        string `json:"topic"`
	PartitionID  int32  `json:"partition_id"`
	Core         int    `json:"core"`         // the owning shard
	Materialized bool   `json:"materialized"` // the replica is open
}

// PartitionsSnapshot lists this node's partitions by topic and partition.
func (n *Node) PartitionsSnapshot() []PartitionSummary {
	var out []PartitionSummary
	for _, tp := range sortedTopics(n.Tables()) {
		for _, p := range tp.Partitions {
			if !hosts(p.Replicas, n.cfg.NodeID) {
				continue
			}
			key := model.PartitionKey{Topic: tp.ID, Partition: p.ID}
			_, open := n.replicas.Load(key)
			out = append(out, PartitionSummary{NS: kafkaNamespace, Topic: tp.Name, PartitionID: int32(p.ID),
				Core: int(n.shardOf(key)), Materialized: open})
		}
	}
	if out == nil {
		out = []PartitionSummary{}
	}
	return out
}

// ReplicaAssignment is a replica's place: its node and shard.
type ReplicaAssignment struct {
	NodeID int32 `json:"node_id"`
	Core   int   `json:"core"`
}

// PartitionDetail is /v1/partitions/kafka/{topic}/{partition}: Redpanda's
// fields plus the offsets of the local replica (-1 when it has none).
type PartitionDetail struct {
	NS             string              `json:"ns"`
	Topic          string              `json:"topic"`
	PartitionID    int32               `json:"partition_id"`
	Status         string              `json:"status"`    // "done": no reconfiguration in progress
	LeaderID       int32               `json:"leader_id"` // -1: none serving
	Replicas       []ReplicaAssignment `json:"replicas"`
	LeaderEpoch    int32               `json:"leader_epoch"`
	HighWatermark  int64               `json:"high_watermark"`
	LogStartOffset int64               `json:"log_start_offset"`
	LogEndOffset   int64               `json:"log_end_offset"`
}

// PartitionSnapshot is one partition's detail, or errNotFound.
func (n *Node) PartitionSnapshot(topic string, id model.PartitionID) (PartitionDetail, error) {
	tp, ok := n.Tables().TopicByName(topic)
	if !ok {
		return PartitionDetail{}, errNotFound
	}
	i := slices.IndexFunc(tp.Partitions, func(p cluster.Partition) bool { return p.ID == id })
	if i < 0 {
		return PartitionDetail{}, errNotFound
	}
	p := tp.Partitions[i]
	key := model.PartitionKey{Topic: tp.ID, Partition: p.ID}
	d := PartitionDetail{NS: kafkaNamespace, Topic: tp.Name, PartitionID: int32(p.ID), Status: "done", LeaderID: -1,
		LeaderEpoch: -1, HighWatermark: -1, LogStartOffset: -1, LogEndOffset: -1, Replicas: []ReplicaAssignment{}}
	for _, r := range p.Replicas {
		ra := ReplicaAssignment{NodeID: int32(r), Core: -1}
		if r == n.cfg.NodeID {
			ra.Core = int(n.shardOf(key))
		}
		d.Replicas = append(d.Replicas, ra)
	}
	if rs := n.ReadState(key); rs != nil {
		d.LeaderEpoch = rs.LeaderEpoch
		d.HighWatermark, d.LogStartOffset, d.LogEndOffset = int64(rs.HighWatermark), int64(rs.LogStart), int64(rs.LogEnd)
		if rs.Leader {
			d.LeaderID = int32(n.cfg.NodeID)
		}
	}
	return d, nil
}

// NodeConfig is /v1/node_config: what this node runs with, resolved
// (bound addresses, the shard count of the data directory, the memory
// the budgets were split from).
type NodeConfig struct {
	NodeID             int32  `json:"node_id"`
	ClusterID          string `json:"cluster_id"`
	DataDirectory      string `json:"data_directory"`
	KafkaAPI           string `json:"kafka_api"`
	AdvertisedKafkaAPI string `json:"advertised_kafka_api"`
	AdminAPI           string `json:"admin_api"`
	RPCServer          string `json:"rpc_server"`
	Shards             int    `json:"shards"`
	MemoryBytes        int64  `json:"memory_bytes"`
	DirectIO           bool   `json:"direct_io"`
	AutoCreateTopics   bool   `json:"auto_create_topics"`
	PartitionMetrics   bool   `json:"partition_metrics"`
}

// NodeConfigSnapshot is this node's resolved configuration.
func (n *Node) NodeConfigSnapshot() NodeConfig {
	c := NodeConfig{NodeID: int32(n.cfg.NodeID), ClusterID: n.meta.ClusterID, DataDirectory: n.cfg.DataDir,
		KafkaAPI: n.KafkaAddr(), AdvertisedKafkaAPI: net.JoinHostPort(n.advHost, strconv.Itoa(int(n.advPort))),
		AdminAPI: n.AdminAddr(), Shards: n.meta.Shards, MemoryBytes: n.rt.Budgets().Total,
		DirectIO: n.cfg.DirectIO, AutoCreateTopics: n.cfg.AutoCreateTopics, PartitionMetrics: !n.cfg.DisablePartitionMetrics}
	if b, ok := n.Tables().Broker(n.cfg.NodeID); ok {
		c.RPCServer = b.RPCAddr
	}
	return c
}
