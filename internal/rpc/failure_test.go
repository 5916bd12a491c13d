package rpc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

// restart starts node id again on the address a closed node listened on.
func restart(t *testing.T, cfg Config, addr string) *testNode {
	t.Helper()
	cfg.ListenAddr = addr
	var n *testNode
	eventually(t, 10*time.Second, "listen on "+addr+" again", func() bool {
		tr, err := New(cfg)
		if err != nil {
			return false
		}
		_ = tr.Close()
		n = startNode(t, cfg)
		return true
	})
	return n
}

func TestReconnectAfterPeerRestart(t *testing.T) {
	a, b := newNode(t, 1), newNode(t, 2)
	link(t, a, b)
	echo(t, a, 2, []byte("before"))
	addr := b.Addr()
	must(t, b.Close())

	// The peer is gone: calls fail (connection lost, then unavailable), fast.
	start := time.Now()
	var lastErr error
	for range 20 {
		_, lastErr = a.Call(ctxTimeout(t, 10*time.Second), 2, methodEcho, []byte("x"))
		if lastErr == nil {
			t.Fatal("call to a closed peer succeeded")
		}
		if !errors.Is(lastErr, ErrUnavailable) && !errors.Is(lastErr, ErrConnLost) {
			t.Fatalf("call to a closed peer: %v", lastErr)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("20 calls to a closed peer took %v", d)
	}

	restart(t, testConfig(2), addr)
	eventually(t, 10*time.Second, "calls succeed after the restart", func() bool {
		_, err := a.Call(ctxTimeout(t, 10*time.Second), 2, methodEcho, []byte("after"))
		return err == nil
	})
	connected(t, a, 2)
	for range 10 {
		echo(t, a, 2, []byte("after"))
	}
	if ps := peerStats(a.Transport, 2); ps.Reconnects < 1 {
		t.Fatalf("stats after a restart: %+v", ps)
	}
}

func TestPeerDownFailsFast(t *testing.T) {
	a := newNode(t, 1)
	must(t, a.SetPeer(2, deadAddr(t)))
	start := time.Now()
	for i := range 100 {
		_, err := a.Call(ctxTimeout(t, 30*time.Second), 2, methodEcho, nil)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("call %d to a dead peer: %v", i, err)
		}
	}
	if err := a.Send(2, methodCount, nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("send to a dead peer: %v", err)
	}
	eventually(t, 5*time.Second, "both slots tried a dial", func() bool {
		return a.SendRaft(2, RaftMessage{Msg: heartbeat(1, 2, 1)}) != nil && peerStats(a.Transport, 2).DialFailures >= 2
	})
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("100 calls to a dead peer took %v; want fail-fast", d)
	}
	if ps := peerStats(a.Transport, 2); ps.RaftDropped == 0 || ps.Connected != 0 {
		t.Fatalf("stats: %+v", ps)
	}
}

func TestWrongClusterRefused(t *testing.T) {
	a := newNode(t, 1)
	cfg := testConfig(2)
	cfg.ClusterID = "other-cluster"
	b := startNode(t, cfg)
	must(t, a.SetPeer(2, b.Addr()))
	_, err := a.Call(ctxTimeout(t, 10*time.Second), 2, methodEcho, nil)
	if !errors.Is(err, ErrWrongCluster) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("want wrong cluster, got %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `"other-cluster"`) || !strings.Contains(msg, `"test-cluster"`) {
		t.Fatalf("error does not name both clusters: %v", err)
	}
	// The wrong node at the address is refused too.
	c := newNode(t, 3)
	must(t, a.SetPeer(4, c.Addr()))
	if _, err := a.Call(ctxTimeout(t, 10*time.Second), 4, methodEcho, nil); !errors.Is(err, ErrWrongNode) {
		t.Fatalf("want wrong node, got %v", err)
	}
	if got := peerStats(b.Transport, 1).FramesReceived; got != 0 {
		t.Fatalf("refused node got %d frames through", got)
	}
}

func TestCloseFailsInFlightCalls(t *testing.T) {
	a, b := newNode(t, 1), newNode(t, 2)
	link(t, a, b)
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := a.Call(ctxTimeout(t, 30*time.Second), 2, methodBlock, nil)
			errs <- err
		}()
	}
	for range n {
		recvWithin(t, b.entered, 10*time.Second, "handler start")
	}
	start := time.Now()
	must(t, a.Close())
	for range n {
		if err := recvWithin(t, errs, 10*time.Second, "failed call"); !errors.Is(err, ErrClosed) {
			t.Fatalf("in-flight call after Close: %v", err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if _, err := a.Call(ctxTimeout(t, time.Second), 2, methodEcho, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after Close: %v", err)
	}
	// The peer's handlers saw their connection end.
	for range n {
		recvWithin(t, b.ctxErr, 10*time.Second, "handler ctx end")
	}
}

func TestBackpressure(t *testing.T) {
	ca, cb := testConfig(1), testConfig(2)
	ca.SendQueueFrames, ca.SendQueueBytes = 8, 1<<20
	ca.RaftQueueBytes = 64 << 10
	cb.MaxConcurrentHandlers = 1
	a, b := startNode(t, ca), startNode(t, cb)
	link(t, a, b)
	echo(t, a, 2, nil)
	payload := bytes.Repeat([]byte{1}, 256<<10)
	// b's handlers block, so b stops reading; TCP fills; a's queues fill.
	full := false
	for i := 0; i < 2000 && !full; i++ {
		err := a.Send(2, methodBlock, payload)
		switch {
		case errors.Is(err, ErrQueueFull):
			full = true
		case err != nil:
			t.Fatalf("send %d: %v", i, err)
		}
		ps := peerStats(a.Transport, 2)
		if ps.QueueFrames > 2*ca.SendQueueFrames || ps.QueueBytes > 2*(ca.SendQueueBytes+len(payload)+headerBytes) {
			t.Fatalf("queue over its bound: %+v", ps)
		}
	}
	if !full {
		t.Fatal("2000 sends to a stuck receiver never found the queue full")
	}
	// Calls block with their context on a full queue (or wait for an answer).
	ctx := ctxTimeout(t, 100*time.Millisecond)
	if _, err := a.Call(ctx, 2, methodEcho, payload); !errors.Is(err, ErrQueueFull) && !errors.Is(err, ctx.Err()) {
		t.Fatalf("call to a stuck receiver: %v", err)
	}
	// Raft messages are refused beyond RaftQueueBytes, never buffered without bound.
	big := heartbeat(1, 2, 1)
	big.Context = make([]byte, 16<<10)
	raftFull := false
	for i := 0; i < 1000 && !raftFull; i++ {
		err := a.SendRaft(2, RaftMessage{Group: GroupID(i), Msg: big})
		raftFull = errors.Is(err, ErrQueueFull)
		if err != nil && !raftFull {
			t.Fatalf("SendRaft: %v", err)
		}
		if q := peerStats(a.Transport, 2).RaftQueueBytes; q > ca.RaftQueueBytes {
			t.Fatalf("raft queue %d over its bound %d", q, ca.RaftQueueBytes)
		}
	}
	if !raftFull {
		t.Fatal("SendRaft to a stuck receiver never found its buffer full")
	}
	// Unblock the receiver: everything drains and calls succeed again.
	close(b.gate)
	eventually(t, 20*time.Second, "calls succeed after the receiver unblocks", func() bool {
		_, err := a.Call(ctxTimeout(t, 10*time.Second), 2, methodEcho, []byte("ok"))
		return err == nil
	})
	eventually(t, 20*time.Second, "queues drain", func() bool {
		ps := peerStats(a.Transport, 2)
		return ps.QueueFrames == 0 && ps.RaftQueueBytes == 0
	})
}

func TestLivenessCallback(t *testing.T) {
	type event struct {
		node model.NodeID
		up   bool
	}
	events := make(chan event, 64)
	ca := testConfig(1)
	ca.HeartbeatInterval, ca.HeartbeatTimeout = 10*time.Millisecond, 200*time.Millisecond
	ca.OnLiveness = func(n model.NodeID, up bool) { events <- event{n, up} }
	a, b := startNode(t, ca), newNode(t, 2)
	link(t, a, b)
	want := func(up bool) {
		t.Helper()
		if ev := recvWithin(t, events, 10*time.Second, "liveness event"); ev != (event{2, up}) {
			t.Fatalf("liveness event %+v, want node 2 up=%v", ev, up)
		}
	}
	want(true)
	addr := b.Addr()
	must(t, b.Close())
	want(false)
	if got := peerStats(a.Transport, 2).Liveness; got != LivenessDown {
		t.Fatalf("stats liveness %v", got)
	}
	restart(t, testConfig(2), addr)
	want(true)
	if got := peerStats(a.Transport, 2).Liveness; got != LivenessUp {
		t.Fatalf("stats liveness %v", got)
	}
}

// TestRawBadInput speaks to the listener with hand-made bytes: an
// oversized or malformed first frame closes the connection at once.
func TestRawBadInput(t *testing.T) {
	cfg := testConfig(2)
	cfg.DialTimeout = 300 * time.Millisecond // a truncated hello waits this long
	b := startNode(t, cfg)
	hello := hello{version: Version, from: 1, to: 2, cluster: "test-cluster"}.appendTo(nil)
	huge := binary.BigEndian.AppendUint32(nil, 1<<30)
	huge = append(huge, make([]byte, headerBytes-4)...)
	for name, in := range map[string][]byte{
		"huge length":        huge,
		"short length":       {0, 0, 0, 3, 0, 1, 0, 0},
		"not a hello":        append(appendHeader(nil, header{method: FirstUserMethod, payloadLen: len(hello)}), hello...),
		"reserved flag":      append(appendHeader(nil, header{method: methodHello, flags: 0x80, payloadLen: len(hello)}), hello...),
		"truncated hello":    append(appendHeader(nil, header{method: methodHello, payloadLen: 3}), hello[:3]...),
		"hello over 512 B":   append(appendHeader(nil, header{method: methodHello, payloadLen: 600}), make([]byte, 600)...),
		"garbage":            bytes.Repeat([]byte{0xff}, 64),
		"bad frame after ok": nil,
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", b.Addr())
			must(t, err)
			defer conn.Close()
			must(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
			if in == nil {
				// a good handshake, then a frame with a reserved byte set
				_, err = conn.Write(append(appendHeader(nil, header{method: methodHello, payloadLen: len(hello)}), hello...))
				must(t, err)
				var hb [headerBytes]byte
				h, _, err := readFrame(conn, &hb, helloMaxBytes)
				must(t, err)
				if h.flags != flagResponse {
					t.Fatalf("hello answer flags %#x", h.flags)
				}
				in = appendHeader(nil, header{method: FirstUserMethod})
				in[7] = 1
			}
			_, _ = conn.Write(in)
			// The server closes (EOF, or a reset when our bytes were left unread).
			n, err := io.Copy(io.Discard, conn)
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				t.Fatalf("connection left open: %v after %d bytes", err, n)
			}
		})
	}
	echo(t, func() *testNode { a := newNode(t, 1); link(t, a, b); return a }(), 2, []byte("still serving"))
}

func TestSetPeerNewAddress(t *testing.T) {
	a, b := newNode(t, 1), newNode(t, 2)
	link(t, a, b)
	echo(t, a, 2, []byte("old"))
	b2 := newNode(t, 2) // node 2 moved: same id, new address; the old one still runs
	must(t, a.SetPeer(2, b2.Addr()))
	eventually(t, 10*time.Second, "calls reach the new address", func() bool {
		_, err := a.Call(ctxTimeout(t, 10*time.Second), 2, methodEcho, []byte("new"))
		return err == nil && peerStats(b2.Transport, 1).FramesReceived > 0
	})
	if ps := peerStats(a.Transport, 2); ps.Addr != b2.Addr() {
		t.Fatalf("stats address %q, want %q", ps.Addr, b2.Addr())
	}
	before := peerStats(b.Transport, 1).FramesReceived
	connected(t, a, 2)
	for range 10 {
		echo(t, a, 2, []byte("new"))
	}
	if after := peerStats(b.Transport, 1).FramesReceived; after != before {
		t.Fatalf("the old address still got %d frames", after-before)
	}
}

// blackHole is a TCP proxy to one address that can stop carrying bytes
// (dropping them, as a network that drops packets) without closing
// anything; it records connections their dialer closed meanwhile.
type blackHole struct {
	ln     net.Listener
	to     string
	mu     sync.Mutex
	down   bool
	closed int // connections that carried bytes, closed by their dialer while down
}

func newBlackHole(t *testing.T, to string) *blackHole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	h := &blackHole{ln: ln, to: to}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go h.serve(c)
		}
	}()
	return h
}

func (h *blackHole) setDown(down bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down = down
}

func (h *blackHole) closedWhileDown() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

func (h *blackHole) serve(c net.Conn) {
	defer c.Close()
	b, err := net.Dial("tcp", h.to)
	if err != nil {
		return
	}
	defer b.Close()
	carry := func(dst, src net.Conn, fromClient bool) {
		buf := make([]byte, 32<<10)
		carried := false
		for {
			n, err := src.Read(buf)
			h.mu.Lock()
			down := h.down
			if err != nil && fromClient && down && carried {
				h.closed++
			}
			h.mu.Unlock()
			carried = carried || !down
			if err != nil {
				_ = dst.Close()
				return
			}
			if !down {
				if _, err := dst.Write(buf[:n]); err != nil {
					return
				}
			}
		}
	}
	go carry(c, b, false)
	carry(b, c, true)
}

// TestUnresponsivePeerRedialed: when the network between two nodes drops
// everything without closing connections, the pings that go unanswered
// mark the peer down and end its connections; once the network carries
// bytes again, new dials reconnect at once (a connection kept across the
// outage would wait for TCP's backed-off retransmissions).
func TestUnresponsivePeerRedialed(t *testing.T) {
	var live atomic.Int32 // 1 up, 2 down
	ca := testConfig(1)
	ca.HeartbeatInterval, ca.HeartbeatTimeout, ca.DialTimeout = 20*time.Millisecond, 100*time.Millisecond, 300*time.Millisecond
	ca.OnLiveness = func(n model.NodeID, up bool) {
		live.Store(map[bool]int32{true: 1, false: 2}[up])
	}
	a, b := startNode(t, ca), newNode(t, 2)
	hole := newBlackHole(t, b.Addr())
	must(t, a.SetPeer(2, hole.ln.Addr().String()))
	connected(t, a, 2)
	echo(t, a, 2, []byte("before"))
	eventually(t, 10*time.Second, "peer up", func() bool { return live.Load() == 1 })
	connects := peerStats(a.Transport, 2).Connects

	hole.setDown(true)
	eventually(t, 10*time.Second, "peer down", func() bool { return live.Load() == 2 })
	eventually(t, 10*time.Second, "the silent connections closed by their dialer", func() bool {
		return hole.closedWhileDown() >= a.cfg.ConnsPerPeer
	})
	hole.setDown(false)
	eventually(t, 10*time.Second, "peer up again", func() bool { return live.Load() == 1 })
	echo(t, a, 2, []byte("after"))
	if got := peerStats(a.Transport, 2).Connects; got <= connects {
		t.Fatalf("connects %d after the outage, %d before: the old connections were kept", got, connects)
	}
}

// TestLivenessRestartedPeer: a peer that answers as a new process (its
// node restarted between two pings, none of which failed) is reported up
// again, so that the node wakes the groups it shares with it.
func TestLivenessRestartedPeer(t *testing.T) {
	events := make(chan bool, 64)
	ca := testConfig(1)
	ca.HeartbeatInterval, ca.HeartbeatTimeout = 10*time.Millisecond, 5*time.Second
	ca.OnLiveness = func(n model.NodeID, up bool) { events <- up }
	a, b := startNode(t, ca), newNode(t, 2)
	link(t, a, b)
	if up := recvWithin(t, events, 10*time.Second, "liveness event"); !up {
		t.Fatal("first event: down")
	}
	// Node 2's new process, elsewhere; the old one still runs, so no
	// ping fails.
	b2 := newNode(t, 2)
	must(t, a.SetPeer(2, b2.Addr()))
	eventually(t, 10*time.Second, "the new process seen", func() bool { return peerStats(a.Transport, 2).Restarts == 1 })
	// Switching addresses may fail the ping in flight (down, then up);
	// either way the last event is up.
	for up := false; !up; {
		up = recvWithin(t, events, 10*time.Second, "liveness event after the restart")
	}
	if got := peerStats(a.Transport, 2).Restarts; got != 1 {
		t.Fatalf("%d restarts seen, want 1", got)
	}
}
