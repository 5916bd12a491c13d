package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// startTestNull serves a null broker on a loopback port until the test ends.
func startTestNull(t *testing.T) string {
	t.Helper()
	b, err := StartNull("127.0.0.1:0", 100, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return b.Addr()
}

// startTestKfake runs kfake with DataDir + SyncWrites in a temp dir.
func startTestKfake(t *testing.T) string {
	t.Helper()
	c, err := StartKfake("127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func runSeconds(t *testing.T) time.Duration {
	if testing.Short() {
		return 700 * time.Millisecond
	}
	return 2 * time.Second
}

// produceThenConsume produces for a while, then reads the topic back:
// every record sent is acknowledged, and the read returns exactly the
// acknowledged records and bytes (plus Produce's one warm-up record).
func produceThenConsume(t *testing.T, addr string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const size = 1000
	o := ProduceOptions{
		Brokers: []string{addr}, Topic: "catch-up", Partitions: 3, RecordBytes: size,
		Acks: "all", Duration: runSeconds(t), MaxInflight: 5,
	}
	pres, err := Produce(ctx, o, testLogger(t))
	if err != nil {
		t.Fatalf("produce: %v (%+v)", err, pres)
	}
	t.Logf("produce %+v", pres)
	if pres.Records == 0 || pres.Errors != 0 || pres.Bytes != pres.Records*size || pres.MBps <= 0 {
		t.Fatalf("produce result %+v", pres)
	}
	if pres.Latency.Count != pres.Records || pres.Latency.P50us <= 0 || pres.Latency.P99us < pres.Latency.P50us {
		t.Fatalf("latency %+v for %d records", pres.Latency, pres.Records)
	}
	cres, err := Consume(ctx, ConsumeOptions{Brokers: []string{addr}, Topic: "catch-up", Timeout: time.Minute})
	if err != nil {
		t.Fatalf("consume: %v (%+v)", err, cres)
	}
	t.Logf("consume %+v", cres)
	if want := pres.Records + 1; cres.Records != want || cres.Bytes != want*size {
		t.Fatalf("consumed %d records, %d bytes; want %d, %d", cres.Records, cres.Bytes, want, want*size)
	}
}

func TestProduceConsumeNull(t *testing.T)  { produceThenConsume(t, startTestNull(t)) }
func TestProduceConsumeKfake(t *testing.T) { produceThenConsume(t, startTestKfake(t)) }

// TestOpenLoop: at a rate, the schedule bounds what is sent (never more
// than is due), and every acknowledged record has a latency.
func TestOpenLoop(t *testing.T) {
	addr := startTestNull(t)
	dur := 500 * time.Millisecond
	o := ProduceOptions{
		Brokers: []string{addr}, Topic: "rate", Partitions: 2, RecordBytes: 1000,
		Acks: "1", RateBytes: 200_000, Duration: dur, MaxInflight: 1,
	}
	res, err := Produce(context.Background(), o, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	due := int64(dur/(5*time.Millisecond)) + 1 // one record each 5 ms, the first at 0
	if res.Records < 1 || res.Records > due || res.Latency.Count != res.Records {
		t.Fatalf("%d records acknowledged (%d latencies), at most %d due", res.Records, res.Latency.Count, due)
	}
}

// TestMaxRecords: a count-bounded run sends exactly that many.
func TestMaxRecords(t *testing.T) {
	addr := startTestNull(t)
	o := ProduceOptions{Brokers: []string{addr}, Topic: "count", Partitions: 4, RecordBytes: 10, Acks: "0", MaxRecords: 1234}
	res, err := Produce(context.Background(), o, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 1234 || res.Bytes != 12340 {
		t.Fatalf("%+v, want 1234 records", res)
	}
}

// TestE2E: against kfake every acknowledged record reaches the tailing
// consumer; against the null broker (synthetic values) the run fails
// rather than report latencies it could not measure.
func TestE2E(t *testing.T) {
	o := ProduceOptions{Topic: "e2e", Partitions: 2, RecordBytes: 200, Acks: "all", RateBytes: 200_000, Duration: 500 * time.Millisecond}
	o.Brokers = []string{startTestKfake(t)}
	res, err := E2E(context.Background(), o, testLogger(t))
	if err != nil {
		t.Fatalf("kfake: %v (%+v)", err, res)
	}
	if res.Produce.Records == 0 || res.Consumed != res.Produce.Records || res.Latency.Count != res.Consumed {
		t.Fatalf("kfake: %+v", res)
	}
	o.Brokers = []string{startTestNull(t)}
	if _, err := E2E(context.Background(), o, testLogger(t)); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("null: err %v, want ErrIncomplete", err)
	}
}

// TestCommand drives the cobra command: produce with --json, then consume
// and disk as text.
func TestCommand(t *testing.T) {
	addr := startTestNull(t)
	ctx := context.Background()
	var out bytes.Buffer
	err := Run(ctx, []string{"produce", "--brokers", addr, "--topic", "cmd", "--partitions", "2",
		"--record-size", "64", "--max-records", "500", "--duration", "0", "--json"}, &out, testLogger(t))
	if err != nil {
		t.Fatal(err, out.String())
	}
	var got struct {
		Bench  string        `json:"bench"`
		Result ProduceResult `json:"result"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %q", err, out.String())
	}
	if got.Bench != "produce" || got.Result.Records != 500 || got.Result.Bytes != 500*64 {
		t.Fatalf("%+v", got)
	}
	out.Reset()
	if err := Run(ctx, []string{"consume", "--brokers", addr, "--topic", "cmd"}, &out, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if line := out.String(); !strings.HasPrefix(line, "consume records=501 bytes=32064 ") {
		t.Fatalf("consume printed %q", line)
	}
	out.Reset()
	if err := Run(ctx, []string{"disk", "--dir", t.TempDir(), "--duration", "30ms"}, &out, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if line := out.String(); !strings.HasPrefix(line, "disk dir=") || !strings.Contains(line, "mb_per_s_1mib=") {
		t.Fatalf("disk printed %q", line)
	}
	if err := Run(ctx, []string{"produce", "--brokers", addr, "--acks", "2"}, &out, testLogger(t)); !errors.Is(err, ErrUsage) {
		t.Fatalf("acks=2: %v, want ErrUsage", err)
	}
	if err := Run(ctx, []string{"peer", "redpanda"}, &out, testLogger(t)); !errors.Is(err, ErrUsage) {
		t.Fatalf("peer redpanda: %v, want ErrUsage", err)
	}
}
