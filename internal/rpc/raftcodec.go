package rpc

import (
	"encoding/binary"
	"fmt"

	pb "go.etcd.io/raft/v3/raftpb"
)

// GroupID names a Raft group across the cluster (the controller is group
// 0; the controller assigns the others). The transport only carries it.
type GroupID uint64

// RaftMessage is one Raft message of one group. Messages handed to the
// RaftSink alias the frame they came in (Entry.Data, Context, snapshot
// data): the sink owns them and may keep them.
type RaftMessage struct {
	Group GroupID
	Msg   *pb.Message
}

// Decode limits: what one frame may carry. They bound the memory a frame
// can make the receiver allocate to a small multiple of the frame size.
const (
	maxBatchMessages = 1 << 16 // messages per raft frame
	maxBatchEntries  = 1 << 16 // entries per raft frame, all messages together
	maxConfIDs       = 1 << 10 // ids per ConfState list
)

// Presence bits of a message, in encoding order. A field is encoded only
// when set, so nil and zero stay distinct through a round trip.
const (
	mType = 1 << iota
	mTo
	mFrom
	mTerm
	mLogTerm
	mIndex
	mCommit
	mVote
	mReject
	mRejectHint
	mContext
	mEntries
	mSnapshot
	mAll = 1<<iota - 1
)

// appendRaftMessage encodes one message of group g (see doc.go). Responses
// (local-only messages of raft's async storage) are not carried.
func appendRaftMessage(dst []byte, g GroupID, m *pb.Message) ([]byte, error) {
	var bits uint64
	set := func(ok bool, bit uint64) {
		if ok {
			bits |= bit
		}
	}
	set(m.Type != nil, mType)
	set(m.To != nil, mTo)
	set(m.From != nil, mFrom)
	set(m.Term != nil, mTerm)
	set(m.LogTerm != nil, mLogTerm)
	set(m.Index != nil, mIndex)
	set(m.Commit != nil, mCommit)
	set(m.Vote != nil, mVote)
	set(m.Reject != nil, mReject)
	set(m.RejectHint != nil, mRejectHint)
	set(m.Context != nil, mContext)
	set(len(m.Entries) > 0, mEntries)
	set(m.Snapshot != nil, mSnapshot)
	if len(m.Entries) > maxBatchEntries {
		return dst, fmt.Errorf("%w: %d entries in one message, limit %d", ErrFrameTooLarge, len(m.Entries), maxBatchEntries)
	}
	dst = binary.AppendUvarint(dst, uint64(g))
	dst = binary.AppendUvarint(dst, bits)
	if m.Type != nil {
		dst = binary.AppendUvarint(dst, uint64(uint32(*m.Type)))
	}
	for _, p := range []*uint64{m.To, m.From, m.Term, m.LogTerm, m.Index, m.Commit, m.Vote} {
		if p != nil {
			dst = binary.AppendUvarint(dst, *p)
		}
	}
	if m.Reject != nil {
		dst = appendBool(dst, *m.Reject)
	}
	if m.RejectHint != nil {
		dst = binary.AppendUvarint(dst, *m.RejectHint)
	}
	if m.Context != nil {
		dst = appendBytes(dst, m.Context)
	}
	if len(m.Entries) > 0 {
		dst = binary.AppendUvarint(dst, uint64(len(m.Entries)))
		for _, e := range m.Entries {
			dst = appendEntry(dst, e)
		}
	}
	if m.Snapshot != nil {
		var err error
		if dst, err = appendSnapshot(dst, m.Snapshot); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendEntry(dst []byte, e *pb.Entry) []byte {
	if e == nil {
		e = &pb.Entry{}
	}
	var bits uint64
	if e.Type != nil {
		bits |= 1
	}
	if e.Term != nil {
		bits |= 2
	}
	if e.Index != nil {
		bits |= 4
	}
	if e.Data != nil {
		bits |= 8
	}
	dst = append(dst, byte(bits))
	if e.Type != nil {
		dst = binary.AppendUvarint(dst, uint64(uint32(*e.Type)))
	}
	if e.Term != nil {
		dst = binary.AppendUvarint(dst, *e.Term)
	}
	if e.Index != nil {
		dst = binary.AppendUvarint(dst, *e.Index)
	}
	if e.Data != nil {
		dst = appendBytes(dst, e.Data)
	}
	return dst
}

func appendSnapshot(dst []byte, s *pb.Snapshot) ([]byte, error) {
	md := s.Metadata
	var bits byte
	if s.Data != nil {
		bits |= 1
	}
	if md != nil {
		bits |= 2
	}
	dst = append(dst, bits)
	if s.Data != nil {
		dst = appendBytes(dst, s.Data)
	}
	if md == nil {
		return dst, nil
	}
	bits = 0
	if md.ConfState != nil {
		bits |= 1
	}
	if md.Index != nil {
		bits |= 2
	}
	if md.Term != nil {
		bits |= 4
	}
	dst = append(dst, bits)
	if cs := md.ConfState; cs != nil {
		lists := [][]uint64{cs.Voters, cs.Learners, cs.VotersOutgoing, cs.LearnersNext}
		bits = 0
		for i, l := range lists {
			if len(l) > maxConfIDs {
				return dst, fmt.Errorf("%w: %d ids in a conf state, limit %d", ErrFrameTooLarge, len(l), maxConfIDs)
			}
			if l != nil {
				bits |= 1 << i
			}
		}
		if cs.AutoLeave != nil {
			bits |= 16
		}
		dst = append(dst, bits)
		for _, l := range lists {
			if l != nil {
				dst = binary.AppendUvarint(dst, uint64(len(l)))
				for _, id := range l {
					dst = binary.AppendUvarint(dst, id)
				}
			}
		}
		if cs.AutoLeave != nil {
			dst = appendBool(dst, *cs.AutoLeave)
		}
	}
	if md.Index != nil {
		dst = binary.AppendUvarint(dst, *md.Index)
	}
	if md.Term != nil {
		dst = binary.AppendUvarint(dst, *md.Term)
	}
	return dst, nil
}

// appendRaftBatch encodes a raft frame's payload: a message count, then
// the messages already encoded back to back.
func appendRaftBatch(dst []byte, count int, encoded []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(count))
	return append(dst, encoded...)
}

// decodeRaftBatch decodes a raft frame's payload. Byte fields alias b.
// Counts are checked against the bytes left and the limits above before
// anything is allocated for them, so a hostile frame costs at most a
// bounded multiple of its size.
func decodeRaftBatch(b []byte) ([]RaftMessage, error) {
	d := raftDecoder{r: reader{b: b}}
	n := d.r.count(maxBatchMessages, 2)
	msgs := make([]RaftMessage, 0, n)
	for i := 0; i < n && d.r.err == nil; i++ {
		g := GroupID(d.r.uvarint())
		m := d.message()
		msgs = append(msgs, RaftMessage{Group: g, Msg: m})
	}
	if err := d.r.done("raft batch"); err != nil {
		return nil, err
	}
	return msgs, nil
}

type raftDecoder struct {
	r       reader
	entries int // decoded so far in this frame
}

func (d *raftDecoder) bits(all uint64) uint64 {
	v := d.r.uvarint()
	if v&^all != 0 {
		d.r.fail("unknown presence bits %#x", v&^all)
		return 0
	}
	return v
}

func (d *raftDecoder) u64p(bits, bit uint64) *uint64 {
	if bits&bit == 0 || d.r.err != nil {
		return nil
	}
	v := d.r.uvarint()
	return &v
}

func (d *raftDecoder) boolp(bits, bit uint64) *bool {
	if bits&bit == 0 || d.r.err != nil {
		return nil
	}
	var v bool
	switch d.r.u8() {
	case 0:
	case 1:
		v = true
	default:
		d.r.fail("bad bool")
	}
	return &v
}

func (d *raftDecoder) enum(bits, bit uint64) (int32, bool) {
	if bits&bit == 0 || d.r.err != nil {
		return 0, false
	}
	v := d.r.uvarint()
	if v > 1<<32-1 {
		d.r.fail("enum %d out of range", v)
	}
	return int32(uint32(v)), true
}

func (d *raftDecoder) blob(bits, bit uint64) []byte {
	if bits&bit == 0 || d.r.err != nil {
		return nil
	}
	n := d.r.uvarint()
	if n > uint64(len(d.r.b)) {
		d.r.fail("%d bytes, %d left", n, len(d.r.b))
		return nil
	}
	return d.r.bytes(int(n))
}

func (d *raftDecoder) message() *pb.Message {
	bits := d.bits(mAll)
	m := &pb.Message{}
	if t, ok := d.enum(bits, mType); ok {
		m.Type = pb.MessageType(t).Enum()
	}
	m.To = d.u64p(bits, mTo)
	m.From = d.u64p(bits, mFrom)
	m.Term = d.u64p(bits, mTerm)
	m.LogTerm = d.u64p(bits, mLogTerm)
	m.Index = d.u64p(bits, mIndex)
	m.Commit = d.u64p(bits, mCommit)
	m.Vote = d.u64p(bits, mVote)
	m.Reject = d.boolp(bits, mReject)
	m.RejectHint = d.u64p(bits, mRejectHint)
	m.Context = d.blob(bits, mContext)
	if bits&mEntries != 0 {
		n := d.r.count(maxBatchEntries-d.entries, 1)
		if n == 0 {
			d.r.fail("empty entries marked present")
		}
		d.entries += n
		m.Entries = make([]*pb.Entry, 0, n)
		for i := 0; i < n && d.r.err == nil; i++ {
			m.Entries = append(m.Entries, d.entry())
		}
	}
	if bits&mSnapshot != 0 {
		m.Snapshot = d.snapshot()
	}
	return m
}

func (d *raftDecoder) entry() *pb.Entry {
	bits := d.bits(15)
	e := &pb.Entry{}
	if t, ok := d.enum(bits, 1); ok {
		e.Type = pb.EntryType(t).Enum()
	}
	e.Term = d.u64p(bits, 2)
	e.Index = d.u64p(bits, 4)
	e.Data = d.blob(bits, 8)
	return e
}

func (d *raftDecoder) snapshot() *pb.Snapshot {
	bits := d.bits(3)
	s := &pb.Snapshot{Data: d.blob(bits, 1)}
	if bits&2 == 0 || d.r.err != nil {
		return s
	}
	mbits := d.bits(7)
	md := &pb.SnapshotMetadata{}
	if mbits&1 != 0 {
		md.ConfState = d.confState()
	}
	md.Index = d.u64p(mbits, 2)
	md.Term = d.u64p(mbits, 4)
	s.Metadata = md
	return s
}

func (d *raftDecoder) confState() *pb.ConfState {
	bits := d.bits(31)
	cs := &pb.ConfState{}
	for i, l := range []*[]uint64{&cs.Voters, &cs.Learners, &cs.VotersOutgoing, &cs.LearnersNext} {
		if bits&(1<<i) == 0 || d.r.err != nil {
			continue
		}
		n := d.r.count(maxConfIDs, 1)
		ids := make([]uint64, 0, n)
		for j := 0; j < n && d.r.err == nil; j++ {
			ids = append(ids, d.r.uvarint())
		}
		*l = ids
	}
	cs.AutoLeave = d.boolp(bits, 16)
	return cs
}
