package cluster

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/petrel-streaming/petrel/internal/model"
)

// sampleCommands holds one command of every type, with every field set.
func sampleCommands() []Command {
	return []Command{
		&RegisterBroker{NodeID: 7, KafkaAddr: "10.0.0.7:9092", RPCAddr: "10.0.0.7:33145", Rack: "rack-a"},
		&CreateTopic{Name: "orders", ID: testTopicID(1), Partitions: 2, ReplicationFactor: 2,
			Assignment: [][]model.NodeID{{1, 2}, {2, 1}}, Configs: map[string]string{"retention.ms": "1000", "segment.bytes": "1048576"}},
		&DeleteTopic{ID: testTopicID(2)},
		&CreatePartitions{ID: testTopicID(3), NewTotal: 4, Assignment: [][]model.NodeID{{3}, {1}}},
		&AlterConfigs{ID: testTopicID(4), Name: "t", Set: map[string]string{"retention.bytes": "5"}, Delete: []string{"segment.ms"}, Replace: true},
		&AllocateProducerIDs{Count: 1000},
		&AlterReassignments{Topic: testTopicID(5), Moves: []Move{{Partition: 0, Target: []model.NodeID{3, 1}}, {Partition: 2}, {Partition: 1, Target: []model.NodeID{}}}},
		&CompleteReassignment{Topic: testTopicID(6), Partition: 3, Replicas: []model.NodeID{2, 4, 1}},
		&SetBrokerDraining{NodeID: 4, Draining: true},
		&SetBrokerMaintenance{NodeID: 5, Enabled: true},
		&AllocateNodeID{},
	}
}

func TestCommandRoundTrip(t *testing.T) {
	seen := map[CommandType]bool{}
	for _, c := range sampleCommands() {
		enc := c.AppendTo([]byte("prefix"))
		if string(enc[:6]) != "prefix" {
			t.Fatalf("%T: AppendTo overwrote dst", c)
		}
		got, err := DecodeCommand(enc[6:])
		if err != nil {
			t.Fatalf("%T: %v", c, err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("%T round trip (-want +got):\n%s", c, diff)
		}
		seen[c.Type()] = true
	}
	for ty := TypeRegisterBroker; ty <= TypeAllocateNodeID; ty++ {
		if !seen[ty] {
			t.Errorf("no sample of %s", ty)
		}
	}
}

// TestCommandEncodingStable pins the encoding: these bytes are in
// controller logs on disk, so a change here is a format change.
func TestCommandEncodingStable(t *testing.T) {
	got := (&CreatePartitions{ID: testTopicID(3), NewTotal: 4, Assignment: [][]model.NodeID{{3}, {1}}}).AppendTo(nil)
	want := []byte{
		4, 1, // type, version
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, // id
		0, 0, 0, 4, // new total
		0, 0, 0, 2, // partitions
		1, 0, 0, 0, 3,
		1, 0, 0, 0, 1,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("encoding\n got %v\nwant %v", got, want)
	}
}

func TestDecodeCommandRejects(t *testing.T) {
	for _, c := range sampleCommands() {
		enc := c.AppendTo(nil)
		// Every truncation is corrupt, never a panic and never a success.
		for n := range len(enc) {
			if _, err := DecodeCommand(enc[:n]); err == nil {
				t.Fatalf("%T cut to %d of %d bytes decoded", c, n, len(enc))
			} else if n >= 2 && !errors.Is(err, model.ErrCorrupt) {
				t.Fatalf("%T cut to %d: %v does not wrap ErrCorrupt", c, n, err)
			}
		}
		if _, err := DecodeCommand(append(enc, 0)); !errors.Is(err, model.ErrCorrupt) {
			t.Errorf("%T with a trailing byte: %v", c, err)
		}
		bad := slices.Clone(enc)
		bad[1] = 2
		if _, err := DecodeCommand(bad); !errors.Is(err, ErrUnknownCommand) {
			t.Errorf("%T version 2: %v", c, err)
		}
	}
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, model.ErrCorrupt},
		{"unknown type", []byte{99, 1}, ErrUnknownCommand},
		{"type zero", []byte{0, 1}, ErrUnknownCommand},
		{"bool byte 2", append((&AlterConfigs{Name: "t"}).AppendTo(nil)[:len((&AlterConfigs{Name: "t"}).AppendTo(nil))-1], 2), model.ErrCorrupt},
		{"name too long", (&CreateTopic{Name: string(make([]byte, MaxTopicNameLen+1))}).AppendTo(nil), model.ErrCorrupt},
		{"too many replicas", (&CreatePartitions{Assignment: [][]model.NodeID{make([]model.NodeID, MaxReplicationFactor+1)}}).AppendTo(nil), model.ErrCorrupt},
		{"huge partition count", []byte{4, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff}, model.ErrCorrupt},
		{"count past the bytes", []byte{4, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x10, 0}, model.ErrCorrupt},
		{"duplicate config key", dupConfigs(), model.ErrCorrupt},
		{"move kind 2", []byte{7, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 2}, model.ErrCorrupt},
		{"draining byte 2", []byte{9, 1, 0, 0, 0, 1, 2}, model.ErrCorrupt},
		{"maintenance byte 2", []byte{10, 1, 0, 0, 0, 1, 2}, model.ErrCorrupt},
		{"maintenance short", []byte{10, 1, 0, 0, 0, 1}, model.ErrCorrupt},
	}
	for _, c := range cases {
		if _, err := DecodeCommand(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// dupConfigs encodes an AlterConfigs whose set lists one key twice.
func dupConfigs() []byte {
	b := header(nil, TypeAlterConfigs)
	b = append(b, make([]byte, 16)...)
	b = appendString(b, "t")
	b = append(b, 0, 2)
	for range 2 {
		b = appendString(appendString(b, "retention.ms"), "1")
	}
	b = appendStrings(b, nil)
	return appendBool(b, false)
}

func FuzzDecodeCommand(f *testing.F) {
	for _, c := range sampleCommands() {
		f.Add(c.AppendTo(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCommand(b)
		if err != nil {
			if !errors.Is(err, model.ErrCorrupt) && !errors.Is(err, ErrUnknownCommand) {
				t.Fatalf("error without identity: %v", err)
			}
			return
		}
		// What decodes re-encodes to a form that decodes to the same
		// command, and validating or applying it never panics.
		again, err := DecodeCommand(c.AppendTo(nil))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if diff := cmp.Diff(c, again); diff != "" {
			t.Fatalf("re-decode differs:\n%s", diff)
		}
		s := fuzzState(t)
		verr := s.Validate(c)
		_, aerr := s.Apply(s.Version()+1, c)
		if ErrorCode(verr) != ErrorCode(aerr) {
			t.Fatalf("Validate %v, Apply %v", verr, aerr)
		}
	})
}
