package cluster

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/petrel-streaming/petrel/internal/model"
)

// fuzzState is a small state with two brokers and one topic.
func fuzzState(t testing.TB) *State {
	t.Helper()
	s := NewState()
	for i, c := range []Command{
		&RegisterBroker{NodeID: 1, KafkaAddr: "a:1", RPCAddr: "a:2"},
		&RegisterBroker{NodeID: 2, KafkaAddr: "b:1", RPCAddr: "b:2"},
		&CreateTopic{Name: "t", ID: testTopicID(1), Partitions: 1, ReplicationFactor: 1, Assignment: [][]model.NodeID{{1}}},
	} {
		if _, err := s.Apply(model.Index(i+1), c); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestApplyIndexOrder(t *testing.T) {
	s := fuzzState(t)
	before := s.AppendSnapshot(nil)
	for _, i := range []model.Index{0, 2, 3} {
		if _, err := s.Apply(i, &AllocateProducerIDs{Count: 1}); !errors.Is(err, ErrIndexOrder) {
			t.Fatalf("apply at %d after 3: %v", i, err)
		}
	}
	if !slices.Equal(before, s.AppendSnapshot(nil)) {
		t.Fatal("a refused index changed the state")
	}
	// Gaps are fine: Raft-only entries of group 0 take indexes too.
	if _, err := s.Apply(10, &AllocateProducerIDs{Count: 1}); err != nil || s.Version() != 10 {
		t.Fatalf("apply at 10: %v, version %d", err, s.Version())
	}
}

func TestApplyNilAndForeignCommand(t *testing.T) {
	s := NewState()
	if _, err := s.Apply(1, nil); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("nil command: %v", err)
	}
	if s.Version() != 1 {
		t.Fatalf("version %d: a refused command still consumes its index", s.Version())
	}
}

// TestTablesAreImmutable: a published view does not change when the state
// moves on, and a new view sees the change.
func TestTablesAreImmutable(t *testing.T) {
	s := fuzzState(t)
	old := s.Tables()
	if s.Tables() != old {
		t.Fatal("an unchanged state should hand out the same view")
	}
	oldTopic, _ := old.TopicByName("t")
	apply := func(c Command) {
		t.Helper()
		if _, err := s.Apply(s.Version()+1, c); err != nil {
			t.Fatal(err)
		}
	}
	apply(&CreatePartitions{ID: testTopicID(1), NewTotal: 3, Assignment: [][]model.NodeID{{2}, {1}}})
	apply(&AlterConfigs{ID: testTopicID(1), Set: map[string]string{"retention.ms": "5000"}})
	apply(&CreateTopic{Name: "u", ID: testTopicID(2), Partitions: 1, ReplicationFactor: 2, Assignment: [][]model.NodeID{{2, 1}}})
	if err := s.SetTopicDefaults(map[string]string{"segment.ms": "60000"}); err != nil {
		t.Fatal(err)
	}
	if len(oldTopic.Partitions) != 1 || len(oldTopic.Configs) != 0 || oldTopic.Config.SegmentMs != 604800000 {
		t.Fatalf("published topic changed: %d partitions, configs %v, %+v", len(oldTopic.Partitions), oldTopic.Configs, oldTopic.Config)
	}
	if _, ok := old.TopicByName("u"); ok || old.Version() != 3 || old.PartitionCount() != 1 {
		t.Fatalf("published tables changed: version %d, %d partitions", old.Version(), old.PartitionCount())
	}
	cur := s.Tables()
	tp, _ := cur.TopicByName("t")
	if len(tp.Partitions) != 3 || tp.Config.RetentionMs != 5000 || tp.Config.SegmentMs != 60000 || cur.PartitionCount() != 4 {
		t.Fatalf("new view: %d partitions, %+v, total %d", len(tp.Partitions), tp.Config, cur.PartitionCount())
	}
	if &tp.Partitions[0] == &oldTopic.Partitions[0] {
		t.Fatal("grown topic shares the old partition array")
	}
}

// randomCommands makes a mix of valid and invalid commands over a small
// name space, so creates, deletes, collisions and alters interact.
func randomCommands(rng *rand.Rand, n int) []Command {
	names := []string{"a", "b", "a.b", "a_b", "__consumer_offsets", "c"}
	keys := []string{"retention.ms", "retention.bytes", "segment.ms", "cleanup.policy", "bogus"}
	vals := []string{"-1", "1000", "60000", "delete", "compact", "x"}
	nodes := func(k int) []model.NodeID {
		out := make([]model.NodeID, k)
		for i := range out {
			out[i] = model.NodeID(rng.IntN(4))
		}
		return out
	}
	out := make([]Command, 0, n)
	for range n {
		id := testTopicID(1 + rng.IntN(8))
		switch rng.IntN(10) {
		case 0:
			id := rng.IntN(4)
			out = append(out, &RegisterBroker{NodeID: model.NodeID(id), KafkaAddr: fmt.Sprintf("h%d:9092", id), RPCAddr: fmt.Sprintf("h%d:33145", id)})
		case 1:
			p, rf := 1+rng.IntN(3), 1+rng.IntN(2)
			a := make([][]model.NodeID, p)
			for i := range a {
				a[i] = nodes(rf)
			}
			cfg := map[string]string{}
			if rng.IntN(2) == 0 {
				cfg[keys[rng.IntN(len(keys))]] = vals[rng.IntN(len(vals))]
			}
			out = append(out, &CreateTopic{Name: names[rng.IntN(len(names))], ID: id, Partitions: int32(p), ReplicationFactor: int16(rf), Assignment: a, Configs: cfg})
		case 2:
			out = append(out, &DeleteTopic{ID: id})
		case 3:
			out = append(out, &CreatePartitions{ID: id, NewTotal: int32(2 + rng.IntN(3)), Assignment: [][]model.NodeID{nodes(1), nodes(1)}})
		case 4:
			c := &AlterConfigs{ID: id, Set: map[string]string{keys[rng.IntN(len(keys))]: vals[rng.IntN(len(vals))]}, Replace: rng.IntN(3) == 0}
			if !c.Replace && rng.IntN(2) == 0 {
				c.Delete = []string{keys[rng.IntN(len(keys))]}
			}
			out = append(out, c)
		case 5:
			out = append(out, &AllocateProducerIDs{Count: int64(rng.IntN(2000))})
		case 6:
			c := &AlterReassignments{Topic: id}
			for p := range 1 + rng.IntN(3) {
				m := Move{Partition: model.PartitionID(p + rng.IntN(2))}
				if rng.IntN(3) > 0 {
					m.Target = nodes(1 + rng.IntN(3))
				}
				c.Moves = append(c.Moves, m)
			}
			out = append(out, c)
		case 7:
			out = append(out, &CompleteReassignment{Topic: id, Partition: model.PartitionID(rng.IntN(3)), Replicas: nodes(1 + rng.IntN(2))})
		case 8:
			out = append(out, &SetBrokerDraining{NodeID: model.NodeID(rng.IntN(4)), Draining: rng.IntN(2) == 0})
		case 9:
			out = append(out, &SetBrokerMaintenance{NodeID: model.NodeID(rng.IntN(4)), Enabled: rng.IntN(2) == 0})
		}
	}
	return out
}

// TestApplyDeterministic applies the same random commands to two states,
// one of them restarted from a snapshot half way, one through the codec,
// and requires the same results and the same snapshot bytes.
func TestApplyDeterministic(t *testing.T) {
	seeds, n := 20, 400
	if testing.Short() {
		seeds, n = 5, 200
	}
	start := uint64(time.Now().UnixNano())
	for k := range seeds {
		seed := start + uint64(k)
		rng := rand.New(rand.NewPCG(seed, seed))
		cmds := randomCommands(rng, n)
		a, b := NewState(), NewState()
		var okCount int
		for i, c := range cmds {
			idx := model.Index(i + 1)
			if i == n/2 {
				restored, err := DecodeSnapshot(b.AppendSnapshot(nil))
				if err != nil {
					t.Fatalf("seed %d: snapshot at %d: %v", seed, i, err)
				}
				b = restored
			}
			dec, err := DecodeCommand(c.AppendTo(nil))
			if err != nil {
				t.Fatalf("seed %d: decode %T: %v", seed, c, err)
			}
			verr := a.Validate(c)
			ra, ea := a.Apply(idx, c)
			rb, eb := b.Apply(idx, dec)
			if ErrorCode(ea) != ErrorCode(eb) || ErrorCode(verr) != ErrorCode(ea) || ra.FirstProducerID != rb.FirstProducerID || moveCodes(ra) != moveCodes(rb) {
				t.Fatalf("seed %d, command %d %T: validate %v, apply %v / %v", seed, i, c, verr, ea, eb)
			}
			if ea == nil {
				okCount++
			}
		}
		if sa, sb := a.AppendSnapshot(nil), b.AppendSnapshot(nil); !slices.Equal(sa, sb) {
			t.Fatalf("seed %d: snapshots differ", seed)
		}
		if okCount == 0 || okCount == n {
			t.Fatalf("seed %d: %d of %d commands applied: the mix tests nothing", seed, okCount, n)
		}
	}
}

// moveCodes formats a Result's per-move error codes.
func moveCodes(r Result) string {
	var b []byte
	for _, m := range r.Moves {
		b = fmt.Appendf(b, "%d:%d ", m.Partition, ErrorCode(m.Err))
	}
	return string(b)
}

func TestDecodeSnapshotRejects(t *testing.T) {
	s := fuzzState(t)
	snap := s.AppendSnapshot(nil)
	for n := range len(snap) {
		if _, err := DecodeSnapshot(snap[:n]); !errors.Is(err, model.ErrCorrupt) {
			t.Fatalf("snapshot cut to %d of %d: %v", n, len(snap), err)
		}
	}
	for i := range snap {
		bad := slices.Clone(snap)
		bad[i] ^= 0x10
		if _, err := DecodeSnapshot(bad); !errors.Is(err, model.ErrCorrupt) {
			t.Fatalf("bit flip at %d: %v", i, err)
		}
	}
	// A well-formed checksum over impossible content is still refused.
	resum := func(b []byte) []byte {
		b = b[:len(b)-4]
		return append(b, byteCRC(b)...)
	}
	body := slices.Clone(snap[:len(snap)-4])
	body[4+7] = 0 // applied index 0 < topic revision 3
	if _, err := DecodeSnapshot(resum(append(body, 0, 0, 0, 0))); !errors.Is(err, model.ErrCorrupt) {
		t.Fatalf("revision past the applied index: %v", err)
	}
}

func byteCRC(b []byte) []byte {
	c := model.CRC32C(b)
	return []byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)}
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(NewState().AppendSnapshot(nil))
	f.Add(fuzzState(f).AppendSnapshot(nil))
	moving := fuzzState(f)
	for i, c := range []Command{
		&AlterReassignments{Topic: testTopicID(1), Moves: []Move{{Partition: 0, Target: []model.NodeID{2, 1}}}},
		&SetBrokerDraining{NodeID: 1, Draining: true},
		&SetBrokerMaintenance{NodeID: 2, Enabled: true},
	} {
		if _, err := moving.Apply(model.Index(10+i), c); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(moving.AppendSnapshot(nil))
	check := func(t *testing.T, b []byte) {
		s, err := DecodeSnapshot(b)
		if err != nil {
			if !errors.Is(err, model.ErrCorrupt) {
				t.Fatalf("error without identity: %v", err)
			}
			return
		}
		again := s.AppendSnapshot(nil)
		if b[len(snapshotMagic)] != snapshotVersion {
			// An older version re-encodes as the current one, which must
			// decode and re-encode to itself.
			s2, err := DecodeSnapshot(again)
			if err != nil {
				t.Fatalf("a snapshot of version %d re-encoded as %d does not decode: %v", b[len(snapshotMagic)], snapshotVersion, err)
			}
			if !slices.Equal(s2.AppendSnapshot(nil), again) {
				t.Fatal("an upgraded snapshot does not re-encode to its bytes: the format is not canonical")
			}
			return
		}
		if !slices.Equal(again, b) {
			t.Fatal("a decoded snapshot does not re-encode to its bytes: the format is not canonical")
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		check(t, b)
		// Past the checksum: the same bytes with a correct CRC exercise
		// the structural and semantic checks.
		if len(b) >= 4 {
			body := b[: len(b)-4 : len(b)-4]
			check(t, append(body, byteCRC(body)...))
		}
	})
}

func TestErrorCode(t *testing.T) {
	cases := []struct {
		err  error
		want *kerr.Error
	}{
		{fmt.Errorf("x: %w", ErrTopicExists), kerr.TopicAlreadyExists},
		{fmt.Errorf("x: %w", ErrUnknownTopic), kerr.UnknownTopicOrPartition},
		{fmt.Errorf("x: %w", ErrUnknownTopicID), kerr.UnknownTopicID},
		{fmt.Errorf("x: %w", ErrInvalidTopic), kerr.InvalidTopicException},
		{fmt.Errorf("x: %w", ErrInvalidPartitions), kerr.InvalidPartitions},
		{fmt.Errorf("x: %w", ErrInvalidReplicationFactor), kerr.InvalidReplicationFactor},
		{fmt.Errorf("x: %w", ErrInvalidReplicaAssignment), kerr.InvalidReplicaAssignment},
		{fmt.Errorf("x: %w", ErrInvalidConfig), kerr.InvalidConfig},
		{fmt.Errorf("x: %w", ErrInvalidRequest), kerr.InvalidRequest},
		{fmt.Errorf("x: %w", ErrInternalTopic), kerr.PolicyViolation},
		{errors.New("other"), kerr.UnknownServerError},
	}
	for _, c := range cases {
		if got := ErrorCode(c.err); got != c.want.Code {
			t.Errorf("%v: code %d, want %d (%s)", c.err, got, c.want.Code, c.want.Message)
		}
	}
	if ErrorCode(nil) != 0 {
		t.Error("nil must map to 0")
	}
}

func TestCheckTopicName(t *testing.T) {
	long := string(slices.Repeat([]byte("x"), MaxTopicNameLen))
	for _, ok := range []string{"a", "A-b_c.9", long, "...", "__consumer_offsets"} {
		if err := CheckTopicName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", long + "x", "a b", "a/b", "ä", "a\x00"} {
		if err := CheckTopicName(bad); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("%q: %v, want ErrInvalidTopic", bad, err)
		}
	}
}

// TestValidateRefusesUnencodable: a command the codec cannot read back
// must never reach the log.
func TestValidateRefusesUnencodable(t *testing.T) {
	s := fuzzState(t)
	long := string(slices.Repeat([]byte("0:1,"), MaxConfigValueLen/4+1))
	dupDeletes := slices.Repeat([]string{"retention.ms"}, MaxConfigsPerCommand+1)
	for _, c := range []Command{
		&AlterConfigs{ID: testTopicID(1), Set: map[string]string{"leader.replication.throttled.replicas": long}},
		&AlterConfigs{ID: testTopicID(1), Delete: dupDeletes},
	} {
		if err := s.Validate(c); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("Validate: %v", err)
		}
		if _, err := s.Apply(s.Version()+1, c); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("Apply: %v", err)
		}
	}
}
