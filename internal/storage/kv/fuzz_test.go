package kv

import (
	"bytes"
	"errors"
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
)

// FuzzKVSnapshot: Decode never panics, fails only with model.ErrCorrupt,
// and whatever it accepts re-encodes to the same bytes.
func FuzzKVSnapshot(f *testing.F) {
	s := New()
	f.Add(s.Encode(nil, 0))
	s.Apply([]Op{{Key: "raft/hs/1", Value: []byte{1, 2, 3}}, {Key: "start/1", Value: []byte{}}})
	f.Add(s.Encode(nil, 42))
	f.Add([]byte("PTKV"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, seq, err := Decode(b)
		if err != nil {
			if !errors.Is(err, model.ErrCorrupt) {
				t.Fatalf("error without ErrCorrupt: %v", err)
			}
			return
		}
		if re := got.Encode(nil, seq); !bytes.Equal(re, b) {
			t.Fatalf("accepted snapshot does not re-encode to itself")
		}
	})
}

// FuzzKVBatch: DecodeBatch never panics, fails only with model.ErrCorrupt,
// accepts only ops within the limits, and re-encodes what it accepts to the
// same bytes.
func FuzzKVBatch(f *testing.F) {
	f.Add(EncodeBatch(nil, nil))
	f.Add(EncodeBatch(nil, []Op{{Key: "a", Value: []byte("b")}, {Key: "c", Delete: true}}))
	f.Add([]byte{1, 0, 1, 'k', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ops, err := DecodeBatch(b)
		if err != nil {
			if !errors.Is(err, model.ErrCorrupt) {
				t.Fatalf("error without ErrCorrupt: %v", err)
			}
			return
		}
		if err := CheckOps(ops); err != nil {
			t.Fatalf("accepted out-of-limit op: %v", err)
		}
		if re := EncodeBatch(nil, ops); !bytes.Equal(re, b) {
			t.Fatalf("accepted batch does not re-encode to itself")
		}
		New().Apply(ops)
	})
}
