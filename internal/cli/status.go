package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Status lines: the progress of a long operation (consume -n, a partition
// move or a decommission with --wait, maintenance enable --wait), written
// to stderr so that it never mixes with the command's result on stdout.
//
//	terminal   one line kept up to date in place ("\r" + text, padded over
//	           the previous text), redrawn at most every ttyStatusEvery;
//	           Done rewrites it with the final text and ends it ("\n").
//	otherwise  (a pipe, a log file, a test) a plain line at most every
//	           plainStatusEvery, the first one plainStatusEvery after the
//	           start: an operation shorter than that writes nothing, not
//	           even its final line; a longer one ends with its final line.
//
// A command whose own output goes to the same terminal (consume) calls
// Clear before writing it, so that the two never share a line.

// ErrNotFinished is a --wait that ran out of time (--timeout) before the
// operation it follows was done; the operation goes on in the cluster.
var ErrNotFinished = errors.New("not finished in time (raise --timeout to wait longer)")

const (
	ttyStatusEvery   = 100 * time.Millisecond
	plainStatusEvery = 5 * time.Second
)

// statusLine writes one operation's status. It lives on the command's
// goroutine; it is not safe for concurrent use.
type statusLine struct {
	w     io.Writer
	now   func() time.Time
	tty   bool
	every time.Duration
	start time.Time
	last  time.Time // of the last write
	width int       // runes of the text on screen (terminal), 0 when none
	lines int       // writes so far
	text  string    // the text written last
}

// newStatusLine returns a status line on w, a terminal or not, paced by now.
func newStatusLine(w io.Writer, tty bool, now func() time.Time) *statusLine {
	every := plainStatusEvery
	if tty {
		every = ttyStatusEvery
	}
	t := now()
	return &statusLine{w: w, now: now, tty: tty, every: every, start: t, last: t}
}

// status is a status line on this command line's stderr.
func (e *env) status() *statusLine {
	return newStatusLine(e.d.Stderr, e.d.StderrTerminal, e.d.Now)
}

// Elapsed is the time since the status line was made.
func (s *statusLine) Elapsed() time.Duration { return s.now().Sub(s.start) }

// Update sets the status text; it is written unless the last write (or,
// off a terminal, the start) is more recent than the pacing interval.
func (s *statusLine) Update(format string, args ...any) {
	now := s.now()
	due := now.Sub(s.last) >= s.every || (s.tty && s.width == 0)
	if !due {
		return
	}
	s.text = fmt.Sprintf(format, args...)
	s.write(now, false)
}

// Clear erases the line on a terminal (nothing otherwise); the next Update
// draws it again at once.
func (s *statusLine) Clear() {
	if s.tty && s.width > 0 {
		fmt.Fprintf(s.w, "\r%s\r", strings.Repeat(" ", s.width))
		s.width = 0
	}
}

// Done writes the final text: on a terminal always, over the live line,
// and ends the line; elsewhere only after earlier lines were written. An
// empty text with nothing on screen writes nothing.
func (s *statusLine) Done(format string, args ...any) {
	s.text = fmt.Sprintf(format, args...)
	if s.text == "" && s.width == 0 {
		return
	}
	if s.tty || s.lines > 0 {
		s.write(s.now(), true)
	}
}

func (s *statusLine) write(now time.Time, final bool) {
	s.last = now
	s.lines++
	if !s.tty {
		fmt.Fprintln(s.w, s.text)
		return
	}
	pad := ""
	n := utf8.RuneCountInString(s.text) // columns, near enough
	if n < s.width {
		pad = strings.Repeat(" ", s.width-n)
	}
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(s.w, "\r%s%s%s", s.text, pad, end)
	s.width = n
	if final {
		s.width = 0
	}
}

// perSecond renders n things over d as a per-second rate ("-" before any time).
func perSecond(n int64, d time.Duration) string {
	if d < time.Millisecond {
		return "-"
	}
	r := float64(n) / d.Seconds()
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.1fM/s", r/1e6)
	case r >= 1e4:
		return fmt.Sprintf("%.1fk/s", r/1e3)
	}
	return fmt.Sprintf("%.0f/s", r)
}

// pollUntil calls poll, then again every interval, until it reports done,
// fails, or ctx ends (ctx's error is returned then). Each answer's text is
// the status; the last one is written as the final line. poll owns the
// state it reports on: callers read their result from it afterwards.
func pollUntil(ctx context.Context, interval time.Duration, st *statusLine, poll func(context.Context) (text string, done bool, err error)) error {
	var last string
	defer func() { st.Done("%s", last) }()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		text, done, err := poll(ctx)
		if err != nil {
			return err
		}
		last = text
		if done {
			return nil
		}
		st.Update("%s", text)
		t.Reset(interval)
	}
}
