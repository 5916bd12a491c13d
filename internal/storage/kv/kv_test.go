package kv

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

const dir = "/kv" // WriteSnapshot syncs dir and its parent (the root here)

func randOps(rng *rand.Rand, n int) []Op {
	ops := make([]Op, n)
	for i := range ops {
		ops[i].Key = fmt.Sprintf("k%d", rng.IntN(20))
		if rng.IntN(4) == 0 {
			ops[i].Delete = true
			continue
		}
		ops[i].Value = make([]byte, rng.IntN(100))
		for k := range ops[i].Value {
			ops[i].Value[k] = byte(rng.Uint32())
		}
	}
	return ops
}

// contents returns the store as a plain map for comparisons.
func contents(s *Store) map[string]string {
	m := map[string]string{}
	for _, k := range s.Keys() {
		v, _ := s.Get(k)
		m[k] = string(v)
	}
	return m
}

func TestBatchRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for n := range 30 {
		ops := randOps(rng, n)
		b := EncodeBatch([]byte("prefix"), ops)
		got, err := DecodeBatch(b[len("prefix"):])
		if err != nil {
			t.Fatal(err)
		}
		norm := func(ops []Op) []Op {
			out := make([]Op, len(ops))
			for i, op := range ops {
				out[i] = op
				if op.Delete || len(op.Value) == 0 {
					out[i].Value = nil
				}
			}
			return out
		}
		if d := cmp.Diff(norm(ops), norm(got)); d != "" {
			t.Fatalf("n=%d: %s", n, d)
		}
		a, b2 := New(), New()
		a.Apply(ops)
		b2.Apply(got)
		if d := cmp.Diff(contents(a), contents(b2)); d != "" {
			t.Fatal(d)
		}
		// Every strict prefix and any trailing byte is corrupt.
		enc := b[len("prefix"):]
		for cut := range len(enc) {
			if _, err := DecodeBatch(enc[:cut]); !errors.Is(err, model.ErrCorrupt) {
				t.Fatalf("n=%d cut %d of %d: %v", n, cut, len(enc), err)
			}
		}
		if _, err := DecodeBatch(append(enc, 0)); !errors.Is(err, model.ErrCorrupt) {
			t.Fatalf("trailing byte: %v", err)
		}
	}
}

func TestApplyOrderAndCopies(t *testing.T) {
	s := New()
	v := []byte("one")
	s.Apply([]Op{{Key: "a", Value: v}, {Key: "b", Value: []byte("x")}, {Key: "b", Delete: true}, {Key: "c", Value: []byte("1")}, {Key: "c", Value: []byte("2")}})
	v[0] = 'X'
	if d := cmp.Diff(map[string]string{"a": "one", "c": "2"}, contents(s)); d != "" {
		t.Fatal(d)
	}
	if s.Len() != 2 {
		t.Fatalf("len %d", s.Len())
	}
}

func TestLimits(t *testing.T) {
	bad := []Op{
		{Key: ""},
		{Key: strings.Repeat("k", MaxKeyBytes+1), Value: []byte("v")},
		{Key: "k", Value: make([]byte, MaxValueBytes+1)},
	}
	for i, op := range bad {
		if err := CheckOps([]Op{{Key: "ok"}, op}); !errors.Is(err, ErrLimit) {
			t.Fatalf("op %d: %v", i, err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Fatalf("op %d: EncodeBatch accepted it", i)
				}
			}()
			EncodeBatch(nil, []Op{op})
		}()
	}
	good := []Op{{Key: strings.Repeat("k", MaxKeyBytes), Value: make([]byte, MaxValueBytes)}, {Key: strings.Repeat("d", MaxKeyBytes+5), Delete: true}}
	if err := CheckOps(good[:1]); err != nil {
		t.Fatal(err)
	}
	// Hand-made batches beyond the limits are corrupt.
	enc := EncodeBatch(nil, good[:1])
	for _, b := range [][]byte{
		{1, 0, 0},                        // empty key
		{1, 2, 1, 'k'},                   // bad flags
		{1, 0, 0xff, 0x0f},               // key length beyond limit
		{1, 0, 1, 'k', 0x81, 0x80, 0x41}, // value length beyond limit
		{0xff, 0xff, 0xff, 0xff, 0x0f},   // more ops than bytes
	} {
		if _, err := DecodeBatch(b); !errors.Is(err, model.ErrCorrupt) {
			t.Fatalf("%x: %v", b, err)
		}
	}
	if ops, err := DecodeBatch(enc); err != nil || len(ops[0].Value) != MaxValueBytes {
		t.Fatalf("max sizes: %v", err)
	}
}

func TestSaveLoad(t *testing.T) {
	for _, mk := range []func(t *testing.T) (vfs.FS, string){
		func(*testing.T) (vfs.FS, string) { return vfs.NewMem(), dir },
		func(t *testing.T) (vfs.FS, string) { return vfs.NewOS(), t.TempDir() + "/kv" },
	} {
		fsys, d := mk(t)
		s, seq, err := Load(fsys, d)
		if err != nil || s.Len() != 0 || seq != 0 {
			t.Fatalf("missing snapshot: %d keys seq %d %v", s.Len(), seq, err)
		}
		rng := rand.New(rand.NewPCG(2, 2))
		for i := range 5 {
			s.Apply(randOps(rng, 20))
			if err := s.Save(fsys, d, uint64(100+i)); err != nil {
				t.Fatal(err)
			}
			got, seq, err := Load(fsys, d)
			if err != nil || seq != uint64(100+i) {
				t.Fatalf("load: seq %d %v", seq, err)
			}
			if diff := cmp.Diff(contents(s), contents(got)); diff != "" {
				t.Fatal(diff)
			}
		}
	}
}

func TestLoadCorrupt(t *testing.T) {
	fsys := vfs.NewMem()
	s := New()
	s.Apply([]Op{{Key: "raft/hs", Value: []byte("term=5 vote=2")}, {Key: "b", Value: nil}})
	if err := s.Save(fsys, dir, 7); err != nil {
		t.Fatal(err)
	}
	good := s.Encode(nil, 7)
	for i := range len(good) + 1 {
		for _, mode := range []string{"flip", "cut"} {
			b := bytes.Clone(good)
			if i == len(good) {
				continue
			}
			if mode == "flip" {
				b[i] ^= 0x10
			} else {
				b = b[:i]
			}
			f, _ := fsys.Create(dir+"/"+SnapshotFile, vfs.OpenOptions{})
			f.WriteAt(b, 0)
			f.Close()
			if _, _, err := Load(fsys, dir); !errors.Is(err, model.ErrCorrupt) {
				t.Fatalf("%s at %d: %v", mode, i, err)
			}
		}
	}
	// A valid crc over a bad structure is corrupt too (never trusted).
	bad := append(bytes.Clone(good[:len(good)-4]), 0)
	bad = fmt.Appendf(bad[:0], "%s", bad)
	bad = append(bad, crcLE(bad)...)
	if _, _, err := Decode(bad); !errors.Is(err, model.ErrCorrupt) {
		t.Fatalf("trailing byte under a valid crc: %v", err)
	}
}

func crcLE(b []byte) []byte {
	c := model.CRC32C(b)
	return []byte{byte(c), byte(c >> 8), byte(c >> 16), byte(c >> 24)}
}

// TestSaveAtomicUnderCrash crash-clones after every operation of a Save
// (by failing the n-th and then cloning): Load finds the old or the new
// snapshot, whole, never a mix, never an empty store.
func TestSaveAtomicUnderCrash(t *testing.T) {
	mem := vfs.NewMem()
	old := New()
	old.Apply([]Op{{Key: "a", Value: []byte("old")}, {Key: "z", Value: []byte("keep")}})
	if err := old.Save(mem, dir, 1); err != nil {
		t.Fatal(err)
	}
	next := New()
	next.Apply([]Op{{Key: "a", Value: []byte("new")}, {Key: "b", Value: []byte("added")}})
	sawNew, sawOld := false, false
	for n := 0; n < 100; n++ {
		fsys := mem.CrashClone()
		inj := vfs.FailNth(n)
		err := next.Save(vfs.NewErrorFS(fsys, inj), dir, 2)
		if !inj.Fired() {
			if err != nil {
				t.Fatal(err)
			}
			if !sawOld {
				t.Fatal("no step left the old snapshot")
			}
			break
		}
		if !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("step %d: %v", n, err)
		}
		for _, keep := range []*rand.Rand{nil, rand.New(rand.NewPCG(uint64(n), 3))} {
			c := fsys.CrashClone(vfs.CrashCloneOptions{KeepUnsyncedPages: keep})
			got, seq, err := Load(c, dir)
			if err != nil {
				t.Fatalf("step %d: %v", n, err)
			}
			switch {
			case seq == 1 && cmp.Equal(contents(got), contents(old)):
				sawOld = true
			case seq == 2 && cmp.Equal(contents(got), contents(next)):
				sawNew = true
			default:
				t.Fatalf("step %d: seq %d %v: neither old nor new", n, seq, contents(got))
			}
		}
	}
	// Without injected errors the new snapshot survives a crash.
	fsys := mem.CrashClone()
	if err := next.Save(fsys, dir, 2); err != nil {
		t.Fatal(err)
	}
	if _, seq, err := Load(fsys.CrashClone(), dir); err != nil || seq != 2 {
		t.Fatalf("after a whole save: seq %d %v", seq, err)
	}
	if !sawNew {
		t.Fatal("no failed step left the new snapshot (a failed SyncDir after the rename should)")
	}
}
