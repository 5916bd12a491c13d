package rpc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
	pb "go.etcd.io/raft/v3/raftpb"
)

func sampleMessages() []RaftMessage {
	b := func(v bool) *bool { return &v }
	cs := &pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{}, VotersOutgoing: []uint64{1, 1 << 62},
		AutoLeave: b(true)}
	return []RaftMessage{
		{Group: 0, Msg: &pb.Message{}},
		{Group: 1, Msg: heartbeat(1, 2, 99)},
		{Group: 1 << 40, Msg: &pb.Message{Type: pb.MsgHeartbeatResp.Enum(), Context: []byte{}, Reject: b(false)}},
		{Group: 3, Msg: &pb.Message{Type: pb.MsgApp.Enum(), To: u64(2), From: u64(1), Term: u64(7), LogTerm: u64(6),
			Index: u64(100), Commit: u64(98), Entries: []*pb.Entry{
				{Term: u64(7), Index: u64(101), Data: []byte("batch")},
				{Type: pb.EntryConfChangeV2.Enum(), Term: u64(7), Index: u64(102), Data: []byte{}},
				{Term: u64(0), Index: u64(103)},
			}}},
		{Group: 4, Msg: &pb.Message{Type: pb.MsgAppResp.Enum(), Reject: b(true), RejectHint: u64(50), Vote: u64(0)}},
		{Group: 5, Msg: &pb.Message{Type: pb.MsgSnap.Enum(), Snapshot: &pb.Snapshot{Data: []byte("snap"),
			Metadata: &pb.SnapshotMetadata{ConfState: cs, Index: u64(1000), Term: u64(9)}}}},
		{Group: 6, Msg: &pb.Message{Type: pb.MsgSnap.Enum(), Snapshot: &pb.Snapshot{Metadata: &pb.SnapshotMetadata{}}}},
		{Group: 7, Msg: &pb.Message{Type: pb.MessageType(-1).Enum(), Term: u64(1<<64 - 1)}},
	}
}

func encodeBatch(t testing.TB, msgs []RaftMessage) []byte {
	var enc []byte
	for _, m := range msgs {
		var err error
		if enc, err = appendRaftMessage(enc, m.Group, m.Msg); err != nil {
			t.Fatal(err)
		}
	}
	return appendRaftBatch(nil, len(msgs), enc)
}

// sameMessages compares by the messages' text form, which shows which
// optional fields are set (nil and zero differ).
func sameMessages(a, b []RaftMessage) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d messages, want %d", len(b), len(a))
	}
	for i := range a {
		if a[i].Group != b[i].Group || a[i].Msg.String() != b[i].Msg.String() {
			return fmt.Errorf("message %d: got group %d %v, want group %d %v", i, b[i].Group, b[i].Msg, a[i].Group, a[i].Msg)
		}
	}
	return nil
}

func TestRaftCodecRoundTrip(t *testing.T) {
	msgs := sampleMessages()
	enc := encodeBatch(t, msgs)
	got, err := decodeRaftBatch(enc)
	must(t, err)
	if err := sameMessages(msgs, got); err != nil {
		t.Fatal(err)
	}
	if got[2].Msg.Context == nil || got[3].Msg.Entries[1].Data == nil || got[3].Msg.Entries[2].Data != nil {
		t.Fatal("nil and empty byte fields not kept apart")
	}
	// Every proper prefix fails, and so does a trailing byte.
	for n := range len(enc) {
		if _, err := decodeRaftBatch(enc[:n]); !errors.Is(err, ErrBadFrame) || !errors.Is(err, model.ErrCorrupt) {
			t.Fatalf("prefix of %d/%d bytes: %v", n, len(enc), err)
		}
	}
	if _, err := decodeRaftBatch(append(enc, 0)); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("trailing byte: %v", err)
	}
	// Every single-byte change decodes or fails, never panics.
	for i := range enc {
		for _, v := range []byte{0, 1, 0x7f, 0x80, 0xff} {
			m := bytes.Clone(enc)
			m[i] = v
			_, _ = decodeRaftBatch(m)
		}
	}
}

func TestRaftCodecLimits(t *testing.T) {
	one := func(bits uint64, rest ...byte) []byte { // a batch of one message of group 0
		return append(binary.AppendUvarint([]byte{1, 0}, bits), rest...)
	}
	for name, in := range map[string][]byte{
		"count beyond bytes":   binary.AppendUvarint(nil, 1000),
		"count beyond limit":   append(binary.AppendUvarint(nil, maxBatchMessages+1), make([]byte, 4*maxBatchMessages)...),
		"unknown presence bit": {1, 0, 0x80, 0x40},
		"entries flag, none":   one(mEntries, 0),
		"blob beyond bytes":    one(mContext, 0xff, 0xff, 0x03),
		"bad bool":             one(mReject, 2),
		"enum over 32 bits":    one(mType, binary.AppendUvarint(nil, 1<<33)...),
		"varint overflow":      {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	} {
		if _, err := decodeRaftBatch(in); !errors.Is(err, ErrBadFrame) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Entries over the per-frame limit, even spread over messages.
	var enc []byte
	per := maxBatchEntries/2 + 1
	m := &pb.Message{Entries: make([]*pb.Entry, per)}
	for i := range m.Entries {
		m.Entries[i] = &pb.Entry{}
	}
	for range 2 {
		var err error
		enc, err = appendRaftMessage(enc, 1, m)
		must(t, err)
	}
	if _, err := decodeRaftBatch(appendRaftBatch(nil, 2, enc)); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("entries over the frame limit: %v", err)
	}
	if _, err := appendRaftMessage(nil, 1, &pb.Message{Entries: make([]*pb.Entry, maxBatchEntries+1)}); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("encoding entries over the limit: %v", err)
	}
	big := &pb.Message{Snapshot: &pb.Snapshot{Metadata: &pb.SnapshotMetadata{ConfState: &pb.ConfState{Voters: make([]uint64, maxConfIDs+1)}}}}
	if _, err := appendRaftMessage(nil, 1, big); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("encoding a conf state over the limit: %v", err)
	}
}

func TestFrameHeader(t *testing.T) {
	h := header{payloadLen: 5, method: 300, flags: flagResponse | flagError, corr: 1<<63 + 5, timeoutMillis: 1234}
	enc := appendHeader(nil, h)
	if len(enc) != headerBytes {
		t.Fatalf("header of %d bytes", len(enc))
	}
	got, err := parseHeader((*[headerBytes]byte)(enc), 1<<20)
	if err != nil || got != h {
		t.Fatalf("got %+v %v, want %+v", got, err, h)
	}
	if _, err := parseHeader((*[headerBytes]byte)(enc), headerBytes+4); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	if _, err := parseHeader((*[headerBytes]byte)(enc), headerBytes+5); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	bad := bytes.Clone(enc)
	bad[6] = flagError // error flag on a request
	if _, err := parseHeader((*[headerBytes]byte)(bad), 1<<20); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("error flag on request: %v", err)
	}
	hl := hello{version: Version, from: 3, to: -1, cluster: "c"}
	if got, err := decodeHello(hl.appendTo(nil)); err != nil || got != hl {
		t.Fatalf("hello: %+v %v", got, err)
	}
	long := string(bytes.Repeat([]byte{'x'}, 2*maxMessageBytes))
	re, err := decodeErrorPayload(appendErrorPayload(nil, CodeWrongCluster, long))
	if err != nil || re.Code != CodeWrongCluster || len(re.Message) != maxMessageBytes || !errors.Is(re, ErrWrongCluster) {
		t.Fatalf("error payload: %+v %v", re, err)
	}
}

// FuzzDecodeRaftBatch: decoding never panics, and what decodes encodes
// back to a batch that decodes to the same messages.
func FuzzDecodeRaftBatch(f *testing.F) {
	f.Add(encodeBatch(f, sampleMessages()))
	f.Add(encodeBatch(f, sampleMessages()[1:2]))
	f.Fuzz(func(t *testing.T, in []byte) {
		msgs, err := decodeRaftBatch(in)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("error without identity: %v", err)
			}
			return
		}
		again, err := decodeRaftBatch(encodeBatch(t, msgs))
		if err != nil {
			t.Fatalf("re-encoded batch: %v", err)
		}
		if err := sameMessages(msgs, again); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzReadFrame: frame, hello and error payload decoding never panic and
// never allocate past the limit.
func FuzzReadFrame(f *testing.F) {
	hl := hello{version: Version, from: 1, to: 2, cluster: "test-cluster"}.appendTo(nil)
	f.Add(append(appendHeader(nil, header{method: methodHello, payloadLen: len(hl)}), hl...))
	ep := appendErrorPayload(nil, CodeWrongNode, "no")
	f.Add(append(appendHeader(nil, header{method: methodHello, flags: flagResponse | flagError, payloadLen: len(ep)}), ep...))
	f.Add(binary.BigEndian.AppendUint32(make([]byte, 0, headerBytes), 1<<31))
	f.Fuzz(func(t *testing.T, in []byte) {
		var hb [headerBytes]byte
		h, payload, err := readFrame(bytes.NewReader(in), &hb, 4096)
		if err != nil {
			return
		}
		if len(payload) != h.payloadLen || headerBytes+len(payload) > 4096 || headerBytes+len(payload) > len(in) {
			t.Fatalf("payload of %d bytes from %d input bytes, header %+v", len(payload), len(in), h)
		}
		if hl, err := decodeHello(payload); err == nil && len(hl.appendTo(nil)) != len(payload) {
			t.Fatalf("hello %+v does not re-encode to its %d bytes", hl, len(payload))
		}
		if re, err := decodeErrorPayload(payload); err == nil && len(appendErrorPayload(nil, re.Code, re.Message)) != len(payload) {
			t.Fatalf("error payload %+v does not re-encode", re)
		}
	})
}

// TestWriteFuzzCorpus regenerates the committed seed corpus under
// testdata/fuzz (RPC_WRITE_CORPUS=1 go test -run TestWriteFuzzCorpus).
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("RPC_WRITE_CORPUS") == "" {
		t.Skip("set RPC_WRITE_CORPUS=1 to rewrite testdata/fuzz")
	}
	write := func(target, name string, in []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		must(t, os.MkdirAll(dir, 0o755))
		must(t, os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", in), 0o644))
	}
	msgs := sampleMessages()
	for i := range msgs {
		write("FuzzDecodeRaftBatch", fmt.Sprintf("msg%d", i), encodeBatch(t, msgs[i:i+1]))
	}
	all := encodeBatch(t, msgs)
	write("FuzzDecodeRaftBatch", "all", all)
	write("FuzzDecodeRaftBatch", "truncated", all[:len(all)/2])
	write("FuzzDecodeRaftBatch", "huge-count", binary.AppendUvarint(nil, 1<<40))
	hl := hello{version: Version, from: 1, to: 2, cluster: "c1"}.appendTo(nil)
	write("FuzzReadFrame", "hello", append(appendHeader(nil, header{method: methodHello, payloadLen: len(hl)}), hl...))
	ep := appendErrorPayload(nil, CodeWrongCluster, "node 1 of cluster \"a\" dialed node 2 of cluster \"b\"")
	write("FuzzReadFrame", "error", append(appendHeader(nil, header{method: methodHello, flags: flagResponse | flagError, payloadLen: len(ep)}), ep...))
	write("FuzzReadFrame", "oversized", binary.BigEndian.AppendUint32(make([]byte, 0, headerBytes), 1<<31))
	raft := appendHeader(nil, header{method: methodRaft, flags: flagOneway, corr: 9, payloadLen: 20})
	write("FuzzReadFrame", "raft-truncated", append(raft, all[:10]...))
}
