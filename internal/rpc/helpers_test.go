package rpc

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

const (
	methodEcho  Method = FirstUserMethod
	methodBlock Method = FirstUserMethod + 1 // waits for its gate or ctx
	methodFail  Method = FirstUserMethod + 2
	methodCount Method = FirstUserMethod + 3
)

// testNode is a started Transport on 127.0.0.1 with test handlers.
type testNode struct {
	*Transport
	id      model.NodeID
	gate    chan struct{} // closed to release methodBlock handlers
	entered chan struct{} // one token per methodBlock handler started
	ctxErr  chan error    // methodBlock: why its ctx ended, if it did
	counted chan []byte   // methodCount payloads
}

func testConfig(id model.NodeID) Config {
	return Config{NodeID: id, ClusterID: "test-cluster", ListenAddr: "127.0.0.1:0",
		ReconnectBackoffMin: 5 * time.Millisecond, ReconnectBackoffMax: 50 * time.Millisecond,
		HeartbeatInterval: -1, Seed: uint64(id) + 1}
}

func startNode(t *testing.T, cfg Config) *testNode {
	t.Helper()
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := &testNode{Transport: tr, id: cfg.NodeID, gate: make(chan struct{}),
		entered: make(chan struct{}, 1024), ctxErr: make(chan error, 1024), counted: make(chan []byte, 4096)}
	must(t, tr.Handle(methodEcho, func(_ context.Context, _ model.NodeID, req []byte) ([]byte, error) { return req, nil }))
	must(t, tr.Handle(methodBlock, func(ctx context.Context, _ model.NodeID, req []byte) ([]byte, error) {
		n.entered <- struct{}{}
		select {
		case <-n.gate:
			return req, nil
		case <-ctx.Done():
			n.ctxErr <- ctx.Err()
			return nil, ctx.Err()
		}
	}))
	must(t, tr.Handle(methodFail, func(_ context.Context, from model.NodeID, req []byte) ([]byte, error) {
		if len(req) > 0 {
			return nil, &RemoteError{Code: FirstUserCode + 1, Message: string(req)}
		}
		return nil, errors.New("handler says no")
	}))
	must(t, tr.Handle(methodCount, func(_ context.Context, _ model.NodeID, req []byte) ([]byte, error) {
		n.counted <- req
		return nil, nil
	}))
	tr.Start()
	t.Cleanup(func() { _ = tr.Close() })
	return n
}

func newNode(t *testing.T, id model.NodeID) *testNode { return startNode(t, testConfig(id)) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// link makes to a peer of from and waits until every connection of the
// pool is up.
func link(t *testing.T, from, to *testNode) {
	t.Helper()
	must(t, from.SetPeer(to.id, to.Addr()))
	connected(t, from, to.id)
}

func connected(t *testing.T, from *testNode, to model.NodeID) {
	t.Helper()
	eventually(t, 10*time.Second, "connection pool up", func() bool {
		return peerStats(from.Transport, to).Connected == from.cfg.ConnsPerPeer
	})
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond every few milliseconds until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func echo(t *testing.T, from *testNode, to model.NodeID, payload []byte) {
	t.Helper()
	got, err := from.Call(ctxTimeout(t, 10*time.Second), to, methodEcho, payload)
	if err != nil {
		t.Fatalf("echo to %d: %v", to, err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("echo to %d: %d bytes back, sent %d", to, len(got), len(payload))
	}
}

func peerStats(tr *Transport, id model.NodeID) PeerStats {
	for _, ps := range tr.Stats().Peers {
		if ps.Node == id {
			return ps
		}
	}
	return PeerStats{Node: id}
}

func recvWithin[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("no %s within %v", what, d)
		panic("unreachable")
	}
}

// deadAddr is a loopback address where nothing listens (dials are refused).
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	must(t, ln.Close())
	return addr
}
