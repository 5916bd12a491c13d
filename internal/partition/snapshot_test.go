package partition

import (
	"bytes"
	"errors"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/petrel-streaming/petrel/internal/model"
)

func testSnap() *snapRecord {
	return &snapRecord{index: 120, term: 3, startOffset: 4096, confIndex: 130,
		conf: &pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}, data: []byte("state")}
}

// TestSnapRecordRoundTrip: a stored record and the one raft carries decode
// to what was encoded.
func TestSnapRecordRoundTrip(t *testing.T) {
	s := testSnap()
	b, err := s.appendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]func() (*snapRecord, error){
		"stored": func() (*snapRecord, error) { return decodeSnapRecord(b) },
		"raft":   func() (*snapRecord, error) { return snapFromRaft(s.toRaft()) },
	} {
		d, err := got()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.index != s.index || d.term != s.term || d.startOffset != s.startOffset || d.confIndex != s.confIndex ||
			!bytes.Equal(d.data, s.data) || len(d.conf.GetVoters()) != 3 || len(d.conf.GetLearners()) != 1 {
			t.Errorf("%s: decoded %+v, want %+v", name, d, s)
		}
	}
	if _, err := decodeSnapRecord(b[:20]); !errors.Is(err, model.ErrCorrupt) {
		t.Errorf("truncated record: %v", err)
	}
	if _, err := snapFromRaft(&pb.Snapshot{Data: []byte{1, 2}}); !errors.Is(err, model.ErrCorrupt) {
		t.Errorf("short raft snapshot: %v", err)
	}
}

// FuzzDecodeSnapRecord: stored snapshot records come from disk, and a
// snapshot's data from a peer: any bytes decode or fail with ErrCorrupt,
// and what decodes encodes again.
func FuzzDecodeSnapRecord(f *testing.F) {
	b, err := testSnap().appendTo(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(testSnap().toRaft().Data)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSnapRecord(b)
		if err != nil {
			if !errors.Is(err, model.ErrCorrupt) {
				t.Fatalf("error without identity: %v", err)
			}
		} else if _, err := s.appendTo(nil); err != nil {
			t.Fatalf("a decoded record does not encode: %v", err)
		}
		idx, term := uint64(7), uint64(2)
		if _, err := snapFromRaft(&pb.Snapshot{Data: b, Metadata: &pb.SnapshotMetadata{Index: &idx, Term: &term}}); err != nil &&
			!errors.Is(err, model.ErrCorrupt) {
			t.Fatalf("raft snapshot: error without identity: %v", err)
		}
	})
}
