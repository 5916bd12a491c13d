package partition

import (
	"encoding/binary"
	"fmt"
	"slices"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/quorum"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Snapshots. The log is the Raft log, and its prefix goes away: retention
// removes a data group's oldest segments, and a metadata group (the
// controller) compacts its log once its state machine is snapshotted. A
// member whose next entry lies below the leader's log start then gets a
// Raft snapshot instead of entries:
//
//   - a data group's snapshot is its partition metadata only, the Kafka
//     offset that follows the snapshot's index (the follower's new log
//     start): records below the leader's log start are gone everywhere;
//   - a metadata group's snapshot is its state machine (Config.Snapshot)
//     as of the snapshot's index.
//
// The last snapshot taken or installed is stored in the engine's KV under
// partition/snap/<key>, so that raft can tell the term of the index before
// the log start, and a metadata group restarts from it rather than from
// an empty state machine (it replays only the entries after it):
//
//	snapRecord: version 1 | index u64 | term u64 | start offset u64 |
//	            conf index u64 | conf len u32 | ConfState (protobuf) |
//	            data (the rest)
//
// A snapshot carries the group's configuration as of conf index: the
// configuration at its index for a metadata group (made fresh from the
// state machine when a member needs one, so that a learner added after
// the last compaction finds itself in it); the current one for a data
// group (its snapshot index is fixed by the log start, and a member added
// since must find itself in it too: the configuration entries up to conf
// index are then skipped when the member applies them).
//
// A snapshot is installed by resetting the log (engine.Reset) to start
// after its index, storing the record and the configuration in the same
// round; the state machine is restored at once (its content is committed).

func snapKey(k model.PartitionKey) string { return "partition/snap/" + k.String() }

const snapVersion = 1

// snapRecord is one stored snapshot.
type snapRecord struct {
	index       model.Index
	term        model.Term
	startOffset model.Offset // the Kafka offset after index: the log start it leaves
	confIndex   model.Index  // conf is the configuration as of this index (≥ index)
	conf        *pb.ConfState
	data        []byte // a metadata group's state machine; empty for data groups
}

func (s *snapRecord) appendTo(dst []byte) ([]byte, error) {
	cb, err := proto.Marshal(s.conf)
	if err != nil {
		return dst, err
	}
	dst = append(dst, snapVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(s.index))
	dst = binary.BigEndian.AppendUint64(dst, uint64(s.term))
	dst = binary.BigEndian.AppendUint64(dst, uint64(s.startOffset))
	dst = binary.BigEndian.AppendUint64(dst, uint64(s.confIndex))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(cb)))
	dst = append(dst, cb...)
	return append(dst, s.data...), nil
}

func decodeSnapRecord(b []byte) (*snapRecord, error) {
	const head = 1 + 8 + 8 + 8 + 8 + 4
	if len(b) < head || b[0] != snapVersion {
		return nil, fmt.Errorf("snapshot record of %d bytes (version %v): %w", len(b), b[:min(len(b), 1)], model.ErrCorrupt)
	}
	s := &snapRecord{index: model.Index(binary.BigEndian.Uint64(b[1:])), term: model.Term(binary.BigEndian.Uint64(b[9:])),
		startOffset: model.Offset(binary.BigEndian.Uint64(b[17:])), confIndex: model.Index(binary.BigEndian.Uint64(b[25:])),
		conf: &pb.ConfState{}}
	n := int(binary.BigEndian.Uint32(b[33:]))
	if n > len(b)-head {
		return nil, fmt.Errorf("snapshot record: configuration of %d bytes in %d: %w", n, len(b)-head, model.ErrCorrupt)
	}
	if err := proto.Unmarshal(b[head:head+n], s.conf); err != nil {
		return nil, fmt.Errorf("snapshot record: configuration: %v: %w", err, model.ErrCorrupt)
	}
	s.data = slices.Clone(b[head+n:])
	return s, nil
}

// storedSnap reads the group's stored snapshot (nil: none).
func (m *Manager) storedSnap(key model.PartitionKey) (*snapRecord, error) {
	v, ok := m.eng.Get(snapKey(key))
	if !ok {
		return nil, nil
	}
	s, err := decodeSnapRecord(v)
	if err != nil {
		return nil, fmt.Errorf("partition %s: %w", key, err)
	}
	return s, nil
}

// toRaft is the snapshot as raft sends it: the record's start offset,
// configuration index and data travel in Data.
func (s *snapRecord) toRaft() *pb.Snapshot {
	idx, term := uint64(s.index), uint64(s.term)
	data := binary.BigEndian.AppendUint64(make([]byte, 0, 16+len(s.data)), uint64(s.startOffset))
	data = binary.BigEndian.AppendUint64(data, uint64(s.confIndex))
	return &pb.Snapshot{Data: append(data, s.data...),
		Metadata: &pb.SnapshotMetadata{ConfState: proto.Clone(s.conf).(*pb.ConfState), Index: &idx, Term: &term}}
}

func snapFromRaft(snap *pb.Snapshot) (*snapRecord, error) {
	if len(snap.Data) < 16 || snap.Metadata == nil {
		return nil, fmt.Errorf("snapshot of %d bytes without its start offset: %w", len(snap.Data), model.ErrCorrupt)
	}
	md := snap.Metadata
	cs := md.GetConfState()
	if cs == nil {
		cs = &pb.ConfState{}
	}
	return &snapRecord{index: model.Index(md.GetIndex()), term: model.Term(md.GetTerm()),
		startOffset: model.Offset(binary.BigEndian.Uint64(snap.Data)), confIndex: model.Index(binary.BigEndian.Uint64(snap.Data[8:])),
		conf: cs, data: slices.Clone(snap.Data[16:])}, nil
}

// confState is the group's current configuration as raft tracks it.
func (r *Replica) confState() *pb.ConfState {
	c := r.rn.Status().Config
	return &pb.ConfState{
		Voters:         c.Voters[0].Slice(),
		VotersOutgoing: c.Voters[1].Slice(),
		Learners:       quorum.MajorityConfig(c.Learners).Slice(),
		LearnersNext:   quorum.MajorityConfig(c.LearnersNext).Slice(),
		AutoLeave:      new(c.AutoLeave),
	}
}

// storeSnap stages s as the group's snapshot (durable with the next round).
func (r *Replica) storeSnap(s *snapRecord) error {
	b, err := s.appendTo(nil)
	if err != nil {
		return err
	}
	if err := r.m.eng.Put(snapKey(r.cfg.Key), b); err != nil {
		return err
	}
	r.rs.snap = s
	return nil
}

// maybeSnapshot takes a metadata group's snapshot after applying entry
// (index, term), when Config.SnapshotEvery entries were applied since the
// last one, and compacts the log: entries up to SnapshotKeep before the
// snapshot stay, for members slightly behind.
func (r *Replica) maybeSnapshot(index model.Index, term model.Term) error {
	if r.cfg.Kind != KindMeta || r.cfg.Snapshot == nil || r.cfg.SnapshotEvery == 0 {
		return nil
	}
	var last model.Index
	if r.rs.snap != nil {
		last = r.rs.snap.index
	}
	if index < last+model.Index(r.cfg.SnapshotEvery) {
		return nil
	}
	s := &snapRecord{index: index, term: term, confIndex: index, conf: r.confState(), data: r.cfg.Snapshot()}
	if err := r.storeSnap(s); err != nil {
		return err
	}
	start := model.Index(1)
	if index > model.Index(r.cfg.SnapshotKeep) {
		start = index - model.Index(r.cfg.SnapshotKeep) + 1
	}
	if start > r.log.FirstIndex() {
		if err := r.m.eng.SetStartIndex(r.cfg.Key, start); err != nil {
			return err
		}
	}
	r.logg.Info("snapshot taken", "index", index, "term", term, "bytes", len(s.data), "log_start", max(start, r.log.FirstIndex()))
	return nil
}

// installSnap replaces the replica's log and state with a snapshot from
// the leader (raft checked it is newer than anything committed here).
func (r *Replica) installSnap(snap *pb.Snapshot) error {
	s, err := snapFromRaft(snap)
	if err != nil {
		return err
	}
	if err := r.m.eng.Reset(r.cfg.Key, s.index+1, s.startOffset); err != nil {
		return err
	}
	if err := r.storeSnap(s); err != nil {
		return err
	}
	cb, err := proto.Marshal(s.conf)
	if err != nil {
		return err
	}
	ci := max(s.confIndex, s.index)
	if err := r.m.eng.Put(confKey(r.cfg.Key), append(binary.BigEndian.AppendUint64(nil, uint64(ci)), cb...)); err != nil {
		return err
	}
	r.confIndex, r.conf = ci, s.conf
	r.applied = s.index
	r.cfg.Peers = members(s.conf)
	r.rs.peers = r.cfg.Peers
	r.rs.dropFrom(0)
	r.rs.recentLo = uint64(s.index) + 1
	r.appendLast, r.appendNext, r.tail = s.index, s.startOffset, s.startOffset
	if r.cfg.Kind == KindMeta && r.cfg.Restore != nil {
		if err := r.cfg.Restore(s.index, s.data); err != nil {
			return fmt.Errorf("restoring snapshot at %d: %w", s.index, err)
		}
	}
	if r.cfg.Kind == KindData {
		r.hw = max(r.hw, s.startOffset)
		r.start = max(r.start, s.startOffset)
	}
	r.logg.Info("snapshot installed", "index", s.index, "term", s.term, "log_start_offset", s.startOffset,
		"voters", s.conf.GetVoters(), "bytes", len(s.data))
	r.publish()
	return nil
}

// snapshotForPeer is the snapshot raft sends a member whose next entry
// is below the log start (see raftStorage.Snapshot).
func (r *Replica) snapshotForPeer() (*snapRecord, error) {
	rs := r.rs
	first := r.log.FirstIndex()
	switch {
	case r.cfg.Kind == KindMeta:
		if r.cfg.Snapshot == nil {
			return nil, raft.ErrSnapshotTemporarilyUnavailable
		}
		// The state machine as applied now, with the configuration
		// raft applied with it.
		term, err := rs.Term(uint64(r.applied))
		if err != nil {
			return nil, err
		}
		sn := &snapRecord{index: r.applied, term: model.Term(term), confIndex: r.applied, conf: r.confState(), data: r.cfg.Snapshot()}
		return sn, r.storeSnap(sn)
	case rs.snap != nil && rs.snap.index == first-1:
		sn := *rs.snap
		sn.conf, sn.confIndex = r.confState(), max(r.confIndex, sn.index)
		return &sn, nil
	case r.log.LastIndex() < first:
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	// The term of the index before the log start is gone with its entry:
	// the snapshot carries the first entry's, which is not lower, and
	// every replica that receives it agrees on it (all of it is
	// committed, as retention keeps what is not).
	term, err := r.log.Term(first)
	if err != nil {
		return nil, rs.mapErr(err)
	}
	sn := &snapRecord{index: first - 1, term: term, startOffset: r.log.StartOffset(),
		confIndex: max(r.confIndex, first-1), conf: r.confState()}
	return sn, r.storeSnap(sn)
}
