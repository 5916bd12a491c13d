package nemesis

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/check"
)

// Event is one line of the fault log.
type Event struct {
	Time   int64  `json:"ns"` // monotonic ns since the log's origin
	Ev     string `json:"ev"` // inject, injected, heal, healed, none, error, skip
	Fault  string `json:"fault,omitempty"`
	Node   int    `json:"node"`
	Detail string `json:"detail,omitempty"`
}

// Log writes Events as JSON lines. Safe for use by any goroutine.
type Log struct {
	origin time.Time
	mu     sync.Mutex
	w      io.Writer
	err    error
	events []Event // bounded by the schedule: a few per cycle
}

// NewLog writes to w, timing events from origin (time.Now() carries a
// monotonic reading, so Since is monotonic).
func NewLog(w io.Writer, origin time.Time) *Log { return &Log{w: w, origin: origin} }

// Add records e, stamping its time.
func (l *Log) Add(e Event) Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Time = time.Since(l.origin).Nanoseconds()
	l.events = append(l.events, e)
	b, _ := json.Marshal(e)
	if l.err == nil {
		_, l.err = l.w.Write(append(b, '\n'))
	}
	return e
}

// Events is every event so far.
func (l *Log) Events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

// Err is the first write error.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Spans are the injected faults of a log as the checks' fault windows
// (check.FaultSpan; times in ns since the log's origin): Injected is the
// "injected" event (the "inject" one when the injection failed: it may be
// half in place), Heal the "heal" event (MaxInt64 when there is none),
// Minority the nodes "minority" events named, from the last of them on.
// Events of one fault come in order (one fault at a time): inject,
// [minority…], injected|error, heal, healed|error.
func Spans(events []Event) []check.FaultSpan {
	var out []check.FaultSpan
	cur := -1
	for _, e := range events {
		switch e.Ev {
		case "inject":
			out = append(out, check.FaultSpan{Fault: e.Fault, Injected: e.Time, Heal: math.MaxInt64})
			cur = len(out) - 1
		case "minority":
			if cur >= 0 {
				out[cur].Minority = append(out[cur].Minority, int32(e.Node))
				out[cur].MinorityFrom = e.Time
			}
		case "injected":
			if cur >= 0 {
				out[cur].Injected = e.Time
			}
		case "heal":
			if cur >= 0 {
				out[cur].Heal = e.Time
				cur = -1
			}
		}
	}
	return out
}

// ReadLog parses a fault log (faults.jsonl).
func ReadLog(r io.Reader) ([]Event, error) {
	var out []Event
	dec := json.NewDecoder(r)
	for i := 0; dec.More(); i++ {
		var e Event
		if err := dec.Decode(&e); err != nil {
			return out, fmt.Errorf("nemesis: fault log event %d: %w", i, err)
		}
		out = append(out, e)
	}
	return out, nil
}
