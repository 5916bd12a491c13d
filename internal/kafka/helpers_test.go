package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// testHandlers is a Metadata (key 3) handler for tests: it echoes the
// requested topic names, and topic names steer it: "slow" waits for
// release, "noreply" answers nothing (acks=0 style), "fail" returns an
// error, "panic" panics.
type testHandlers struct {
	release chan struct{}
	served  atomic.Int64
}

func (h *testHandlers) metadata(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Msg.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	for _, t := range req.Topics {
		name := ""
		if t.Topic != nil {
			name = *t.Topic
		}
		switch name {
		case "slow":
			select {
			case <-h.release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		case "noreply":
			h.served.Add(1)
			return nil, nil
		case "fail":
			return nil, errors.New("test handler failure")
		case "panic":
			panic("test handler panic")
		}
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic = kmsg.StringPtr(name)
		resp.Topics = append(resp.Topics, rt)
	}
	h.served.Add(1)
	return resp, nil
}

type testServer struct {
	srv  *Server
	reg  *Registry
	addr string
	h    *testHandlers
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// startServer serves ApiVersions and the test Metadata handler on a
// loopback port; cleanup closes it and checks goroutines and budget.
func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	base := runtime.NumGoroutine()
	h := &testHandlers{release: make(chan struct{})}
	reg := NewRegistry()
	if err := reg.Register(API{Key: 3, MinVersion: 0, MaxVersion: 12, Handle: h.metadata}); err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(cfg, reg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	ts := &testServer{srv: srv, reg: reg, addr: ln.Addr().String(), h: h}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		waitFor(t, "goroutines back to baseline", func() bool { return runtime.NumGoroutine() <= base })
		if st := srv.Stats(); st.DecodeBytesInUse != 0 || st.Connections != 0 {
			t.Errorf("after close: %+v", st)
		}
	})
	return ts
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // polling interval, not synchronisation
	}
}

func (ts *testServer) dial(t testing.TB) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// frame encodes a request with header v1/v2 and a size prefix.
func frame(req kmsg.Request, corr int32, clientID *string) []byte {
	b := make([]byte, 4, 64)
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	if clientID == nil {
		b = binary.BigEndian.AppendUint16(b, 0xffff)
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(len(*clientID)))
		b = append(b, *clientID...)
	}
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// rawFrame frames an arbitrary header+body.
func rawFrame(key, version int16, corr int32, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(10+len(body)))
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 0xffff)
	return append(b, body...)
}

// readResponse reads one response frame: correlation id and the rest.
func readResponse(t testing.TB, nc net.Conn) (int32, []byte) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		t.Fatalf("reading response: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(nc, b); err != nil {
		t.Fatalf("reading response: %v", err)
	}
	return int32(binary.BigEndian.Uint32(b)), b[4:]
}

// expectClosed asserts that the server closes nc (EOF or reset) within 10 s
// without sending anything.
func expectClosed(t testing.TB, nc net.Conn) time.Duration {
	t.Helper()
	start := time.Now()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	n, err := nc.Read(b[:])
	if n != 0 || err == nil || isTimeout(err) {
		t.Fatalf("expected the server to close the connection, got n=%d err=%v", n, err)
	}
	return time.Since(start)
}

// apiVersions sends ApiVersions v0 on a fresh connection and checks the
// answer: the server still serves.
func (ts *testServer) checkServes(t testing.TB) {
	t.Helper()
	nc := ts.dial(t)
	req := kmsg.NewPtrApiVersionsRequest()
	if _, err := nc.Write(frame(req, 7, nil)); err != nil {
		t.Fatal(err)
	}
	corr, body := readResponse(t, nc)
	resp := kmsg.NewPtrApiVersionsResponse()
	if err := resp.ReadFrom(body); err != nil || corr != 7 || resp.ErrorCode != 0 || len(resp.ApiKeys) != 2 {
		t.Fatalf("ApiVersions on a fresh connection: corr %d err %v resp %+v", corr, err, resp)
	}
	nc.Close()
}

func metadataReq(version int16, topics ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = version
	for _, name := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	return req
}
