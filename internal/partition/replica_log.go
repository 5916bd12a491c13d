package partition

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/producers"
	"github.com/petrel-streaming/petrel/internal/storage"
)

// The replica's log administration (DeleteRecords, retention, segment
// limits), its producer state and the offset arithmetic over its log.

func startKey(k model.PartitionKey) string { return "partition/start/" + k.String() }

// startMarker begins a data group's log-start entry: a Raft entry that
// moves the partition's log start offset (DeleteRecords) on every replica
// when it commits. A record batch can never begin with it: its first
// byte would make the batch's base offset negative.
var startMarker = []byte("\xffpetrel:log-start")

// startEntry is the log-start entry that moves the start to before.
func startEntry(before model.Offset) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), startMarker...), uint64(before))
}

// parseStartEntry returns the offset of a log-start entry (ok false for
// any other data).
func parseStartEntry(data []byte) (model.Offset, bool) {
	if len(data) != len(startMarker)+8 || !bytes.HasPrefix(data, startMarker) {
		return 0, false
	}
	return model.Offset(binary.BigEndian.Uint64(data[len(startMarker):])), true
}

// DeleteRecords moves the log start offset to before (-1: the high
// watermark), as Kafka's DeleteRecords: records below it are no longer
// served. The move is a Raft entry: every replica applies it when it
// commits (so it survives a change of leader), and the new start shows
// in the ReadState then. It returns the start asked for (the current one
// when it is already there: nothing is proposed).
func (r *Replica) DeleteRecords(before model.Offset) (model.Offset, error) {
	if err := r.usable(); err != nil {
		return -1, err
	}
	if before == -1 {
		before = r.hw
	}
	if before < 0 || before > r.hw {
		return -1, fmt.Errorf("partition %s: delete before %d, high watermark %d: %w", r.cfg.Key, before, r.hw, ErrOffsetOutOfRange)
	}
	if cur := r.State().LogStart; before <= cur {
		return cur, nil
	}
	r.wake()
	if err := r.rn.Propose(startEntry(before)); err != nil {
		return -1, r.proposeErr(err)
	}
	r.markDirty()
	return before, nil
}

// applyStart applies a committed log-start entry.
func (r *Replica) applyStart(before model.Offset) error {
	if before <= r.start {
		return nil
	}
	if err := r.m.eng.Put(startKey(r.cfg.Key), binary.BigEndian.AppendUint64(nil, uint64(before))); err != nil {
		return err
	}
	r.start = before
	return nil
}

// ProducerInfo describes one active idempotent producer (DescribeProducers).
type ProducerInfo struct {
	ID            int64
	Epoch         int16
	LastSequence  int32
	LastTimestamp int64
}

// Producers lists the partition's active idempotent producers.
func (r *Replica) Producers() []ProducerInfo {
	if r.producers == nil {
		return nil
	}
	var out []ProducerInfo
	for _, id := range r.producers.IDs() {
		epoch, batches, ok := r.producers.Producer(id)
		if !ok {
			continue
		}
		pi := ProducerInfo{ID: id, Epoch: epoch, LastSequence: -1, LastTimestamp: -1}
		if len(batches) > 0 {
			last := batches[len(batches)-1]
			pi.LastSequence, pi.LastTimestamp = last.LastSeq, last.Timestamp
		}
		out = append(out, pi)
	}
	return out
}

// SetSegmentLimits applies the topic's segment.bytes and segment.ms to
// the partition's log (from its next append).
func (r *Replica) SetSegmentLimits(bytes int64, age time.Duration) {
	r.log.SetSegmentLimits(bytes, age)
}

// Retain applies a retention policy: whole closed segments are deleted
// from the front, never one holding an entry past the commit index nor one
// not yet durable. It returns the segments removed.
func (r *Replica) Retain(p storage.RetentionPolicy) (int, error) {
	if r.removed || r.m.err != nil {
		return 0, nil
	}
	n, err := r.m.eng.Retain(r.cfg.Key, p, model.Index(r.rn.BasicStatus().GetCommit()))
	if n > 0 {
		r.publish()
	}
	return n, err
}

// loadProducers rebuilds the idempotent producer state from the batch
// headers of the whole log. Its cost grows with the log (bounded by
// retention); producer state snapshots would bound it.
func (r *Replica) loadProducers() error {
	r.producers = producers.New(producers.Config{})
	v := r.log.View()
	end := v.NextOffset()
	for from := v.StartOffset(); from < end; {
		data, err := v.ReadBatches(from, 4<<20, end, nil)
		if err != nil {
			return err
		}
		if len(data) == 0 {
			return fmt.Errorf("no batch at offset %d below %d: %w", from, end, model.ErrCorrupt)
		}
		for len(data) > 0 {
			b, rest, err := model.ParseBatch(data)
			if err != nil {
				return err
			}
			if b.ProducerID() >= 0 {
				r.producers.Replay(b, b.BaseOffset())
			}
			from = b.LastOffset() + 1
			data = rest
		}
	}
	return nil
}

// offsetAfter is the Kafka offset that follows entry i: from the entries
// remembered since they were staged when it is there (it may not be
// written yet), else from its header in the log.
func (r *Replica) offsetAfter(i model.Index) (model.Offset, error) {
	for ; i > 0; i-- {
		e := r.rs.recentEntry(uint64(i))
		if e == nil {
			break
		}
		if r.cfg.Kind == KindData && e.GetType() == pb.EntryNormal && len(e.Data) > 0 {
			b, _, err := model.ParseBatch(e.Data)
			if err != nil {
				return 0, fmt.Errorf("partition %s: staged entry %d: %w", r.cfg.Key, i, err)
			}
			return b.BaseOffset() + model.Offset(b.LastOffsetDelta()) + 1, nil
		}
	}
	if i == 0 || i < r.log.FirstIndex() {
		return r.log.StartOffset(), nil
	}
	h, err := r.header(i)
	if err != nil {
		return 0, fmt.Errorf("partition %s: offset after entry %d: %w", r.cfg.Key, i, err)
	}
	return h.NextOffset(), nil
}
