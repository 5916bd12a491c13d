package producers

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/petrel-streaming/petrel/internal/model"
)

// randomState builds a state from a seeded random history.
func randomState(seed uint64, n int) *State {
	rng := rand.New(rand.NewPCG(seed, 0))
	s := New(Config{MaxProducers: 8})
	for range n {
		pid := int64(rng.IntN(12))
		epoch := int16(rng.IntN(3))
		count := int32(1 + rng.IntN(4))
		var seq int32
		if _, batches, ok := s.Producer(pid); ok && len(batches) > 0 && rng.IntN(4) > 0 {
			seq = NextSeq(batches[len(batches)-1].LastSeq, 1)
		}
		if d, err := s.Check(pid, epoch, seq, count); err == nil && d.Kind == Append {
			first := s.End()
			s.Append(pid, epoch, seq, NextSeq(seq, count-1), first, first+model.Offset(count)-1, rng.Int64N(1e6))
		}
		if rng.IntN(20) == 0 {
			s.Truncate(s.End() - model.Offset(rng.IntN(5)))
		}
	}
	return s
}

// view is a comparable rendering of a State, LRU order included.
type view struct {
	End     model.Offset
	Entries []entryView
}

type entryView struct {
	PID        int64
	Epoch      int16
	SeqUnknown bool
	EpochStart model.Offset
	LastTs     int64
	Batches    []BatchMeta
}

func viewOf(s *State) view {
	v := view{End: s.end}
	for e := s.lru.next; e != &s.lru; e = e.next {
		_, batches, _ := s.Producer(e.pid)
		v.Entries = append(v.Entries, entryView{e.pid, e.epoch, e.seqUnknown, e.epochStart, e.lastTs, batches})
	}
	return v
}

func TestSnapshotRoundTrip(t *testing.T) {
	for seed := range uint64(20) {
		s := randomState(seed, 200)
		b := s.AppendTo([]byte("prefix"))
		got, err := Decode(b[len("prefix"):], Config{MaxProducers: 8})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if diff := cmp.Diff(viewOf(s), viewOf(got)); diff != "" {
			t.Fatalf("seed %d: round trip (-want +got):\n%s", seed, diff)
		}
	}
	empty, err := Decode(New(Config{}).AppendTo(nil), Config{})
	if err != nil || empty.Len() != 0 || empty.End() != 0 {
		t.Fatalf("empty: %v", err)
	}
}

func TestSnapshotSmallerBound(t *testing.T) {
	s := New(Config{})
	for pid := range int64(5) {
		s.Append(pid, 0, 0, 0, model.Offset(pid), model.Offset(pid), 0)
	}
	got, err := Decode(s.AppendTo(nil), Config{MaxProducers: 2})
	if err != nil || got.Len() != 2 {
		t.Fatalf("len %d, %v", got.Len(), err)
	}
	for _, pid := range []int64{3, 4} { // the two most recent survive
		if _, _, ok := got.Producer(pid); !ok {
			t.Fatalf("producer %d dropped", pid)
		}
	}
}

func TestDecodeRefusesDamage(t *testing.T) {
	good := randomState(1, 100).AppendTo(nil)
	if _, err := Decode(good, Config{}); err != nil {
		t.Fatal(err)
	}
	for i := range good {
		for _, bit := range []byte{1, 0x80} {
			bad := append([]byte(nil), good...)
			bad[i] ^= bit
			if _, err := Decode(bad, Config{}); !errors.Is(err, model.ErrCorrupt) {
				t.Fatalf("flip at %d: %v", i, err)
			}
		}
	}
	for n := range len(good) {
		if _, err := Decode(good[:n], Config{}); !errors.Is(err, model.ErrCorrupt) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(b, Config{})
		if err != nil {
			if !errors.Is(err, model.ErrCorrupt) {
				t.Fatalf("error not marked corrupt: %v", err)
			}
			return
		}
		again, err := Decode(s.AppendTo(nil), Config{})
		if err != nil {
			t.Fatalf("re-encoding of an accepted snapshot: %v", err)
		}
		if diff := cmp.Diff(viewOf(s), viewOf(again)); diff != "" {
			t.Fatalf("not stable (-first +second):\n%s", diff)
		}
	})
}

func fuzzSeeds() [][]byte {
	return [][]byte{
		New(Config{}).AppendTo(nil),
		randomState(1, 30).AppendTo(nil),
		randomState(2, 300).AppendTo(nil),
	}
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzDecode when
// PETREL_WRITE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("PETREL_WRITE_CORPUS") != "1" {
		t.Skip("set PETREL_WRITE_CORPUS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range fuzzSeeds() {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, "seed"+strconv.Itoa(i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDecodeRefusesInconsistent: damage behind a valid CRC is still refused.
func TestDecodeRefusesInconsistent(t *testing.T) {
	s := New(Config{})
	s.Append(7, 1, 0, 1, 0, 1, 0)
	s.Append(7, 1, 2, 2, 2, 2, 0)
	good := s.AppendTo(nil)
	reseal := func(f func(b []byte) []byte) []byte {
		b := f(append([]byte(nil), good[:len(good)-4]...))
		return binary.BigEndian.AppendUint32(b, model.CRC32C(b))
	}
	const entryAt = snapHeaderSize
	const batchesAt = entryAt + entryFixedSize
	cases := map[string][]byte{
		"version":         reseal(func(b []byte) []byte { b[5] = 2; return b }),
		"magic":           reseal(func(b []byte) []byte { b[0] = 'X'; return b }),
		"count too large": reseal(func(b []byte) []byte { b[17] = 9; return b }),
		"negative pid":    reseal(func(b []byte) []byte { b[entryAt] = 0x80; return b }),
		"unknown flag":    reseal(func(b []byte) []byte { b[entryAt+10] = 2; return b }),
		"six batches":     reseal(func(b []byte) []byte { b[batchesAt-1] = 6; return b }),
		"offsets reversed": reseal(func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[batchesAt+8:], 5) // first offset 5 > last 1
			return b
		}),
		"batch past end": reseal(func(b []byte) []byte { binary.BigEndian.PutUint64(b[6:], 2); return b }),
		"trailing":       reseal(func(b []byte) []byte { return append(b, 0) }),
		"duplicate pid": reseal(func(b []byte) []byte {
			b[17] = 2
			return append(b, b[entryAt:]...)
		}),
	}
	for name, in := range cases {
		if _, err := Decode(in, Config{}); !errors.Is(err, model.ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
