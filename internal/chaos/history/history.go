package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// Type is what an operation does.
type Type string

// The operation types the workload records.
const (
	Send        Type = "send"         // produce one record
	Poll        Type = "poll"         // an assign consumer's poll of one partition
	Read        Type = "read"         // final-phase read (brand-new consumer, from offset 0 to HW)
	ListOffsets Type = "list_offsets" // latest (and earliest) offset of one partition
	Commit      Type = "commit"       // group offset commit of one partition
	FetchOffset Type = "fetch_offset" // OffsetFetch of one partition
)

// Phase is which half of an operation a line records, and for a completion
// what is known about its outcome.
type Phase string

// The phases.
const (
	Invoke Phase = "invoke"
	OK     Phase = "ok"
	Fail   Phase = "fail" // definite: the broker rejected it (not applied)
	Info   Phase = "info" // indeterminate: timeout, disconnect, retries exhausted
)

// Rec is one record a consumer saw.
type Rec struct {
	Offset      int64  `json:"o"`
	Value       string `json:"v"` // the value id, "p{producer}-{seq}"
	LeaderEpoch int32  `json:"e,omitempty"`
}

// Op is one line of history.jsonl. A completion (ok/fail/info) repeats the
// invoke's Process, Type, Topic, Partition, Value and has the same ID.
type Op struct {
	ID        int64  `json:"id"` // pairs an invoke with its completion
	Process   int    `json:"p"`  // logical client (one goroutine at a time per process)
	Type      Type   `json:"t"`
	Phase     Phase  `json:"ph"`
	Time      int64  `json:"ns"` // monotonic ns since the recorder started
	Topic     string `json:"topic,omitempty"`
	Partition int32  `json:"part"`
	// Offset: send ok: assigned offset; commit/fetch_offset: the offset;
	// list_offsets ok: latest (high watermark); poll invoke: fetch position.
	Offset      int64  `json:"off"`
	Earliest    int64  `json:"earliest,omitempty"` // list_offsets ok
	LeaderEpoch int32  `json:"e,omitempty"`        // send ok / list_offsets ok
	Value       string `json:"v,omitempty"`        // send: value id "p{producer}-{seq}"
	Producer    string `json:"prod,omitempty"`     // send: producer instance name; same name = same producer id
	Idempotent  bool   `json:"idem,omitempty"`     // send: from an idempotent producer
	Group       string `json:"g,omitempty"`        // commit / fetch_offset
	Records     []Rec  `json:"recs,omitempty"`     // poll / read ok
	Err         string `json:"err,omitempty"`      // fail / info: the error text
	DataLoss    bool   `json:"loss,omitempty"`     // poll: franz-go reported ErrDataLoss
	// Node: a send sent straight to one broker (not routed by the
	// client's metadata): that broker's node id, which answered it. nil
	// for the clients' routed sends.
	Node *int32 `json:"node,omitempty"`
}

// TP names one partition of one topic.
type TP struct {
	Topic     string
	Partition int32
}

// String is "topic/partition".
func (tp TP) String() string { return tp.Topic + "/" + strconv.Itoa(int(tp.Partition)) }

// TP is the partition the op is about.
func (op *Op) TP() TP { return TP{Topic: op.Topic, Partition: op.Partition} }

// ErrMalformed marks a history line that is not a valid Op.
var ErrMalformed = errors.New("history: malformed line")

// writeBufBytes bounds the recorder's buffer; a full buffer is written out.
const writeBufBytes = 64 << 10

// Recorder appends ops to a JSONL writer. Safe for concurrent use by any
// goroutine: one mutex orders IDs, times and lines.
type Recorder struct {
	start time.Time

	mu     sync.Mutex
	w      *bufio.Writer
	nextID int64
	line   []byte // reused encode buffer
	err    error  // first write error, sticky
	closed bool
}

// NewRecorder starts a recorder writing to w; op times count from now.
func NewRecorder(w io.Writer) *Recorder {
	return &Recorder{start: time.Now(), w: bufio.NewWriterSize(w, writeBufBytes)}
}

// Invoke records op with Phase=Invoke, a fresh ID and the time; returns the
// stored op, to be passed to Complete.
func (r *Recorder) Invoke(op Op) Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	op.ID = r.nextID
	op.Phase = Invoke
	op.Time = r.now()
	r.write(&op)
	return op
}

// Complete records the completion of inv with the given phase; fill (may be
// nil) sets result fields (Offset, LeaderEpoch, Records, Err, ...) on the
// copy before it is written. The identity fields (ID, Process, Type, Topic,
// Partition, Value) are kept from inv whatever fill does.
func (r *Recorder) Complete(inv Op, ph Phase, fill func(*Op)) Op {
	op := inv
	if fill != nil {
		fill(&op)
	}
	op.ID, op.Process, op.Type = inv.ID, inv.Process, inv.Type
	op.Topic, op.Partition, op.Value = inv.Topic, inv.Partition, inv.Value
	op.Phase = ph
	r.mu.Lock()
	defer r.mu.Unlock()
	op.Time = r.now()
	r.write(&op)
	return op
}

// Flush writes buffered lines to the underlying writer.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = r.w.Flush()
	}
	return r.err
}

// Close flushes and returns the first write error. Later ops are dropped
// (and reported by Err).
func (r *Recorder) Close() error {
	err := r.Flush()
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return err
}

// Err returns the first write error (nil if none).
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// now is the monotonic time since start; caller holds mu.
func (r *Recorder) now() int64 { return int64(time.Since(r.start)) }

// write encodes op as one line; caller holds mu.
func (r *Recorder) write(op *Op) {
	if r.err != nil {
		return
	}
	if r.closed {
		r.err = errRecorderClosed
		return
	}
	b, err := json.Marshal(op)
	if err != nil { // cannot happen for Op's field types
		r.err = err
		return
	}
	r.line = append(append(r.line[:0], b...), '\n')
	if _, err := r.w.Write(r.line); err != nil {
		r.err = err
	}
}

var errRecorderClosed = errors.New("history: recorder closed")

// ReadAll parses history.jsonl. Blank lines are skipped; any other line that
// is not an Op with a known phase and a type fails with an error wrapping
// ErrMalformed that names the line number.
func ReadAll(r io.Reader) ([]Op, error) {
	br := bufio.NewReader(r)
	var ops []Op
	for n := 1; ; n++ {
		line, rerr := br.ReadBytes('\n')
		if rerr != nil && rerr != io.EOF {
			return ops, fmt.Errorf("history: line %d: %w", n, rerr)
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			op, err := parseLine(line)
			if err != nil {
				return ops, fmt.Errorf("%w %d: %v", ErrMalformed, n, err)
			}
			ops = append(ops, op)
		}
		if rerr == io.EOF {
			return ops, nil
		}
	}
}

func parseLine(line []byte) (Op, error) {
	var op Op
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&op); err != nil {
		return op, err
	}
	if dec.More() {
		return op, errors.New("trailing data after the object")
	}
	switch op.Phase {
	case Invoke, OK, Fail, Info:
	default:
		return op, fmt.Errorf("unknown phase %q", op.Phase)
	}
	if op.Type == "" {
		return op, errors.New("no type")
	}
	return op, nil
}
