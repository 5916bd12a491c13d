package partition

import (
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/storage"
	"github.com/petrel-streaming/petrel/internal/storage/engine"
)

// raftStorage is raft's view of the partition's log: the storage log is
// the Raft log, so there is no second copy. It lives on the partition's
// shard, as does the RawNode that calls it.
type raftStorage struct {
	key   model.PartitionKey
	eng   *engine.Engine
	log   *storage.Log
	kind  Kind
	peers []model.NodeID
	// conf, when set, is the stored configuration (or an empty one for a
	// joining replica): raft's initial configuration instead of peers.
	conf *pb.ConfState
	// snap is the last snapshot taken or installed (nil: none); r is the
	// replica, whose current configuration a new snapshot records.
	snap *snapRecord
	r    *Replica

	// recent are raft's own entries handed to storage and not yet applied,
	// indexes recentLo, recentLo+1, …: raft reads committed entries back
	// through Entries to apply them, and serving them from here spares a
	// read, decode and CRC check of bytes just written. Bounded by
	// recentMaxBytes (the oldest go first; Entries then reads the log).
	recent      []*pb.Entry
	recentLo    uint64
	recentBytes int
}

const recentMaxBytes = 8 << 20

// remember notes entries staged for the log (a conflicting append replaces
// the remembered ones from its first index on).
func (s *raftStorage) remember(ents []*pb.Entry) {
	if len(ents) == 0 {
		return
	}
	first := ents[0].GetIndex()
	switch end := s.recentLo + uint64(len(s.recent)); {
	case len(s.recent) > 0 && first > s.recentLo && first <= end:
		s.dropFrom(int(first - s.recentLo))
	case first != end:
		s.dropFrom(0)
		s.recentLo = first
	}
	for _, e := range ents {
		s.recent = append(s.recent, e)
		s.recentBytes += len(e.Data)
	}
	for s.recentBytes > recentMaxBytes && len(s.recent) > 0 {
		s.forget(s.recentLo)
	}
}

// forget drops the remembered entries up to index upTo (applied).
func (s *raftStorage) forget(upTo uint64) {
	n := 0
	for n < len(s.recent) && s.recentLo+uint64(n) <= upTo {
		s.recentBytes -= len(s.recent[n].Data)
		s.recent[n] = nil
		n++
	}
	s.recent = s.recent[n:]
	s.recentLo += uint64(n)
	if len(s.recent) == 0 {
		s.recent = s.recent[:0:0]
	}
}

// entrySize approximates an entry's encoded size (raft's limits are by
// proto size; the payload dominates it).
func entrySize(e *pb.Entry) uint64 { return uint64(len(e.Data)) + 24 }

func (s *raftStorage) dropFrom(i int) {
	for _, e := range s.recent[i:] {
		s.recentBytes -= len(e.Data)
	}
	clear(s.recent[i:])
	s.recent = s.recent[:i]
}

// fromRecent serves Entries from the remembered entries when they hold
// all of [lo, hi): at least one entry, then up to maxSize bytes.
func (s *raftStorage) fromRecent(lo, hi, maxSize uint64) ([]*pb.Entry, bool) {
	if len(s.recent) == 0 || lo < s.recentLo || hi > s.recentLo+uint64(len(s.recent)) || lo >= hi {
		return nil, false
	}
	ents := s.recent[lo-s.recentLo : hi-s.recentLo]
	n, size := 1, entrySize(ents[0])
	for n < len(ents) {
		size += entrySize(ents[n])
		if size > maxSize {
			break
		}
		n++
	}
	return append([]*pb.Entry(nil), ents[:n]...), true
}

func (s *raftStorage) InitialState() (*pb.HardState, *pb.ConfState, error) {
	cs := &pb.ConfState{}
	if s.conf != nil {
		cs = proto.Clone(s.conf).(*pb.ConfState)
	} else {
		for _, p := range s.peers {
			cs.Voters = append(cs.Voters, raftID(p))
		}
	}
	hs, ok, err := s.eng.HardState(s.key)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return &pb.HardState{}, cs, nil
	}
	term, vote, commit := uint64(hs.Term), uint64(hs.Vote), uint64(hs.Commit)
	return &pb.HardState{Term: &term, Vote: &vote, Commit: &commit}, cs, nil
}

func (s *raftStorage) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	if lo < uint64(s.log.FirstIndex()) {
		return nil, raft.ErrCompacted
	}
	if hi > uint64(s.log.LastIndex())+1 {
		return nil, raft.ErrUnavailable
	}
	if out, ok := s.fromRecent(lo, hi, maxSize); ok {
		return out, nil
	}
	var out []*pb.Entry
	for lo < hi {
		es, err := s.log.Entries(model.Index(lo), model.Index(hi), maxSize)
		if err != nil {
			return nil, s.mapErr(err)
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			re, err := s.toRaft(e)
			if err != nil {
				return nil, err
			}
			out = append(out, re)
			if n := uint64(e.Size()); n >= maxSize {
				maxSize = 0
			} else {
				maxSize -= n
			}
		}
		lo = uint64(es[len(es)-1].Index) + 1
		if maxSize == 0 {
			break
		}
	}
	if len(out) == 0 {
		return nil, raft.ErrUnavailable
	}
	return out, nil
}

func (s *raftStorage) Term(i uint64) (uint64, error) {
	if i == 0 {
		return 0, nil
	}
	first, last := uint64(s.log.FirstIndex()), uint64(s.log.LastIndex())
	if i > last {
		return 0, raft.ErrUnavailable
	}
	if s.snap != nil && i == uint64(s.snap.index) {
		return uint64(s.snap.term), nil
	}
	if i < first {
		// A follower behind the log start needs a snapshot.
		return 0, raft.ErrCompacted
	}
	t, err := s.log.Term(model.Index(i))
	if err != nil {
		return 0, s.mapErr(err)
	}
	return uint64(t), nil
}

func (s *raftStorage) LastIndex() (uint64, error)  { return uint64(s.log.LastIndex()), nil }
func (s *raftStorage) FirstIndex() (uint64, error) { return uint64(s.log.FirstIndex()), nil }

// Snapshot is what a member behind the log start receives: a metadata
// group's state machine as applied now, or a data group's metadata at
// the index before the log start (its records are gone).
func (s *raftStorage) Snapshot() (*pb.Snapshot, error) {
	if s.log.FirstIndex() > 1 || s.snap != nil {
		if s.r == nil {
			return nil, raft.ErrSnapshotTemporarilyUnavailable
		}
		sn, err := s.r.snapshotForPeer()
		if err != nil {
			return nil, err
		}
		return sn.toRaft(), nil
	}
	_, cs, err := s.InitialState()
	if err != nil {
		return nil, err
	}
	idx, term := uint64(0), uint64(0)
	return &pb.Snapshot{Metadata: &pb.SnapshotMetadata{ConfState: cs, Index: &idx, Term: &term}}, nil
}

func (s *raftStorage) mapErr(err error) error {
	if errors.Is(err, storage.ErrIndexOutOfRange) {
		return raft.ErrUnavailable
	}
	return err
}

// Internal entries carry the raft entry type in their first payload byte;
// data entries are a Kafka batch exactly as stored.
func (s *raftStorage) toRaft(e storage.Entry) (*pb.Entry, error) {
	idx, term := uint64(e.Index), uint64(e.Term)
	re := &pb.Entry{Index: &idx, Term: &term}
	switch e.Type {
	case storage.EntryData:
		t := pb.EntryNormal
		re.Type = &t
		re.Data = e.Payload
	case storage.EntryInternal:
		if len(e.Payload) < 1 {
			return nil, fmt.Errorf("partition %s: internal entry %d has no type: %w", s.key, e.Index, model.ErrCorrupt)
		}
		t := pb.EntryType(e.Payload[0])
		re.Type = &t
		re.Data = e.Payload[1:]
	default:
		return nil, fmt.Errorf("partition %s: entry %d of unknown type %d: %w", s.key, e.Index, e.Type, model.ErrCorrupt)
	}
	return re, nil
}

// appendStorage encodes raft entries in storage format onto dst. next is
// the Kafka offset that follows the entry before the first; it returns the
// offset after the last. Normal entries of a data partition that carry
// bytes are Kafka batches (stamped by the leader); everything else is an
// internal entry that takes no offsets.
func appendStorage(dst []byte, kind Kind, ents []*pb.Entry, next model.Offset) ([]byte, model.Offset, error) {
	for _, e := range ents {
		h := storage.EntryHeader{Index: model.Index(e.GetIndex()), Term: model.Term(e.GetTerm()), Offset: next}
		if _, isStart := parseStartEntry(e.Data); kind == KindData && e.GetType() == pb.EntryNormal && len(e.Data) > 0 && !isStart {
			b, rest, err := model.ParseBatch(e.Data)
			if err != nil || len(rest) != 0 {
				return dst, next, fmt.Errorf("partition: entry %d is not one batch: %v: %w", h.Index, err, model.ErrCorrupt)
			}
			if b.BaseOffset() != next {
				return dst, next, fmt.Errorf("partition: entry %d base offset %d, log expects %d: %w", h.Index, b.BaseOffset(), next, model.ErrCorrupt)
			}
			h.Type = storage.EntryData
			h.Count = uint32(b.LastOffsetDelta()) + 1
			dst = storage.AppendEntry(dst, h, e.Data)
			next += model.Offset(h.Count)
			continue
		}
		h.Type = storage.EntryInternal
		dst = appendInternal(dst, h, byte(e.GetType()), e.Data)
	}
	return dst, next, nil
}

func appendInternal(dst []byte, h storage.EntryHeader, typ byte, data []byte) []byte {
	payload := make([]byte, 0, 1+len(data))
	payload = append(append(payload, typ), data...)
	return storage.AppendEntry(dst, h, payload)
}

// raftID maps a node id to its Raft member id: Kafka broker ids start at
// 0, and etcd raft reserves 0 for "none".
func raftID(n model.NodeID) uint64 { return uint64(n) + 1 }

// recentEntry returns the remembered entry with index i, or nil.
func (s *raftStorage) recentEntry(i uint64) *pb.Entry {
	if i < s.recentLo || i >= s.recentLo+uint64(len(s.recent)) {
		return nil
	}
	return s.recent[i-s.recentLo]
}
