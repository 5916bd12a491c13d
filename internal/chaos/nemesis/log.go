package nemesis

import (
	"encoding/json"
	"io"
	"sync"
	"time"
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
