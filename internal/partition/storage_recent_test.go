package partition

import (
	"bytes"
	"fmt"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

func ents(lo, hi uint64, term uint64, size int) []*pb.Entry {
	var out []*pb.Entry
	for i := lo; i < hi; i++ {
		idx, t := i, term
		out = append(out, &pb.Entry{Index: &idx, Term: &t, Data: bytes.Repeat([]byte{byte(i)}, size)})
	}
	return out
}

func indexes(es []*pb.Entry) string {
	s := ""
	for _, e := range es {
		s += fmt.Sprintf("%d/%d ", e.GetIndex(), e.GetTerm())
	}
	return s
}

// TestRecentEntries: entries handed to storage are served back until
// applied; a conflicting append replaces them from its first index; the
// byte bound drops the oldest; a range not wholly remembered is a miss.
func TestRecentEntries(t *testing.T) {
	s := &raftStorage{}
	s.remember(ents(5, 10, 1, 100))
	if got, ok := s.fromRecent(6, 9, 1<<20); !ok || indexes(got) != "6/1 7/1 8/1 " {
		t.Fatalf("got %q %v", indexes(got), ok)
	}
	if _, ok := s.fromRecent(4, 9, 1<<20); ok {
		t.Fatal("a range starting before the remembered entries was served")
	}
	if _, ok := s.fromRecent(6, 11, 1<<20); ok {
		t.Fatal("a range past the remembered entries was served")
	}
	// maxSize: at least one entry, then as many as fit.
	if got, _ := s.fromRecent(5, 10, 1); len(got) != 1 {
		t.Fatalf("maxSize 1: %d entries", len(got))
	}
	if got, _ := s.fromRecent(5, 10, 2*entrySize(s.recent[0])); len(got) != 2 {
		t.Fatalf("maxSize of two entries: %d entries", len(got))
	}
	// A conflicting append from index 8 (new term).
	s.remember(ents(8, 12, 2, 100))
	if got, ok := s.fromRecent(5, 12, 1<<20); !ok || indexes(got) != "5/1 6/1 7/1 8/2 9/2 10/2 11/2 " {
		t.Fatalf("after conflict: %q %v", indexes(got), ok)
	}
	// Applied up to 9.
	s.forget(9)
	if _, ok := s.fromRecent(8, 10, 1<<20); ok {
		t.Fatal("forgotten entries served")
	}
	if got, ok := s.fromRecent(10, 12, 1<<20); !ok || indexes(got) != "10/2 11/2 " {
		t.Fatalf("after forget: %q %v", indexes(got), ok)
	}
	// A gap (entries not following) starts over.
	s.remember(ents(20, 22, 2, 100))
	if _, ok := s.fromRecent(10, 12, 1<<20); ok || s.recentLo != 20 {
		t.Fatalf("after a gap: lo %d, old entries still served %v", s.recentLo, ok)
	}
	// The byte bound.
	s.remember(ents(22, 22+recentMaxBytes/(64<<10)+10, 2, 64<<10))
	if s.recentBytes > recentMaxBytes {
		t.Fatalf("%d bytes remembered, bound %d", s.recentBytes, recentMaxBytes)
	}
	if _, ok := s.fromRecent(20, 21, 1<<20); ok {
		t.Fatal("entries dropped by the bound still served")
	}
	sum := 0
	for _, e := range s.recent {
		sum += len(e.Data)
	}
	if sum != s.recentBytes {
		t.Fatalf("byte count %d, entries hold %d", s.recentBytes, sum)
	}
}
