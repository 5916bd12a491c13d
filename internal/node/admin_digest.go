package node

import (
	"context"
	"fmt"
	"hash/crc32"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
)

// ReplicaDigest is a checksum of a local replica's log, leader or
// follower: replicas of one partition must hold identical bytes up to
// their common high watermark (a chaos and cluster test check).
type ReplicaDigest struct {
	NodeID        model.NodeID `json:"node_id"`
	HighWatermark int64        `json:"high_watermark"`
	LogStart      int64        `json:"log_start"`
	LogEnd        int64        `json:"log_end"`
	// Upto: the digest covers the whole batches with offsets below it.
	Upto    int64  `json:"upto"`
	CRC32C  uint32 `json:"crc32c"`
	Batches int    `json:"batches"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ReplicaDigest computes the digest of the local replica of a partition
// over its batches below upto (-1: its high watermark); upto past the
// high watermark is refused (uncommitted entries may still change).
func (n *Node) ReplicaDigest(topic string, p model.PartitionID, upto model.Offset) (ReplicaDigest, error) {
	tp, ok := n.Tables().TopicByName(topic)
	if !ok || int(p) >= len(tp.Partitions) {
		return ReplicaDigest{}, errNotFound
	}
	rs := n.ReadState(model.PartitionKey{Topic: tp.ID, Partition: p})
	if rs == nil {
		return ReplicaDigest{}, errNotFound
	}
	if upto < 0 {
		upto = rs.HighWatermark
	}
	if upto > rs.HighWatermark {
		return ReplicaDigest{}, fmt.Errorf("node: digest up to %d past the replica's high watermark %d", upto, rs.HighWatermark)
	}
	d := ReplicaDigest{NodeID: n.cfg.NodeID, HighWatermark: int64(rs.HighWatermark), LogStart: int64(rs.LogStart),
		LogEnd: int64(rs.LogEnd), Upto: int64(upto)}
	var buf []byte
	for from := rs.LogStart; from < upto; {
		data, err := rs.View.ReadBatches(from, 1<<20, upto, buf[:0])
		if err != nil {
			return ReplicaDigest{}, err
		}
		if len(data) == 0 {
			return ReplicaDigest{}, fmt.Errorf("node: no batch at offset %d below %d: %w", from, upto, model.ErrCorrupt)
		}
		buf = data
		for len(data) > 0 {
			b, rest, err := model.ParseBatch(data)
			if err != nil {
				return ReplicaDigest{}, err
			}
			if b.BaseOffset() >= upto {
				return d, nil
			}
			d.CRC32C = crc32.Update(d.CRC32C, castagnoli, b)
			d.Batches++
			from = b.LastOffset() + 1
			data = rest
		}
	}
	return d, nil
}

// ReplicaRaft is the Raft state of the local replica of a partition
// (GET /v1/debug/partitions/kafka/{topic}/{partition}/raft).
type ReplicaRaft struct {
	NodeID model.NodeID `json:"node_id"`
	partition.RaftStatus
}

// ReplicaRaftStatus reads the Raft state of the local replica of a
// partition on its shard.
func (n *Node) ReplicaRaftStatus(ctx context.Context, topic string, p model.PartitionID) (ReplicaRaft, error) {
	tp, ok := n.Tables().TopicByName(topic)
	if !ok || int(p) >= len(tp.Partitions) {
		return ReplicaRaft{}, errNotFound
	}
	return n.replicaRaft(ctx, model.PartitionKey{Topic: tp.ID, Partition: p})
}

// ControllerRaftStatus is ReplicaRaftStatus of the controller's group
// (GET /v1/debug/controller/raft).
func (n *Node) ControllerRaftStatus(ctx context.Context) (ReplicaRaft, error) {
	return n.replicaRaft(ctx, controllerKey)
}

func (n *Node) replicaRaft(ctx context.Context, key model.PartitionKey) (ReplicaRaft, error) {
	out := ReplicaRaft{NodeID: n.cfg.NodeID}
	err := n.onReplica(ctx, key, func(r *partition.Replica) error {
		out.RaftStatus = r.RaftStatus()
		return nil
	})
	if err == partition.ErrNotLeader {
		err = errNotFound // no local replica
	}
	return out, err
}
