package cluster

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
)

// applier applies commands at increasing indexes and fails the test on
// an error.
type applier struct {
	t *testing.T
	s *State
	i model.Index
}

func (a *applier) apply(c Command) Result {
	a.t.Helper()
	a.i++
	res, err := a.s.Apply(a.i, c)
	if err != nil {
		a.t.Fatalf("apply %s at %d: %v", c.Type(), a.i, err)
	}
	return res
}

func (a *applier) register(id model.NodeID) {
	a.t.Helper()
	a.apply(&RegisterBroker{NodeID: id, KafkaAddr: "h:1", RPCAddr: "h:2"})
}

func (a *applier) allocate() model.NodeID {
	a.t.Helper()
	return a.apply(&AllocateNodeID{}).NodeID
}

func TestAllocateNodeID(t *testing.T) {
	a := &applier{t: t, s: NewState()}
	if id := a.allocate(); id != 0 {
		t.Fatalf("first id of an empty cluster: %d, want 0", id)
	}
	for id := range model.NodeID(3) {
		a.register(id)
	}
	// Two joiners allocate before either registers: the log orders the
	// applies, and the second sees the first's high-water mark.
	first, second := a.allocate(), a.allocate()
	if first != 3 || second != 4 {
		t.Fatalf("two allocations gave %d and %d, want 3 and 4", first, second)
	}
	a.register(first)
	// second never registered (its node crashed before joining): its id
	// is not handed out again.
	if id := a.allocate(); id != 5 {
		t.Fatalf("after 3 registered and 4 allocated: %d, want 5", id)
	}
	// A decommissioned broker keeps its id for good.
	a.register(5)
	a.apply(&SetBrokerDraining{NodeID: 5, Draining: true})
	if id := a.allocate(); id != 6 {
		t.Fatalf("after decommissioning 5: %d, want 6", id)
	}
	// A broker registered with an explicit id above the mark bounds the
	// next allocation too.
	a.register(10)
	if id := a.allocate(); id != 11 {
		t.Fatalf("after broker 10 registered: %d, want 11", id)
	}
	if hw := a.s.Tables().NodeIDHighWater(); hw != 11 {
		t.Fatalf("high water %d, want 11", hw)
	}
}

// TestAllocateNodeIDDeterministic: every node applying the same log gives
// the same ids (the proposer's answer is what every replica recorded).
func TestAllocateNodeIDDeterministic(t *testing.T) {
	var runs [2][]model.NodeID
	for r := range runs {
		a := &applier{t: t, s: NewState()}
		for i := range 20 {
			switch i % 3 {
			case 0:
				a.register(model.NodeID(i))
			default:
				runs[r] = append(runs[r], a.allocate())
			}
		}
	}
	if !slices.Equal(runs[0], runs[1]) {
		t.Fatalf("two replicas allocated %v and %v", runs[0], runs[1])
	}
	if !slices.IsSorted(runs[0]) || len(slices.Compact(slices.Clone(runs[0]))) != len(runs[0]) {
		t.Fatalf("ids not strictly increasing: %v", runs[0])
	}
}

func TestAllocateNodeIDExhausted(t *testing.T) {
	a := &applier{t: t, s: NewState()}
	a.register(math.MaxInt32)
	before := a.s.AppendSnapshot(nil)
	if err := a.s.Validate(&AllocateNodeID{}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("validate with broker MaxInt32 registered: %v", err)
	}
	if _, err := a.s.Apply(a.i+1, &AllocateNodeID{}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("apply with broker MaxInt32 registered: %v", err)
	}
	after := a.s.AppendSnapshot(nil)
	// Only the applied index may differ.
	if hw := a.s.Tables().NodeIDHighWater(); hw != -1 || len(before) != len(after) {
		t.Fatalf("a refused allocation changed the state: high water %d", hw)
	}
}

// snapshotAsVersion3 rewrites a version 4 snapshot as version 3 wrote it:
// no node id high water mark.
func snapshotAsVersion3(t *testing.T, v4 []byte) []byte {
	t.Helper()
	const at = len(snapshotMagic) + 1 + 8 + 8 // magic, version, index, next producer id
	if v4[len(snapshotMagic)] != 4 {
		t.Fatalf("snapshot version %d, want 4", v4[len(snapshotMagic)])
	}
	v3 := slices.Concat(v4[:at], v4[at+4:len(v4)-4])
	v3[len(snapshotMagic)] = 3
	return binary.BigEndian.AppendUint32(v3, model.CRC32C(v3))
}

func TestSnapshotNodeIDHighWater(t *testing.T) {
	a := &applier{t: t, s: NewState()}
	for id := range model.NodeID(3) {
		a.register(id)
	}
	a.allocate()
	a.allocate() // 4: allocated, never registered
	enc := a.s.AppendSnapshot(nil)

	s, err := DecodeSnapshot(enc)
	if err != nil {
		t.Fatal(err)
	}
	if hw := s.Tables().NodeIDHighWater(); hw != 4 {
		t.Fatalf("decoded high water %d, want 4", hw)
	}
	if !slices.Equal(s.AppendSnapshot(nil), enc) {
		t.Fatal("re-encoding the decoded snapshot gives other bytes")
	}
	b := &applier{t: t, s: s, i: a.i}
	if id := b.allocate(); id != 5 {
		t.Fatalf("allocation after a snapshot: %d, want 5 (4 was given before it)", id)
	}

	// Version 3: no mark; the broker ids bound the next allocation.
	old, err := DecodeSnapshot(snapshotAsVersion3(t, enc))
	if err != nil {
		t.Fatalf("version 3 snapshot: %v", err)
	}
	if hw := old.Tables().NodeIDHighWater(); hw != -1 {
		t.Fatalf("version 3 high water %d, want -1", hw)
	}
	if got, want := len(old.Tables().Brokers()), 3; got != want {
		t.Fatalf("version 3 snapshot has %d brokers, want %d", got, want)
	}
	c := &applier{t: t, s: old, i: a.i}
	if id := c.allocate(); id != 3 {
		t.Fatalf("allocation after a version 3 snapshot: %d, want 3", id)
	}
	if v := old.AppendSnapshot(nil)[len(snapshotMagic)]; v != snapshotVersion {
		t.Fatalf("re-encoded as version %d, want %d", v, snapshotVersion)
	}

	// A mark below -1 is corruption.
	bad := slices.Clone(enc[:len(enc)-4])
	binary.BigEndian.PutUint32(bad[len(snapshotMagic)+1+16:], uint32(0xfffffffe))
	bad = binary.BigEndian.AppendUint32(bad, model.CRC32C(bad))
	if _, err := DecodeSnapshot(bad); !errors.Is(err, model.ErrCorrupt) {
		t.Fatalf("high water -2: %v, want corruption", err)
	}
	// Versions other than 3 and 4 are refused.
	for _, v := range []byte{2, 5} {
		bad := slices.Clone(enc[:len(enc)-4])
		bad[len(snapshotMagic)] = v
		bad = binary.BigEndian.AppendUint32(bad, model.CRC32C(bad))
		if _, err := DecodeSnapshot(bad); !errors.Is(err, model.ErrCorrupt) {
			t.Fatalf("version %d: %v, want corruption", v, err)
		}
	}
}
