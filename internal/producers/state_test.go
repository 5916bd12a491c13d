package producers

import (
	"errors"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/petrel-streaming/petrel/internal/model"
)

// produce checks and, on Append, appends a batch of count records at the
// state's end offset, returning the decision.
func produce(t *testing.T, s *State, pid int64, epoch int16, seq, count int32) (Decision, error) {
	t.Helper()
	d, err := s.Check(pid, epoch, seq, count)
	if err == nil && d.Kind == Append {
		first := s.End()
		s.Append(pid, epoch, seq, NextSeq(seq, count-1), first, first+model.Offset(count)-1, 1000+int64(first))
	}
	return d, err
}

func mustAppend(t *testing.T, s *State, pid int64, epoch int16, seq, count int32) {
	t.Helper()
	d, err := produce(t, s, pid, epoch, seq, count)
	if err != nil || d.Kind != Append {
		t.Fatalf("pid %d epoch %d seq %d: got %v %v, want append", pid, epoch, seq, d.Kind, err)
	}
}

func TestCheckDecisions(t *testing.T) {
	// Every case starts from producer 1 at epoch 3 with batches
	// [0,1] at offsets 0-1 and [2,4] at offsets 2-4.
	cases := []struct {
		name        string
		pid         int64
		epoch       int16
		seq, count  int32
		want        Kind
		wantErr     error
		wantOrigOff model.Offset
	}{
		{"next in order", 1, 3, 5, 2, Append, nil, 0},
		{"gap", 1, 3, 6, 1, 0, ErrOutOfOrderSequence, 0},
		{"overlap, not exact", 1, 3, 3, 2, 0, ErrOutOfOrderSequence, 0},
		{"duplicate of the last", 1, 3, 2, 3, Duplicate, nil, 2},
		{"duplicate of the first", 1, 3, 0, 2, Duplicate, nil, 0},
		{"same first seq, other count", 1, 3, 0, 1, 0, ErrOutOfOrderSequence, 0},
		{"older epoch", 1, 2, 5, 1, 0, ErrInvalidProducerEpoch, 0},
		{"older epoch, duplicate range", 1, 2, 0, 2, 0, ErrInvalidProducerEpoch, 0},
		{"newer epoch at 0", 1, 4, 0, 1, Append, nil, 0},
		{"newer epoch not at 0", 1, 4, 5, 1, 0, ErrOutOfOrderSequence, 0},
		{"unknown producer at 0", 2, 0, 0, 1, Append, nil, 0},
		{"unknown producer at 17", 2, 0, 17, 1, Append, nil, 0},
		{"not idempotent", -1, -1, -1, 4, Append, nil, 0},
		{"negative sequence", 1, 3, -1, 1, 0, ErrOutOfOrderSequence, 0},
		{"zero count", 1, 3, 5, 0, 0, ErrOutOfOrderSequence, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := New(Config{})
			mustAppend(t, s, 1, 3, 0, 2)
			mustAppend(t, s, 1, 3, 2, 3)
			d, err := s.Check(c.pid, c.epoch, c.seq, c.count)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, c.wantErr)
			}
			if err != nil {
				return
			}
			if d.Kind != c.want {
				t.Fatalf("kind %v, want %v", d.Kind, c.want)
			}
			if d.Kind == Duplicate && (d.Original.FirstOffset != c.wantOrigOff || d.Original.FirstSeq != c.seq) {
				t.Fatalf("original %+v, want first offset %d", d.Original, c.wantOrigOff)
			}
		})
	}
}

func TestErrorsCarryKafkaCodes(t *testing.T) {
	var ke *kerr.Error
	if !errors.As(ErrOutOfOrderSequence, &ke) || ke != kerr.OutOfOrderSequenceNumber {
		t.Errorf("ErrOutOfOrderSequence carries %v", ke)
	}
	if !errors.As(ErrInvalidProducerEpoch, &ke) || ke != kerr.InvalidProducerEpoch {
		t.Errorf("ErrInvalidProducerEpoch carries %v", ke)
	}
}

// TestLastFiveBatches: each of the last 5 batches is a duplicate with its own
// offsets; the 6th oldest is out of order.
func TestLastFiveBatches(t *testing.T) {
	s := New(Config{})
	for i := range int32(6) {
		mustAppend(t, s, 9, 0, i*2, 2)
	}
	for i := range int32(6) {
		d, err := s.Check(9, 0, i*2, 2)
		if i == 0 {
			if !errors.Is(err, ErrOutOfOrderSequence) {
				t.Fatalf("6th oldest: %v %v, want out of order", d, err)
			}
			continue
		}
		want := model.Offset(i * 2)
		if err != nil || d.Kind != Duplicate || d.Original.FirstOffset != want || d.Original.LastOffset != want+1 || d.Original.Timestamp != 1000+int64(want) {
			t.Fatalf("batch %d: %+v %v, want duplicate at %d", i, d, err, want)
		}
	}
}

func TestFencing(t *testing.T) {
	s := New(Config{})
	mustAppend(t, s, 1, 0, 0, 3)
	mustAppend(t, s, 1, 1, 0, 1) // bump: the old epoch's batches are gone
	if _, err := s.Check(1, 0, 3, 1); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("zombie: %v", err)
	}
	if d, err := s.Check(1, 0, 0, 3); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("zombie retry: %v %v", d, err)
	}
	if epoch, batches, _ := s.Producer(1); epoch != 1 || len(batches) != 1 {
		t.Fatalf("epoch %d with %d batches", epoch, len(batches))
	}
	mustAppend(t, s, 1, 1, 1, 1)
}

func TestSequenceWrap(t *testing.T) {
	if got := NextSeq(math.MaxInt32, 1); got != 0 {
		t.Fatalf("NextSeq(max, 1) = %d", got)
	}
	if got := NextSeq(math.MaxInt32-1, 3); got != 1 {
		t.Fatalf("NextSeq(max-1, 3) = %d", got)
	}
	s := New(Config{})
	s.Append(1, 0, math.MaxInt32-2, math.MaxInt32, 0, 2, 0)
	if _, err := s.Check(1, 0, 1, 1); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("1 after max: %v", err)
	}
	mustAppend(t, s, 1, 0, 0, 4)
	d, err := s.Check(1, 0, math.MaxInt32-2, 3)
	if err != nil || d.Kind != Duplicate {
		t.Fatalf("duplicate across the wrap: %v %v", d, err)
	}
	// A batch that itself wraps: last sequence is computed modulo 2^31.
	s2 := New(Config{})
	s2.Append(2, 0, 0, math.MaxInt32-2, 0, 10, 0)
	mustAppend(t, s2, 2, 0, math.MaxInt32-1, 4) // max-1, max, 0, 1
	mustAppend(t, s2, 2, 0, 2, 1)
}

func TestMaxProducersEvictsLeastRecent(t *testing.T) {
	s := New(Config{MaxProducers: 3})
	for pid := range int64(3) {
		mustAppend(t, s, pid, 0, 0, 1)
	}
	mustAppend(t, s, 0, 0, 1, 1) // 0 is now the most recent; 1 the least
	mustAppend(t, s, 3, 0, 0, 1)
	if s.Len() != 3 {
		t.Fatalf("len %d", s.Len())
	}
	if _, _, ok := s.Producer(1); ok {
		t.Fatal("producer 1 should have been evicted")
	}
	for _, pid := range []int64{0, 2, 3} {
		if _, _, ok := s.Producer(pid); !ok {
			t.Fatalf("producer %d evicted", pid)
		}
	}
	// Forgotten means unknown: any sequence is accepted again.
	if d, err := s.Check(1, 0, 9, 1); err != nil || d.Kind != Append {
		t.Fatalf("evicted producer: %v %v", d, err)
	}
}

func TestExpire(t *testing.T) {
	s := New(Config{ExpirationMs: 100})
	s.Append(1, 0, 0, 0, 0, 0, 1000)
	s.Append(2, 0, 0, 0, 1, 1, 1050)
	if n := s.Expire(1099); n != 0 {
		t.Fatalf("expired %d too early", n)
	}
	if n := s.Expire(1100); n != 1 || s.Len() != 1 {
		t.Fatalf("expired %d, len %d", n, s.Len())
	}
	if _, _, ok := s.Producer(2); !ok {
		t.Fatal("producer 2 expired early")
	}
	if n := New(Config{}).Expire(math.MaxInt64); n != 0 {
		t.Fatal("empty state expired something")
	}
}

func TestTruncate(t *testing.T) {
	s := New(Config{})
	mustAppend(t, s, 1, 0, 0, 2) // offsets 0-1
	mustAppend(t, s, 2, 0, 0, 1) // 2
	mustAppend(t, s, 1, 0, 2, 2) // 3-4
	mustAppend(t, s, 2, 1, 0, 1) // 5: epoch 1 starts at 5
	mustAppend(t, s, 3, 0, 0, 1) // 6
	s.Truncate(3)
	if s.End() != 3 {
		t.Fatalf("end %d", s.End())
	}
	// Producer 1 lost its batch 3-4: seq 2 is next again, and a retry of
	// it is no longer a duplicate but an append.
	if d, err := s.Check(1, 0, 2, 2); err != nil || d.Kind != Append {
		t.Fatalf("producer 1 after truncate: %v %v", d, err)
	}
	if d, err := s.Check(1, 0, 0, 2); err != nil || d.Kind != Duplicate {
		t.Fatalf("producer 1 batch 0-1 should remain: %v %v", d, err)
	}
	// Producer 2's epoch 1 began at 5: forgotten. Producer 3 too.
	for _, pid := range []int64{2, 3} {
		if _, _, ok := s.Producer(pid); ok {
			t.Fatalf("producer %d survived the truncation", pid)
		}
	}
	// Producer 4's epoch 5 began with a transaction marker at 10; its
	// batches 11 and 12 are cut: it keeps the epoch (older ones are still
	// fenced) and accepts any next sequence, since its last is unknown.
	s = New(Config{})
	s.Replay(batch(model.AttrControl|model.AttrTransactional, 4, 5, -1, 1), 10)
	s.Append(4, 5, 0, 0, 11, 11, 0)
	s.Append(4, 5, 1, 1, 12, 12, 0)
	s.Truncate(11)
	if epoch, batches, ok := s.Producer(4); !ok || epoch != 5 || len(batches) != 0 {
		t.Fatalf("producer 4: epoch %d, %d batches, known %v", epoch, len(batches), ok)
	}
	if d, err := s.Check(4, 5, 7, 1); err != nil || d.Kind != Append {
		t.Fatalf("producer 4 next sequence: %v %v", d, err)
	}
	if _, err := s.Check(4, 4, 0, 1); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("producer 4 older epoch: %v", err)
	}
	s.Append(4, 5, 7, 7, 11, 11, 0) // known again: in order from here
	if _, err := s.Check(4, 5, 9, 1); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("producer 4 after a new append: %v", err)
	}
}

// batch builds a stored batch header (records section empty) for Replay.
func batch(attrs int16, pid int64, epoch int16, seq, count int32) model.Batch {
	return model.Batch(model.AppendBatch(nil, model.BatchFields{
		Attributes: attrs, LastOffsetDelta: count - 1, BaseTimestamp: 500, MaxTimestamp: 600,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, RecordCount: count,
	}, nil))
}

func TestReplayRebuildsState(t *testing.T) {
	live := New(Config{})
	replayed := New(Config{})
	at := model.Offset(0)
	for i, b := range []model.Batch{
		batch(0, 1, 0, 0, 3),
		batch(0, -1, -1, -1, 2), // not idempotent: only moves the end
		batch(0, 1, 0, 3, 2),
		batch(model.AttrTransactional, 2, 7, 0, 1),
		batch(model.AttrControl|model.AttrTransactional, 2, 8, -1, 1),
		batch(0, 1, 1, 0, 1),
	} {
		replayed.Replay(b, at)
		last := at + model.Offset(b.LastOffsetDelta())
		if b.IsControl() {
			live.Replay(b, at)
		} else {
			live.Append(b.ProducerID(), b.ProducerEpoch(), b.BaseSequence(), NextSeq(b.BaseSequence(), b.LastOffsetDelta()), at, last, b.MaxTimestamp())
		}
		at = last + 1
		if got, want := replayed.AppendTo(nil), live.AppendTo(nil); string(got) != string(want) {
			t.Fatalf("after batch %d: replayed state differs from live", i)
		}
	}
	if replayed.End() != at {
		t.Fatalf("end %d, want %d", replayed.End(), at)
	}
	if epoch, batches, _ := replayed.Producer(1); epoch != 1 || len(batches) != 1 {
		t.Fatalf("producer 1: epoch %d, %d batches", epoch, len(batches))
	}
	// The marker moved producer 2 to epoch 8 with no batch: a new batch at
	// epoch 8 must start at sequence 0, as in Kafka.
	if _, err := replayed.Check(2, 8, 1, 1); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("after marker: %v", err)
	}
	if d, err := replayed.Check(2, 8, 0, 1); err != nil || d.Kind != Append {
		t.Fatalf("after marker at 0: %v %v", d, err)
	}
}
