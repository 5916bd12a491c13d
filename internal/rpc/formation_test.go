package rpc

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

func probe(t *testing.T, addr string, from model.NodeID) Identity {
	t.Helper()
	id, err := Probe(ctxTimeout(t, 10*time.Second), addr, from, 5*time.Second)
	if err != nil {
		t.Fatalf("probe of %s from node %d: %v", addr, from, err)
	}
	return id
}

func acceptedConns(tr *Transport) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.accepted)
}

// rawHello dials addr, sends the hello and reads the answer's frame; the
// connection is closed at the end of the test.
func rawHello(t *testing.T, addr string, out hello) (net.Conn, header, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	must(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	must(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	p := out.appendTo(nil)
	_, err = conn.Write(append(appendHeader(nil, header{method: methodHello, payloadLen: len(p)}), p...))
	must(t, err)
	var hb [headerBytes]byte
	h, payload, err := readFrame(conn, &hb, helloMaxBytes)
	must(t, err)
	return conn, h, payload
}

func TestProbe(t *testing.T) {
	formed := newNode(t, 2)
	cu := testConfig(3)
	cu.ClusterID = ""
	unformed := startNode(t, cu)

	if got, want := probe(t, formed.Addr(), 1), (Identity{NodeID: 2, ClusterID: "test-cluster"}); got != want {
		t.Fatalf("probe of a formed node: %+v, want %+v", got, want)
	}
	if got, want := probe(t, unformed.Addr(), 1), (Identity{NodeID: 3}); got != want {
		t.Fatalf("probe of an unformed node: %+v, want %+v", got, want)
	}
	// A node probing its own address (it claims the acceptor's id) is answered.
	if got := probe(t, formed.Addr(), 2); got.NodeID != 2 {
		t.Fatalf("probe of its own address: %+v", got)
	}
	// A probe never becomes a wire: the acceptor closes after answering,
	// even when the prober keeps its end open.
	conn, h, _ := rawHello(t, formed.Addr(), hello{version: Version, from: 1, to: helloToProbe})
	if h.flags != flagResponse {
		t.Fatalf("probe answer: flags %#x", h.flags)
	}
	var hb [headerBytes]byte
	if _, _, err := readFrame(conn, &hb, helloMaxBytes); !errors.Is(err, io.EOF) {
		t.Fatalf("probe connection after the answer: %v, want EOF", err)
	}
	// Another protocol version is the one thing a probe is refused for.
	_, h, payload := rawHello(t, formed.Addr(), hello{version: Version + 1, from: 1, to: helloToProbe})
	if re, err := decodeErrorPayload(payload); err != nil || h.flags != flagResponse|flagError || re.Code != CodeVersion {
		t.Fatalf("probe of another version: flags %#x, %v, %v", h.flags, re, err)
	}
	eventually(t, 10*time.Second, "probe connections closed", func() bool {
		return acceptedConns(formed.Transport) == 0 && acceptedConns(unformed.Transport) == 0
	})
	if ps := peerStats(formed.Transport, 1); ps.FramesReceived != 0 {
		t.Fatalf("a probe counted as traffic: %+v", ps)
	}
	// The prober's cluster id does not matter, and the node serves as before.
	a := newNode(t, 1)
	must(t, a.SetClusterID("another-cluster"))
	must(t, a.SetClusterID("test-cluster"))
	link(t, a, formed)
	echo(t, a, 2, []byte("after probes"))
	if _, err := Probe(ctxTimeout(t, 10*time.Second), formed.Addr(), -2, time.Second); err == nil {
		t.Fatal("probe from a negative node id accepted")
	}
}

func TestProbeFailsFast(t *testing.T) {
	start := time.Now()
	if _, err := Probe(ctxTimeout(t, 30*time.Second), deadAddr(t), 1, 10*time.Second); err == nil {
		t.Fatal("probe of a closed port succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("probe of a closed port took %v", d)
	}

	// A listener that never answers: the probe ends with its timeout.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer silent.Close()
	start = time.Now()
	_, err = Probe(ctxTimeout(t, 30*time.Second), silent.Addr().String(), 1, 100*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
		t.Fatalf("probe of a silent listener: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("probe with a 100ms timeout took %v", d)
	}
	// ...or with its context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Probe(ctx, silent.Addr().String(), 1, 10*time.Second); err == nil {
		t.Fatal("probe with a cancelled context succeeded")
	}
}

func isTimeout(err error) bool {
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}

// TestUnformedJoins: a transport started without a cluster id refuses
// peers and dials nobody until SetClusterID, then works both ways.
func TestUnformedJoins(t *testing.T) {
	col := newCollector()
	ca := testConfig(1)
	ca.RaftSink = col.sink
	a := startNode(t, ca)
	cu := testConfig(2)
	cu.ClusterID = ""
	// A long backoff: only SetClusterID's wake-up can redial within the test.
	cu.ReconnectBackoffMin, cu.ReconnectBackoffMax = time.Minute, time.Minute
	u := startNode(t, cu)

	must(t, a.SetPeer(2, u.Addr()))
	_, err := a.Call(ctxTimeout(t, 10*time.Second), 2, methodEcho, nil)
	if !errors.Is(err, ErrWrongCluster) || !strings.Contains(err.Error(), "has not joined a cluster yet") {
		t.Fatalf("dial to an unformed node: %v", err)
	}
	must(t, u.SetPeer(1, a.Addr()))
	_, err = u.Call(ctxTimeout(t, 10*time.Second), 1, methodEcho, nil)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrNoCluster) {
		t.Fatalf("dial from an unformed node: %v", err)
	}
	eventually(t, 10*time.Second, "SendRaft from an unformed node fails", func() bool {
		return errors.Is(u.SendRaft(1, RaftMessage{Group: 7, Msg: heartbeat(2, 1, 1)}), ErrNoCluster)
	})
	if got := peerStats(a.Transport, 2).FramesReceived + peerStats(u.Transport, 1).FramesReceived; got != 0 {
		t.Fatalf("%d frames crossed before the cluster id was set", got)
	}

	if err := u.SetClusterID(strings.Repeat("x", 256)); err == nil {
		t.Fatal("a cluster id of 256 bytes accepted")
	}
	if u.ClusterID() != "" {
		t.Fatalf("cluster id %q after a refused SetClusterID", u.ClusterID())
	}
	must(t, u.SetClusterID("test-cluster"))
	connected(t, u, 1) // within the minute of backoff: SetClusterID woke the dials
	echo(t, u, 1, []byte("joined"))
	eventually(t, 10*time.Second, "the formed node's dials succeed", func() bool {
		_, err := a.Call(ctxTimeout(t, 10*time.Second), 2, methodEcho, []byte("x"))
		return err == nil
	})
	echo(t, a, 2, []byte("both ways"))
	must(t, u.SendRaft(1, RaftMessage{Group: 7, Msg: heartbeat(2, 1, 1)}))
	eventually(t, 10*time.Second, "raft message delivered", func() bool { return col.count(2) == 1 })
	if msgs, _ := col.get(2); msgs[0].Group != 7 || msgs[0].Msg.GetCommit() != 1 {
		t.Fatalf("raft message %+v", msgs[0])
	}

	// Another cluster is still refused, both ways.
	co := testConfig(3)
	co.ClusterID = "other-cluster"
	o := startNode(t, co)
	must(t, u.SetPeer(3, o.Addr()))
	if _, err := u.Call(ctxTimeout(t, 10*time.Second), 3, methodEcho, nil); !errors.Is(err, ErrWrongCluster) {
		t.Fatalf("dial to another cluster: %v", err)
	}
	must(t, o.SetPeer(2, u.Addr()))
	if _, err := o.Call(ctxTimeout(t, 10*time.Second), 2, methodEcho, nil); !errors.Is(err, ErrWrongCluster) {
		t.Fatalf("dial from another cluster: %v", err)
	}
}

func TestLive(t *testing.T) {
	ca := testConfig(1)
	ca.HeartbeatInterval, ca.HeartbeatTimeout = 10*time.Millisecond, 200*time.Millisecond
	a, b := startNode(t, ca), newNode(t, 2)
	if !a.Live(1) {
		t.Fatal("this node is not live")
	}
	if a.Live(2) {
		t.Fatal("a node with no address is live")
	}
	link(t, a, b)
	eventually(t, 10*time.Second, "peer live", func() bool { return a.Live(2) })
	addr := b.Addr()
	must(t, b.Close())
	eventually(t, 10*time.Second, "peer down after its transport closed", func() bool { return !a.Live(2) })
	restart(t, testConfig(2), addr)
	eventually(t, 10*time.Second, "peer live after a restart", func() bool { return a.Live(2) })
	a.RemovePeer(2)
	if a.Live(2) {
		t.Fatal("a removed peer is live")
	}

	// Heartbeat disabled: a peer counts as up, even one that never answers.
	c := newNode(t, 3)
	must(t, c.SetPeer(4, deadAddr(t)))
	if _, err := c.Call(ctxTimeout(t, 10*time.Second), 4, methodEcho, nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("call to a dead address: %v", err)
	}
	if !c.Live(4) {
		t.Fatal("without heartbeat a peer is not live")
	}
}
