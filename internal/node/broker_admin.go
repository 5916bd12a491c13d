package node

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
)

// The admin half of kafka.Broker: what CreatePartitions and
// DescribeLogDirs need beyond the data path.

// CreatePartitions implements kafka.Broker: it proposes the command and
// waits until every partition of the topic serves, as CreateTopic does.
func (n *Node) CreatePartitions(ctx context.Context, cmd *cluster.CreatePartitions) error {
	if _, err := n.ctrl.propose(ctx, cmd); err != nil {
		return err
	}
	return n.waitServing(ctx, cmd.ID)
}

// DataDir implements kafka.Broker: the node's one log directory.
func (n *Node) DataDir() string { return n.cfg.DataDir }

// PartitionBytes implements kafka.Broker: the bytes of a local
// partition's segment files on disk (Kafka's DescribeLogDirs size: the
// files' sizes, so the active segment counts its preallocated space). It
// stats the files of one directory, bounded by the partition's segment
// count; any goroutine.
func (n *Node) PartitionBytes(key model.PartitionKey) (int64, error) {
	dir := filepath.Join(n.cfg.DataDir, "shards", strconv.Itoa(int(n.shardOf(key))), "partitions", key.String())
	names, err := n.fs.List(dir)
	if err != nil {
		return 0, fmt.Errorf("node: partition %s: %w", key, err)
	}
	var total int64
	for _, name := range names {
		if !strings.HasSuffix(name, ".log") {
			continue
		}
		fi, err := n.fs.Stat(filepath.Join(dir, name))
		if err != nil {
			continue // removed by retention since the listing
		}
		total += fi.Size
	}
	return total, nil
}
