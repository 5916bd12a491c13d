package rpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

const methodAnon = FirstUserMethod + 10

// anonNode is a test node that also serves methodAnon to anonymous
// callers: it answers the caller's id (4 bytes) and the request.
func anonNode(t *testing.T, id model.NodeID) *testNode {
	t.Helper()
	cfg := testConfig(id)
	tr, err := New(cfg)
	must(t, err)
	must(t, tr.Handle(methodEcho, func(_ context.Context, _ model.NodeID, req []byte) ([]byte, error) { return req, nil }))
	must(t, tr.HandleAnonymous(methodAnon, func(ctx context.Context, from model.NodeID, req []byte) ([]byte, error) {
		if _, ok := ctx.Deadline(); !ok {
			return nil, errors.New("no deadline")
		}
		if string(req) == "fail" {
			return nil, errors.New("handler says no")
		}
		if string(req) == "big" {
			return make([]byte, anonymousMaxFrameBytes), nil
		}
		return append(binary.BigEndian.AppendUint32(nil, uint32(from)), req...), nil
	}))
	tr.Start()
	t.Cleanup(func() { _ = tr.Close() })
	return &testNode{Transport: tr, id: id}
}

func TestAnonymousCall(t *testing.T) {
	n := anonNode(t, 2)
	ctx := ctxTimeout(t, 10*time.Second)
	id, err := Probe(ctx, n.Addr(), Anonymous, time.Second)
	must(t, err)
	if id != (Identity{NodeID: 2, ClusterID: "test-cluster"}) {
		t.Fatalf("anonymous probe: %+v", id)
	}
	resp, err := CallAnonymous(ctx, n.Addr(), id, methodAnon, []byte("who"))
	must(t, err)
	anon := Anonymous
	want := append(binary.BigEndian.AppendUint32(nil, uint32(anon)), "who"...)
	if !bytes.Equal(resp, want) {
		t.Fatalf("answer %q, want %q (the handler sees from = Anonymous)", resp, want)
	}
	// A handler's error reaches the caller.
	if _, err := CallAnonymous(ctx, n.Addr(), id, methodAnon, []byte("fail")); !errors.Is(err, ErrRemote) || !bytes.Contains([]byte(err.Error()), []byte("handler says no")) {
		t.Fatalf("failing handler: %v", err)
	}
	// A response over the bound is refused by the acceptor.
	if _, err := CallAnonymous(ctx, n.Addr(), id, methodAnon, []byte("big")); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized response: %v, want ErrFrameTooLarge", err)
	}
	eventually(t, 10*time.Second, "anonymous connections closed", func() bool { return acceptedConns(n.Transport) == 0 })
	// Identified peers call the method as usual.
	a := newNode(t, 1)
	link(t, a, n)
	got, err := a.Call(ctx, 2, methodAnon, []byte("x"))
	must(t, err)
	if model.NodeID(int32(binary.BigEndian.Uint32(got))) != 1 {
		t.Fatalf("identified call: from %d, want 1", int32(binary.BigEndian.Uint32(got)))
	}
}

func TestAnonymousRefused(t *testing.T) {
	n := anonNode(t, 2)
	ctx := ctxTimeout(t, 10*time.Second)
	id := Identity{NodeID: 2, ClusterID: "test-cluster"}
	for _, m := range []Method{methodEcho, methodAnon + 1} { // registered with Handle only; not at all
		_, err := CallAnonymous(ctx, n.Addr(), id, m, []byte("x"))
		if !errors.Is(err, ErrAnonymous) {
			t.Fatalf("method %d: %v, want ErrAnonymous", m, err)
		}
	}
	if _, err := CallAnonymous(ctx, n.Addr(), id, MethodPing, nil); !errors.Is(err, ErrReservedMethod) {
		t.Fatalf("reserved method: %v", err)
	}
	if _, err := CallAnonymous(ctx, n.Addr(), Identity{NodeID: 2, ClusterID: "other"}, methodAnon, nil); !errors.Is(err, ErrWrongCluster) {
		t.Fatalf("wrong cluster: %v, want ErrWrongCluster", err)
	}
	if _, err := CallAnonymous(ctx, n.Addr(), Identity{NodeID: 3, ClusterID: "test-cluster"}, methodAnon, nil); !errors.Is(err, ErrWrongNode) {
		t.Fatalf("wrong node: %v, want ErrWrongNode", err)
	}
	if _, err := CallAnonymous(ctx, n.Addr(), Identity{NodeID: 2}, methodAnon, nil); !errors.Is(err, ErrNoCluster) {
		t.Fatalf("no cluster: %v, want ErrNoCluster", err)
	}
	// Oversized: refused by the caller before dialing, and by the
	// acceptor from the header alone.
	if _, err := CallAnonymous(ctx, n.Addr(), id, methodAnon, make([]byte, anonymousMaxFrameBytes)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized request: %v, want ErrFrameTooLarge", err)
	}
	conn, h, _ := rawHello(t, n.Addr(), hello{version: Version, from: int32(Anonymous), to: 2, cluster: "test-cluster"})
	if h.flags != flagResponse {
		t.Fatalf("anonymous hello answer: flags %#x", h.flags)
	}
	_, err := conn.Write(appendHeader(nil, header{method: methodAnon, corr: 7, payloadLen: 1 << 20}))
	must(t, err)
	var hb [headerBytes]byte
	h, payload, err := readFrame(conn, &hb, anonymousMaxFrameBytes)
	must(t, err)
	re, err := decodeErrorPayload(payload)
	if err != nil || h.flags != flagResponse|flagError || h.corr != 7 || !errors.Is(re, ErrFrameTooLarge) {
		t.Fatalf("oversized request at the acceptor: flags %#x corr %d, %v, %v", h.flags, h.corr, re, err)
	}
	if _, _, err := readFrame(conn, &hb, anonymousMaxFrameBytes); !errors.Is(err, io.EOF) {
		t.Fatalf("after the refusal: %v, want EOF", err)
	}
	eventually(t, 10*time.Second, "anonymous connections closed", func() bool { return acceptedConns(n.Transport) == 0 })
}

// TestAnonymousOneRequest: an anonymous connection carries one request;
// the acceptor closes it after the answer, and frames that are no
// request (a raft batch, a one-way message) are refused.
func TestAnonymousOneRequest(t *testing.T) {
	n := anonNode(t, 2)
	an := hello{version: Version, from: int32(Anonymous), to: 2, cluster: "test-cluster"}
	conn, _, _ := rawHello(t, n.Addr(), an)
	req := appendHeader(nil, header{method: methodAnon, corr: 1, payloadLen: 2})
	req = append(req, "hi"...)
	_, err := conn.Write(append(req, req...)) // two requests
	must(t, err)
	var hb [headerBytes]byte
	h, payload, err := readFrame(conn, &hb, anonymousMaxFrameBytes)
	must(t, err)
	if h.flags != flagResponse || !bytes.HasSuffix(payload, []byte("hi")) {
		t.Fatalf("first request: flags %#x payload %q", h.flags, payload)
	}
	if n := drain(t, conn); n != 0 {
		t.Fatalf("second request on an anonymous connection answered (%d bytes)", n)
	}
	// A raft batch is no anonymous method; a one-way frame is no request.
	conn, _, _ = rawHello(t, n.Addr(), an)
	_, err = conn.Write(appendHeader(nil, header{method: methodRaft}))
	must(t, err)
	h, payload, err = readFrame(conn, &hb, anonymousMaxFrameBytes)
	must(t, err)
	if re, err := decodeErrorPayload(payload); err != nil || h.flags&flagError == 0 || !errors.Is(re, ErrAnonymous) {
		t.Fatalf("raft frame: flags %#x, %v, %v", h.flags, re, err)
	}
	conn, _, _ = rawHello(t, n.Addr(), an)
	_, err = conn.Write(appendHeader(nil, header{method: methodAnon, flags: flagOneway}))
	must(t, err)
	if n := drain(t, conn); n != 0 {
		t.Fatalf("one-way anonymous frame answered (%d bytes)", n)
	}
}

// drain reads conn until the peer closes it and returns the bytes read;
// it fails the test when the connection stays open.
func drain(t *testing.T, conn net.Conn) int64 {
	t.Helper()
	must(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	n, err := io.Copy(io.Discard, conn)
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Fatalf("connection left open: %v after %d bytes", err, n)
	}
	return n
}
