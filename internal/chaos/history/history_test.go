package history

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	rec := NewRecorder(&buf)
	send := rec.Invoke(Op{Process: 3, Type: Send, Topic: "t", Partition: 2, Value: "p3-17",
		Producer: "p3", Idempotent: true})
	poll := rec.Invoke(Op{Process: 9, Type: Poll, Topic: "t", Partition: 2, Offset: 410})
	ok := rec.Complete(send, OK, func(op *Op) {
		op.Offset, op.LeaderEpoch = 412, 4
		op.Value = "changed by fill" // identity fields are restored
		op.ID = 99
	})
	polled := rec.Complete(poll, OK, func(op *Op) {
		op.Records = []Rec{{Offset: 410, Value: "p1-3", LeaderEpoch: 4}, {Offset: 411, Value: "p2-9"}}
		op.DataLoss = true
	})
	lo := rec.Invoke(Op{Process: 1, Type: ListOffsets, Topic: "lin", Partition: 0})
	loInfo := rec.Complete(lo, Info, func(op *Op) { op.Err = "context deadline exceeded" })
	cm := rec.Invoke(Op{Process: 4, Type: Commit, Topic: "t", Partition: 1, Group: "g1", Offset: 7})
	cmFail := rec.Complete(cm, Fail, nil)
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	want := []Op{send, poll, ok, polled, lo, loInfo, cm, cmFail}
	got, err := ReadAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("round trip (-want +got):\n%s", d)
	}
	if ok.ID != send.ID || ok.Value != "p3-17" || ok.Phase != OK || ok.Offset != 412 {
		t.Fatalf("completion lost its identity or result: %+v", ok)
	}
	if send.ID != 1 || poll.ID != 2 || lo.ID != 3 {
		t.Fatalf("ids not 1,2,3 in invoke order: %d %d %d", send.ID, poll.ID, lo.ID)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Time < got[i-1].Time {
			t.Fatalf("line %d time %d < previous %d", i+1, got[i].Time, got[i-1].Time)
		}
	}
	if got := ok.TP().String(); got != "t/2" {
		t.Fatalf("TP string %q", got)
	}
}

func TestConcurrentInvokeComplete(t *testing.T) {
	const procs, opsPer = 8, 200
	var buf bytes.Buffer
	rec := NewRecorder(&buf)
	var wg sync.WaitGroup
	for p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range opsPer {
				inv := rec.Invoke(Op{Process: p, Type: Send, Topic: "t", Value: "v"})
				rec.Complete(inv, OK, func(op *Op) { op.Offset = int64(i) })
			}
		}()
	}
	wg.Wait()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	ops, err := ReadAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2*procs*opsPer {
		t.Fatalf("%d lines, want %d", len(ops), 2*procs*opsPer)
	}
	invoked := map[int64]Op{}
	last := map[int]Phase{}
	var prevTime int64
	for i, op := range ops {
		if op.Time < prevTime {
			t.Fatalf("line %d: time went back", i+1)
		}
		prevTime = op.Time
		if op.Phase == Invoke {
			if _, dup := invoked[op.ID]; dup {
				t.Fatalf("id %d invoked twice", op.ID)
			}
			if last[op.Process] == Invoke {
				t.Fatalf("process %d has two invokes in flight", op.Process)
			}
			invoked[op.ID] = op
		} else {
			inv, found := invoked[op.ID]
			if !found || inv.Process != op.Process {
				t.Fatalf("completion %+v has no matching invoke", op)
			}
			delete(invoked, op.ID)
		}
		last[op.Process] = op.Phase
	}
	if len(invoked) != 0 {
		t.Fatalf("%d invokes never completed", len(invoked))
	}
}

func TestReadAllMalformedNamesLine(t *testing.T) {
	good := `{"id":1,"p":0,"t":"send","ph":"invoke","ns":1,"part":0,"off":0}`
	for _, tc := range []struct{ name, bad, want string }{
		{"not json", `{"id":2,`, "line 3"},
		{"unknown phase", `{"id":2,"p":0,"t":"send","ph":"maybe","ns":2,"part":0,"off":0}`, "line 3"},
		{"no type", `{"id":2,"p":0,"ph":"ok","ns":2,"part":0,"off":0}`, "line 3"},
		{"unknown field", `{"id":2,"p":0,"t":"send","ph":"ok","ns":2,"part":0,"off":0,"zzz":1}`, "line 3"},
		{"wrong type", `{"id":"two","p":0,"t":"send","ph":"ok","ns":2,"part":0,"off":0}`, "line 3"},
		{"two objects", good + good, "line 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := good + "\n\n" + tc.bad + "\n" + good + "\n"
			ops, err := ReadAll(strings.NewReader(in))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrMalformed naming %q", err, tc.want)
			}
			if len(ops) != 1 {
				t.Fatalf("%d ops before the bad line, want 1", len(ops))
			}
		})
	}
	// No trailing newline, blank lines: fine.
	ops, err := ReadAll(strings.NewReader("\n" + good + "\n  \n" + good))
	if err != nil || len(ops) != 2 {
		t.Fatalf("ops=%d err=%v", len(ops), err)
	}
}

type failWriter struct{ n int }

var errDisk = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, errDisk
	}
	w.n--
	return len(p), nil
}

func TestWriteErrorSticky(t *testing.T) {
	rec := NewRecorder(&failWriter{})
	inv := rec.Invoke(Op{Type: Send, Value: strings.Repeat("x", writeBufBytes)}) // overflows the buffer
	rec.Complete(inv, OK, nil)
	if err := rec.Err(); !errors.Is(err, errDisk) {
		t.Fatalf("Err = %v, want the write error", err)
	}
	if err := rec.Close(); !errors.Is(err, errDisk) {
		t.Fatalf("Close = %v, want the write error", err)
	}
	var buf bytes.Buffer
	rec = NewRecorder(&buf)
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	rec.Invoke(Op{Type: Send})
	if err := rec.Err(); !errors.Is(err, errRecorderClosed) {
		t.Fatalf("invoke after close: Err = %v", err)
	}
}
