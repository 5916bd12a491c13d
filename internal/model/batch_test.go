package model

import (
	"encoding/binary"
	"errors"
	"testing"
)

// makeBatch builds a minimal valid v2 batch with n records of empty bodies.
// The records section is filler: model does not decode records.
func makeBatch(base Offset, n int32, body []byte) []byte {
	return AppendBatch(nil, BatchFields{
		BaseOffset: base, LeaderEpoch: 7, Attributes: CodecZstd, LastOffsetDelta: n - 1,
		BaseTimestamp: 1000, MaxTimestamp: 2000, ProducerID: 42, ProducerEpoch: 3, BaseSequence: 9, RecordCount: n,
	}, body)
}

func TestBatchFields(t *testing.T) {
	raw := append(makeBatch(100, 5, []byte("records")), 0xAA, 0xBB)
	b, rest, err := ParseBatch(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 2 || len(b) != BatchHeaderSize+7 {
		t.Fatalf("split: batch %d bytes, rest %d", len(b), len(rest))
	}
	checks := []struct {
		name      string
		got, want int64
	}{
		{"base offset", int64(b.BaseOffset()), 100},
		{"last offset", int64(b.LastOffset()), 104},
		{"length", int64(b.Length()), int64(len(b) - 12)},
		{"leader epoch", int64(b.LeaderEpoch()), 7},
		{"magic", int64(b.Magic()), 2},
		{"codec", int64(b.Codec()), CodecZstd},
		{"base ts", b.BaseTimestamp(), 1000},
		{"max ts", b.MaxTimestamp(), 2000},
		{"producer id", b.ProducerID(), 42},
		{"producer epoch", int64(b.ProducerEpoch()), 3},
		{"base sequence", int64(b.BaseSequence()), 9},
		{"record count", int64(b.RecordCount()), 5},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if err := b.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
}

func TestBatchBrokerFieldsOutsideCRC(t *testing.T) {
	b, _, err := ParseBatch(makeBatch(0, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	b.SetBaseOffset(1 << 40)
	b.SetLeaderEpoch(99)
	if err := b.VerifyCRC(); err != nil {
		t.Fatalf("offset and epoch must not be covered by the CRC: %v", err)
	}
	if b.BaseOffset() != 1<<40 || b.LeaderEpoch() != 99 {
		t.Fatalf("setters did not stick: %d %d", b.BaseOffset(), b.LeaderEpoch())
	}
	b.SetLogAppendTime(5555)
	if err := b.VerifyCRC(); err != nil {
		t.Fatalf("SetLogAppendTime must recompute the CRC: %v", err)
	}
	if b.MaxTimestamp() != 5555 || b.Attributes()&AttrLogAppendTime == 0 {
		t.Fatalf("log append time not set: ts %d attrs %x", b.MaxTimestamp(), b.Attributes())
	}
}

func TestBatchRejects(t *testing.T) {
	valid := makeBatch(0, 3, []byte("xyz"))
	mutate := func(f func(b []byte)) []byte {
		c := append([]byte(nil), valid...)
		f(c)
		return c
	}
	cases := []struct {
		name string
		raw  []byte
		want error
	}{
		{"short header", valid[:BatchHeaderSize-1], ErrShort},
		{"length past end", valid[:len(valid)-1], ErrShort},
		{"negative length", mutate(func(b []byte) { binary.BigEndian.PutUint32(b[batchLengthAt:], 0xFFFFFFFF) }), ErrCorrupt},
		{"length below header", mutate(func(b []byte) { binary.BigEndian.PutUint32(b[batchLengthAt:], 10) }), ErrCorrupt},
		{"magic 1", mutate(func(b []byte) { b[batchMagicAt] = 1 }), ErrCorrupt},
		{"bit flip in records", mutate(func(b []byte) { b[len(b)-1] ^= 1 }), ErrCorrupt},
		{"bit flip in attributes", mutate(func(b []byte) { b[batchAttributesAt+1] ^= 4 }), ErrCorrupt},
		{"count vs delta", mutate(func(b []byte) {
			binary.BigEndian.PutUint32(b[batchRecordCountAt:], 4)
			binary.BigEndian.PutUint32(b[batchCRCAt:], CRC32C(b[batchAttributesAt:]))
		}), ErrCorrupt},
		{"zero records", mutate(func(b []byte) {
			binary.BigEndian.PutUint32(b[batchRecordCountAt:], 0)
			binary.BigEndian.PutUint32(b[batchLastOffsetDeltaAt:], 0xFFFFFFFF)
			binary.BigEndian.PutUint32(b[batchCRCAt:], CRC32C(b[batchAttributesAt:]))
		}), ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, _, err := ParseBatch(c.raw)
			if err == nil {
				err = b.Validate()
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// FuzzBatchHeader parses arbitrary bytes: it must never panic, and a batch
// that validates must have a consistent length, count and CRC.
func FuzzBatchHeader(f *testing.F) {
	f.Add(makeBatch(0, 1, nil))
	f.Add(makeBatch(1<<33, 3, []byte("abc")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, rest, err := ParseBatch(raw)
		if err != nil {
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error without identity: %v", err)
			}
			return
		}
		if len(b)+len(rest) != len(raw) || int(b.Length())+12 != len(b) {
			t.Fatalf("split %d+%d of %d, length field %d", len(b), len(rest), len(raw), b.Length())
		}
		if b.Validate() == nil {
			if b.ComputeCRC() != b.CRC() || int64(b.LastOffsetDelta())+1 != int64(b.RecordCount()) {
				t.Fatal("validated batch is inconsistent")
			}
		}
	})
}
