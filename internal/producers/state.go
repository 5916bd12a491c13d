package producers

import (
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Errors Check returns. Each wraps the kerr error the produce response
// carries, so records.ErrorCode (or errors.As with *kerr.Error) maps it.
var (
	// ErrOutOfOrderSequence: the batch is neither the next in sequence nor
	// one of the last BatchesRetained (a gap, or a retry too old to answer),
	// or a new epoch starts at a sequence other than 0.
	ErrOutOfOrderSequence = fmt.Errorf("producers: out of order sequence number: %w", kerr.OutOfOrderSequenceNumber)
	// ErrInvalidProducerEpoch: the epoch is older than the producer's
	// current one: a fenced (zombie) producer.
	ErrInvalidProducerEpoch = fmt.Errorf("producers: producer epoch older than the current one: %w", kerr.InvalidProducerEpoch)
)

// BatchesRetained is how many of a producer's last batches are remembered to
// answer retries, as Kafka does (and as clients assume with at most 5
// requests in flight).
const BatchesRetained = 5

// Defaults for the zero values of Config.
const (
	// DefaultMaxProducers bounds the producers one partition remembers.
	DefaultMaxProducers = 10000
	// DefaultExpirationMs is Kafka's producer.id.expiration.ms (one day).
	DefaultExpirationMs = 86400000
)

// Config bounds a State.
type Config struct {
	// MaxProducers is the most producers remembered; when a new one
	// arrives the least recently appended is forgotten. 0 means
	// DefaultMaxProducers.
	MaxProducers int
	// ExpirationMs is how long after its last batch's timestamp a producer
	// is forgotten by Expire. 0 means DefaultExpirationMs.
	ExpirationMs int64
}

func (c Config) withDefaults() Config {
	if c.MaxProducers <= 0 {
		c.MaxProducers = DefaultMaxProducers
	}
	if c.ExpirationMs <= 0 {
		c.ExpirationMs = DefaultExpirationMs
	}
	return c
}

// BatchMeta is what is remembered of an appended batch.
type BatchMeta struct {
	FirstSeq, LastSeq       int32
	FirstOffset, LastOffset model.Offset
	Timestamp               int64
}

// Kind is the outcome of Check.
type Kind uint8

const (
	// Append: a new batch in order (or from a non-idempotent producer):
	// append it, then call Append with its offsets.
	Append Kind = iota
	// Duplicate: a retry of a batch already appended; answer with
	// Decision.Original and append nothing.
	Duplicate
)

func (k Kind) String() string {
	if k == Duplicate {
		return "duplicate"
	}
	return "append"
}

// Decision is the outcome of a successful Check.
type Decision struct {
	Kind Kind
	// Original is the batch a Duplicate repeats: its offsets and timestamp
	// go into the produce response.
	Original BatchMeta
}

// entry is one producer's state. batches is a ring of the last n batches in
// offset order, oldest at head.
type entry struct {
	pid        int64
	epoch      int16
	seqUnknown bool         // a truncation removed every batch of this epoch we knew
	epochStart model.Offset // first offset written at this epoch
	lastTs     int64        // timestamp of the last batch or marker, for Expire
	head, n    uint8
	batches    [BatchesRetained]BatchMeta
	prev, next *entry // LRU list, most recent after State.lru
}

func (e *entry) at(i int) *BatchMeta { return &e.batches[(int(e.head)+i)%BatchesRetained] }

func (e *entry) last() *BatchMeta { return e.at(int(e.n) - 1) }

func (e *entry) push(b BatchMeta) {
	if e.n == BatchesRetained {
		e.head = (e.head + 1) % BatchesRetained
		e.n--
	}
	e.n++
	*e.last() = b
}

// setEpoch moves the entry to a new epoch, forgetting the old epoch's batches.
func (e *entry) setEpoch(epoch int16, at model.Offset) {
	if e.epoch != epoch {
		e.epoch, e.epochStart, e.n, e.head, e.seqUnknown = epoch, at, 0, 0, false
	}
}

// State is the idempotent producer state of one partition: per producer id,
// its epoch and its last BatchesRetained batches. It is a pure state machine
// with no I/O or clock: it lives on its partition's shard, which alone calls
// it (no locks).
type State struct {
	cfg  Config
	byID map[int64]*entry
	lru  entry // sentinel: lru.next is the most recent, lru.prev the least
	end  model.Offset
}

// New returns an empty State.
func New(cfg Config) *State {
	s := &State{cfg: cfg.withDefaults(), byID: make(map[int64]*entry)}
	s.lru.next, s.lru.prev = &s.lru, &s.lru
	return s
}

// Len is the number of producers remembered.
func (s *State) Len() int { return len(s.byID) }

// End is one past the last offset Append or Replay has seen (0 if none):
// after a restart, replay the log from End.
func (s *State) End() model.Offset { return s.end }

// Producer returns a producer's epoch and remembered batches, oldest first.
func (s *State) Producer(pid int64) (epoch int16, batches []BatchMeta, ok bool) {
	e := s.byID[pid]
	if e == nil {
		return 0, nil, false
	}
	for i := range int(e.n) {
		batches = append(batches, *e.at(i))
	}
	return e.epoch, batches, true
}

// IDs lists the producer ids remembered, most recently used first.
func (s *State) IDs() []int64 {
	ids := make([]int64, 0, len(s.byID))
	for e := s.lru.next; e != &s.lru; e = e.next {
		ids = append(ids, e.pid)
	}
	return ids
}

// NextSeq returns seq+delta with Kafka's wrap from MaxInt32 to 0.
func NextSeq(seq, delta int32) int32 {
	return int32((int64(seq) + int64(delta)) % (math.MaxInt32 + 1))
}

// Check decides what to do with a batch of count records from producer pid
// at epoch, starting at sequence baseSeq, following Kafka's
// ProducerStateManager: a retry of one of the last BatchesRetained batches
// of the same epoch is a Duplicate; an older epoch is fenced; a newer epoch
// must start at sequence 0; otherwise baseSeq must follow the last batch's
// last sequence. A producer this State does not know is accepted at any
// sequence (Kafka 3.x/4.x do the same: its state may have expired). A batch
// with pid < 0 (not idempotent) is always Append. Check changes nothing.
func (s *State) Check(pid int64, epoch int16, baseSeq, count int32) (Decision, error) {
	if pid < 0 {
		return Decision{Kind: Append}, nil
	}
	if baseSeq < 0 || count <= 0 {
		return Decision{}, fmt.Errorf("%w: producer %d: sequence %d, count %d", ErrOutOfOrderSequence, pid, baseSeq, count)
	}
	e := s.byID[pid]
	if e == nil {
		return Decision{Kind: Append}, nil
	}
	lastSeq := NextSeq(baseSeq, count-1)
	if epoch == e.epoch {
		for i := range int(e.n) {
			if b := e.at(i); b.FirstSeq == baseSeq && b.LastSeq == lastSeq {
				return Decision{Kind: Duplicate, Original: *b}, nil
			}
		}
	}
	switch {
	case epoch < e.epoch:
		return Decision{}, fmt.Errorf("%w: producer %d: epoch %d, current %d", ErrInvalidProducerEpoch, pid, epoch, e.epoch)
	case epoch > e.epoch:
		if baseSeq != 0 {
			return Decision{}, fmt.Errorf("%w: producer %d: new epoch %d starts at sequence %d", ErrOutOfOrderSequence, pid, epoch, baseSeq)
		}
	case e.seqUnknown:
	default:
		last := int32(-1)
		if e.n > 0 {
			last = e.last().LastSeq
		}
		if baseSeq != NextSeq(last, 1) {
			return Decision{}, fmt.Errorf("%w: producer %d epoch %d: sequence %d after %d", ErrOutOfOrderSequence, pid, epoch, baseSeq, last)
		}
	}
	return Decision{Kind: Append}, nil
}

// Append records a batch the partition has appended (after Check said
// Append), with its broker-assigned offsets and timestamp (the batch's max
// timestamp, or the append time on LogAppendTime topics).
func (s *State) Append(pid int64, epoch int16, baseSeq, lastSeq int32, firstOffset, lastOffset model.Offset, ts int64) {
	s.end = max(s.end, lastOffset+1)
	if pid < 0 {
		return
	}
	e := s.touch(pid, epoch, firstOffset, ts)
	e.seqUnknown = false
	e.push(BatchMeta{FirstSeq: baseSeq, LastSeq: lastSeq, FirstOffset: firstOffset, LastOffset: lastOffset, Timestamp: ts})
}

// Replay applies a batch read back from the log at baseOffset (a stored
// header carries the offset too; the caller's is used), as the partition
// does for the log after its snapshot on restart. No check is made: the log
// is the truth. A control batch (transaction marker) moves the producer to
// its epoch without adding a batch.
func (s *State) Replay(b model.Batch, baseOffset model.Offset) {
	last := baseOffset + model.Offset(b.LastOffsetDelta())
	pid := b.ProducerID()
	if !b.IsControl() {
		seq := b.BaseSequence()
		s.Append(pid, b.ProducerEpoch(), seq, NextSeq(seq, b.LastOffsetDelta()), baseOffset, last, b.MaxTimestamp())
		return
	}
	s.end = max(s.end, last+1)
	if pid >= 0 {
		s.touch(pid, b.ProducerEpoch(), baseOffset, b.MaxTimestamp())
	}
}

// touch finds or creates pid's entry (forgetting the least recently used
// producer when full), moves it to epoch and to the front of the LRU list.
func (s *State) touch(pid int64, epoch int16, at model.Offset, ts int64) *entry {
	e := s.byID[pid]
	if e == nil {
		if len(s.byID) >= s.cfg.MaxProducers {
			s.remove(s.lru.prev)
		}
		e = &entry{pid: pid, epoch: epoch, epochStart: at}
		s.byID[pid] = e
	} else {
		e.prev.next, e.next.prev = e.next, e.prev
	}
	e.setEpoch(epoch, at)
	e.lastTs = ts
	e.prev, e.next = &s.lru, s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
	return e
}

func (s *State) remove(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	delete(s.byID, e.pid)
}

// Truncate forgets what a Raft truncation removed: every batch at or after
// from. A producer whose current epoch began at or after from is forgotten
// (its earlier epoch is not known here); one that keeps its epoch but loses
// every remembered batch accepts its next sequence whatever it is, as an
// unknown producer would. (Exact state needs a snapshot below from plus a
// replay, as Kafka does.)
func (s *State) Truncate(from model.Offset) {
	s.end = min(s.end, from)
	for e := s.lru.next; e != &s.lru; {
		next := e.next
		if e.epochStart >= from {
			s.remove(e)
		} else {
			had := e.n
			for e.n > 0 && e.last().LastOffset >= from {
				e.n--
			}
			if had > 0 && e.n == 0 {
				e.seqUnknown = true
			}
		}
		e = next
	}
}

// Expire forgets producers whose last timestamp is ExpirationMs or more
// before nowMs (producer.id.expiration.ms). It returns how many it forgot.
func (s *State) Expire(nowMs int64) int {
	n := 0
	for e := s.lru.next; e != &s.lru; {
		next := e.next
		if nowMs-e.lastTs >= s.cfg.ExpirationMs {
			s.remove(e)
			n++
		}
		e = next
	}
	return n
}
