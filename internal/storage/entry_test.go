package storage

import (
	"bytes"
	"errors"
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
)

func TestEntryRoundTrip(t *testing.T) {
	g := newGen()
	b := g.data(nil, 3, 100)
	b = g.internal(b, 7)
	b = g.internal(b, 0)
	want := []EntryHeader{
		{Index: 1, Term: 1, Offset: 0, Type: EntryData, Count: 3, Len: uint32(model.BatchHeaderSize + 100)},
		{Index: 2, Term: 1, Offset: 3, Type: EntryInternal, Len: 7},
		{Index: 3, Term: 1, Offset: 3, Type: EntryInternal, Len: 0},
	}
	rest := b
	for i, w := range want {
		h, p, r, err := DecodeEntry(rest)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if h != w || len(p) != int(w.Len) {
			t.Fatalf("entry %d: %+v, want %+v", i, h, w)
		}
		if re := AppendEntry(nil, h, p); !bytes.Equal(re, rest[:h.Size()]) {
			t.Fatalf("entry %d: re-encoding differs", i)
		}
		rest = r
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes left", len(rest))
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	g := newGen()
	b := g.data(nil, 2, 20)
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x10
		if _, _, _, err := DecodeEntry(c); err == nil {
			t.Fatalf("bit flip at %d accepted", i)
		}
	}
	for n := 0; n < len(b); n++ {
		if _, _, _, err := DecodeEntry(b[:n]); !errors.Is(err, model.ErrShort) && !errors.Is(err, model.ErrCorrupt) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	if _, _, _, err := DecodeEntry(make([]byte, 4096)); !errors.Is(err, model.ErrCorrupt) {
		t.Fatalf("zeroed region: %v", err)
	}
	// A header claiming a huge payload is corrupt, not short.
	big := bytes.Clone(b)
	big[7] = 0xff
	if _, _, _, err := DecodeEntry(big); !errors.Is(err, model.ErrCorrupt) {
		t.Fatalf("huge len: %v", err)
	}
}

func FuzzDecodeEntry(f *testing.F) {
	g := newGen()
	f.Add(g.data(nil, 1, 10))
	f.Add(g.internal(nil, 3))
	f.Add(make([]byte, 64))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, rest, err := DecodeEntry(b)
		if err != nil {
			if !errors.Is(err, model.ErrCorrupt) && !errors.Is(err, model.ErrShort) {
				t.Fatalf("error without identity: %v", err)
			}
			return
		}
		if int64(len(p)) != int64(h.Len) || len(rest) != len(b)-int(h.Size()) {
			t.Fatalf("lengths: %+v payload %d rest %d of %d", h, len(p), len(rest), len(b))
		}
		if re := AppendEntry(nil, h, p); !bytes.Equal(re, b[:h.Size()]) {
			t.Fatalf("accepted entry does not re-encode to itself")
		}
	})
}
