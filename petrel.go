// Package petrel embeds a Petrel broker in a Go program:
//
//	b, err := petrel.Start(ctx, petrel.Config{DataDir: dir})
//	...
//	client, _ := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
//	...
//	b.Close()
//
// The broker is the real one (the same code as `petrel serve`): durable,
// with every acknowledged record fsync'd, on its own loopback port.
package petrel

import (
	"context"
	"log/slog"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/node"
)

// Config configures an embedded broker. Only DataDir is required.
type Config struct {
	// DataDir holds the broker's data; it survives Close and restarts.
	DataDir string
	// KafkaAddr is the listen address (default "127.0.0.1:0": a free port).
	KafkaAddr string
	// AdminAddr enables the admin HTTP API on this address (default off).
	AdminAddr string
	// NodeID is the broker id (default 0); every node of a cluster has
	// its own.
	NodeID int32
	// RPCAddr is the node-to-node listen address, used with Seeds.
	RPCAddr string
	// Seeds are the RPC addresses of the cluster's founding nodes (this
	// one among them); none: a cluster of one.
	Seeds []string
	// Shards is the number of shards (default one per core).
	Shards int
	// MemoryBytes bounds the broker's memory (default: a share of RAM).
	MemoryBytes int64
	// JournalBytes is each shard's journal ring (default 256 MiB), fixed
	// when the data directory is created: small for small nodes and tests.
	JournalBytes int64
	// AutoCreateTopics creates unknown topics on produce and metadata.
	AutoCreateTopics bool
	// DefaultPartitions is the partition count of auto-created topics and
	// of CreateTopics asking for the default (default 1).
	DefaultPartitions int32
	// GroupInitialRebalanceDelay delays a new group's first rebalance so
	// members joining together land in one generation (zero: Kafka's 3 s
	// default; negative: no delay, as tests want).
	GroupInitialRebalanceDelay time.Duration
	// RetentionCheckInterval is how often segment.bytes, segment.ms,
	// retention.ms and retention.bytes are applied (default 1 minute).
	RetentionCheckInterval time.Duration
	// DisablePartitionMetrics drops the metric series with a partition
	// label (consumer lag is then per group and topic); default: exported.
	DisablePartitionMetrics bool
	// ControllerSnapshotEvery is how many controller entries pass between
	// two snapshots of the cluster metadata, each followed by compacting
	// the controller's log (default 1,000).
	ControllerSnapshotEvery int
	// Logger receives the broker's logs (default: discarded).
	Logger *slog.Logger
}

// Broker is a running embedded broker. Any goroutine.
type Broker struct{ n *node.Node }

// Start starts a broker and returns once it serves.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	if cfg.KafkaAddr == "" {
		cfg.KafkaAddr = "127.0.0.1:0"
	}
	n, err := node.Start(ctx, node.Config{
		DataDir: cfg.DataDir, NodeID: model.NodeID(cfg.NodeID), KafkaAddr: cfg.KafkaAddr,
		RPCAddr: cfg.RPCAddr, Seeds: cfg.Seeds,
		AdminAddr: cfg.AdminAddr, Shards: cfg.Shards, MemoryBytes: cfg.MemoryBytes, JournalBytes: cfg.JournalBytes,
		AutoCreateTopics: cfg.AutoCreateTopics, DefaultPartitions: cfg.DefaultPartitions,
		GroupInitialRebalanceDelay: cfg.GroupInitialRebalanceDelay, Logger: cfg.Logger,
		RetentionCheckInterval: cfg.RetentionCheckInterval, DisablePartitionMetrics: cfg.DisablePartitionMetrics,
		ControllerSnapshotEvery: uint64(max(cfg.ControllerSnapshotEvery, 0)),
	})
	if err != nil {
		return nil, err
	}
	return &Broker{n: n}, nil
}

// Addr is the Kafka address clients connect to (host:port).
func (b *Broker) Addr() string { return b.n.KafkaAddr() }

// AdminAddr is the admin API's address, or "" when it is off.
func (b *Broker) AdminAddr() string { return b.n.AdminAddr() }

// Close shuts the broker down cleanly (within 30 s): requests in flight
// are answered, logs synced, files closed.
func (b *Broker) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return b.n.Close(ctx)
}
