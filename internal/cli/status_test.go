package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestStatus(tty bool) (*statusLine, *bytes.Buffer, *fakeClock) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	return newStatusLine(&buf, tty, clk.now), &buf, clk
}

func TestStatusLineTerminal(t *testing.T) {
	st, buf, clk := newTestStatus(true)
	st.Update("step %d", 1) // first: at once
	clk.advance(ttyStatusEvery / 2)
	st.Update("step %d", 2) // throttled
	clk.advance(ttyStatusEvery / 2)
	st.Update("step %d of many", 3) // due: longer text
	clk.advance(ttyStatusEvery)
	st.Update("step %d", 4) // shorter: padded over the longer one
	st.Clear()
	st.Update("step %d", 5) // after a clear: drawn at once
	clk.advance(time.Millisecond)
	st.Done("done in %s", st.Elapsed())
	want := "\rstep 1" + "\rstep 3 of many" + "\rstep 4" + strings.Repeat(" ", len("step 3 of many")-len("step 4")) +
		"\r" + strings.Repeat(" ", len("step 4")) + "\r" + "\rstep 5" + "\rdone in 201ms\n"
	if got := buf.String(); got != want {
		t.Errorf("terminal output\n got %q\nwant %q", got, want)
	}
	// A status line that never updated still ends with its final line.
	st, buf, _ = newTestStatus(true)
	st.Done("nothing to do")
	if got := buf.String(); got != "\rnothing to do\n" {
		t.Errorf("done only: %q", got)
	}
	// An empty final text with nothing on screen writes nothing.
	st, buf, _ = newTestStatus(true)
	st.Done("")
	if buf.Len() != 0 {
		t.Errorf("empty done: %q", buf.String())
	}
}

func TestStatusLinePlain(t *testing.T) {
	// A short operation writes nothing, not even its final line.
	st, buf, clk := newTestStatus(false)
	for i := range 10 {
		clk.advance(plainStatusEvery / 20)
		st.Update("n=%d", i)
	}
	st.Clear()
	st.Done("final")
	if buf.Len() != 0 {
		t.Errorf("short plain operation wrote %q", buf.String())
	}
	// A long one writes a line per interval and its final line; no \r.
	st, buf, clk = newTestStatus(false)
	for i := range 30 {
		clk.advance(plainStatusEvery / 4)
		st.Update("n=%d", i)
	}
	st.Done("final n=%d", 30)
	want := "n=3\nn=7\nn=11\nn=15\nn=19\nn=23\nn=27\nfinal n=30\n"
	if got := buf.String(); got != want {
		t.Errorf("long plain operation\n got %q\nwant %q", got, want)
	}
}

func TestPerSecond(t *testing.T) {
	for _, c := range []struct {
		n    int64
		d    time.Duration
		want string
	}{{5, 0, "-"}, {10, 2 * time.Second, "5/s"}, {50_000, time.Second, "50.0k/s"}, {3_000_000, time.Second, "3.0M/s"}} {
		if got := perSecond(c.n, c.d); got != c.want {
			t.Errorf("perSecond(%d, %s) = %q, want %q", c.n, c.d, got, c.want)
		}
	}
}

func TestPollUntil(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, buf, _ := newTestStatus(true)
	calls := 0
	err := pollUntil(ctx, time.Millisecond, st, func(context.Context) (string, bool, error) {
		calls++
		return fmt.Sprintf("left %d", 3-calls), calls == 3, nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("pollUntil: %v after %d calls", err, calls)
	}
	// The clock does not move: only the first update is drawn, then the final.
	if got := buf.String(); got != "\rleft 2\rleft 0\n" {
		t.Errorf("status: %q", got)
	}
	boom := errors.New("boom")
	st, _, _ = newTestStatus(false)
	calls = 0
	err = pollUntil(ctx, time.Millisecond, st, func(context.Context) (string, bool, error) {
		if calls++; calls == 2 {
			return "", false, boom
		}
		return "x", false, nil
	})
	if !errors.Is(err, boom) || calls != 2 {
		t.Errorf("failing poll: %v after %d calls", err, calls)
	}
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	calls = 0
	err = pollUntil(short, time.Millisecond, st, func(context.Context) (string, bool, error) { calls++; return "x", false, nil })
	if !errors.Is(err, context.DeadlineExceeded) || calls == 0 {
		t.Errorf("never done: %v after %d calls", err, calls)
	}
}

// TestWaitForMoves runs the move --wait loop against a stand-in lister:
// a single-node cluster has nowhere to move a partition to, so the
// embedded broker cannot show a move in progress.
func TestWaitForMoves(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	answers := []map[string]string{
		{"t/0": "adding [2] removing [1]", "t/1": "adding [3] removing [1]"},
		{"t/1": "adding [3] removing [1]"},
		{},
	}
	calls := 0
	list := func(context.Context) (map[string]string, error) {
		a := answers[min(calls, len(answers)-1)]
		calls++
		return a, nil
	}
	st, buf, _ := newTestStatus(true)
	if err := waitForMoves(ctx, st, time.Millisecond, 3, list); err != nil || calls != 3 {
		t.Fatalf("waitForMoves: %v after %d calls", err, calls)
	}
	want := "\rmoves: 1 of 3 partitions done, 2 moving (t/0 adding [2] removing [1], …)" +
		"\rmoves: 3 of 3 partitions done, 0 moving" + strings.Repeat(" ", utf8.RuneCountInString("1 of 3 partitions done, 2 moving (t/0 adding [2] removing [1], …)")-len("3 of 3 partitions done, 0 moving")) + "\n"
	if got := buf.String(); got != want {
		t.Errorf("status\n got %q\nwant %q", got, want)
	}
	// Out of time: the error says what is still moving.
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	stuck := func(context.Context) (map[string]string, error) { return answers[1], nil }
	st, _, _ = newTestStatus(false)
	err := waitForMoves(short, st, time.Millisecond, 3, stuck)
	if !errors.Is(err, ErrNotFinished) || !strings.Contains(err.Error(), "1 of 3 partitions still moving (t/1 adding [3] removing [1])") {
		t.Errorf("stuck move: %v", err)
	}
	boom := errors.New("boom")
	failing := func(context.Context) (map[string]string, error) { return nil, boom }
	if err := waitForMoves(ctx, st, time.Millisecond, 1, failing); !errors.Is(err, boom) {
		t.Errorf("failing lister: %v", err)
	}
}
