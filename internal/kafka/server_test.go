package kafka

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestKgoApiVersions(t *testing.T) {
	ts := startServer(t, Config{})
	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 {
		t.Fatalf("error code %d", resp.ErrorCode)
	}
	want := ts.reg.Versions()
	if len(want) != 2 || !slices.EqualFunc(resp.ApiKeys, want, func(a, b kmsg.ApiVersionsResponseApiKey) bool {
		return a.ApiKey == b.ApiKey && a.MinVersion == b.MinVersion && a.MaxVersion == b.MaxVersion
	}) {
		t.Fatalf("ApiKeys %+v, registry %+v", resp.ApiKeys, want)
	}
	// kgo negotiated versions from our answer: a Metadata request goes through.
	mresp, err := metadataReq(12, "a", "b").RequestWith(ctx, cl)
	if err != nil || len(mresp.Topics) != 2 || *mresp.Topics[1].Topic != "b" {
		t.Fatalf("metadata through kgo: %v %+v", err, mresp)
	}
}

func TestApiVersionsFallbackAndValidation(t *testing.T) {
	ts := startServer(t, Config{})
	nc := ts.dial(t)
	// v99: body not decoded (here: garbage), v0 answer with code 35.
	if _, err := nc.Write(rawFrame(18, 99, 5, []byte{0xde, 0xad})); err != nil {
		t.Fatal(err)
	}
	corr, body := readResponse(t, nc)
	resp := kmsg.NewPtrApiVersionsResponse() // v0
	if err := resp.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	const max18 = apiVersionsMax
	if corr != 5 || resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) != 1 ||
		resp.ApiKeys[0].ApiKey != 18 || resp.ApiKeys[0].MaxVersion != max18 {
		t.Fatalf("fallback: corr %d %+v", corr, resp)
	}
	// v3 with an invalid software name: INVALID_REQUEST, key list kept.
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "-bad", "1.0"
	if _, err := nc.Write(frame(req, 6, nil)); err != nil {
		t.Fatal(err)
	}
	corr, body = readResponse(t, nc)
	resp = kmsg.NewPtrApiVersionsResponse()
	resp.Version = 3
	if err := resp.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	if corr != 6 || resp.ErrorCode != kerr.InvalidRequest.Code || len(resp.ApiKeys) != 2 {
		t.Fatalf("invalid software name: %+v", resp)
	}
}

func TestPipelineOrderWithSlowHandler(t *testing.T) {
	ts := startServer(t, Config{})
	nc := ts.dial(t)
	const n = 50
	var out []byte
	for i := range n {
		topic := "t"
		switch i {
		case 0:
			topic = "slow" // blocks until released
		case 17:
			topic = "noreply" // answers nothing
		}
		out = append(out, frame(metadataReq(int16(i%13), topic), int32(1000+i), kmsg.StringPtr("c"))...)
	}
	if _, err := nc.Write(out); err != nil {
		t.Fatal(err)
	}
	// Every later request is served while the first one waits.
	waitFor(t, "49 handlers to run", func() bool { return ts.h.served.Load() == n-1 })
	if st := ts.srv.Stats(); st.InFlight != n {
		t.Fatalf("in flight %d, want %d", st.InFlight, n)
	}
	close(ts.h.release)
	for i := range n {
		if i == 17 {
			continue
		}
		corr, body := readResponse(t, nc)
		if corr != int32(1000+i) {
			t.Fatalf("response %d has correlation id %d", i, corr)
		}
		resp := kmsg.NewPtrMetadataResponse()
		resp.Version = int16(i % 13)
		skip := 0
		if resp.IsFlexible() {
			skip = 1 // response header tags
		}
		if err := resp.ReadFrom(body[skip:]); err != nil || len(resp.Topics) != 1 {
			t.Fatalf("response %d: %v %+v", i, err, resp)
		}
	}
}

func TestBackpressureInFlightLimit(t *testing.T) {
	ts := startServer(t, Config{MaxInFlight: 4})
	nc := ts.dial(t)
	var out []byte
	for i := range 20 {
		out = append(out, frame(metadataReq(1, "slow"), int32(i), nil)...)
	}
	go nc.Write(out) //nolint:errcheck // the server may close on cleanup
	// 4 queued plus at most one decoded and waiting to be queued.
	waitFor(t, "the queue to fill", func() bool { return ts.srv.Stats().InFlight == 4 })
	if st := ts.srv.Stats(); st.InFlight > 4 {
		t.Fatalf("in flight %d beyond the limit", st.InFlight)
	}
	close(ts.h.release)
	for i := range 20 {
		if corr, _ := readResponse(t, nc); corr != int32(i) {
			t.Fatalf("response %d: corr %d", i, corr)
		}
	}
}

func TestHandlerErrorAndPanicClose(t *testing.T) {
	for _, topic := range []string{"fail", "panic"} {
		t.Run(topic, func(t *testing.T) {
			ts := startServer(t, Config{})
			nc := ts.dial(t)
			out := append(frame(metadataReq(1, "ok"), 1, nil), frame(metadataReq(1, topic), 2, nil)...)
			if _, err := nc.Write(out); err != nil {
				t.Fatal(err)
			}
			if corr, _ := readResponse(t, nc); corr != 1 {
				t.Fatalf("corr %d", corr)
			}
			expectClosed(t, nc)
			ts.checkServes(t)
		})
	}
}

func TestSlowLorisAndIdleTimeouts(t *testing.T) {
	const timeout = 150 * time.Millisecond
	ts := startServer(t, Config{ReadTimeout: timeout, IdleTimeout: timeout})

	loris := ts.dial(t)
	hdr := binary.BigEndian.AppendUint32(nil, 1<<20)
	hdr = append(hdr, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff) // 10 bytes of a 1 MiB frame
	if _, err := loris.Write(hdr); err != nil {
		t.Fatal(err)
	}
	if d := expectClosed(t, loris); d < timeout/2 {
		t.Fatalf("slow-loris closed after %v, before the read timeout", d)
	}

	idle := ts.dial(t)
	if d := expectClosed(t, idle); d < timeout/2 {
		t.Fatalf("idle connection closed after %v", d)
	}

	// A connection whose own request is slow is not idle.
	busy := ts.dial(t)
	if _, err := busy.Write(frame(metadataReq(1, "slow"), 9, nil)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the slow request to be in flight", func() bool { return ts.srv.Stats().InFlight == 1 })
	time.Sleep(3 * timeout) // lets the idle timer fire; not synchronisation
	close(ts.h.release)
	if corr, _ := readResponse(t, busy); corr != 9 {
		t.Fatalf("corr %d", corr)
	}
	ts.checkServes(t)
}

func TestGracefulCloseAnswersInFlight(t *testing.T) {
	ts := startServer(t, Config{})
	nc := ts.dial(t)
	if _, err := nc.Write(frame(metadataReq(1, "slow"), 3, nil)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "in flight", func() bool { return ts.srv.Stats().InFlight == 1 })
	closed := make(chan error, 1)
	go func() { closed <- ts.srv.Close(context.Background()) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(ts.h.release)
	if corr, _ := readResponse(t, nc); corr != 3 {
		t.Fatalf("corr %d", corr)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	expectClosed(t, nc)
}

func TestCloseDeadlineAborts(t *testing.T) {
	ts := startServer(t, Config{})
	nc := ts.dial(t)
	if _, err := nc.Write(frame(metadataReq(1, "slow"), 3, nil)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "in flight", func() bool { return ts.srv.Stats().InFlight == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := ts.srv.Close(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Close: %v", err)
	}
	expectClosed(t, nc) // the handler saw its context end
}
