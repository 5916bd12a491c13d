package rpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			select {
			case <-t.done:
				return
			default:
			}
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				continue
			}
			t.logg.Error("rpc: accept failed; no more peers accepted", "err", err)
			return
		}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			_ = conn.Close()
			return
		}
		t.accepted[conn] = struct{}{}
		t.wg.Add(1)
		t.mu.Unlock()
		go t.serveConn(conn)
	}
}

// serveConn runs the acceptor's side of the handshake, then the wire.
func (t *Transport) serveConn(conn net.Conn) {
	defer t.wg.Done()
	defer func() {
		t.mu.Lock()
		delete(t.accepted, conn)
		t.mu.Unlock()
		_ = conn.Close()
	}()
	from, err := t.acceptHello(conn)
	if errors.Is(err, errProbed) {
		t.logg.Debug("rpc: answered a probe", "remote", conn.RemoteAddr().String(), "prober", from)
		return
	}
	if errors.Is(err, errAnonymousHello) {
		if err := t.serveAnonymous(conn); err != nil {
			t.logg.Warn("rpc: anonymous request refused or failed", "remote", conn.RemoteAddr().String(), "err", err)
		}
		return
	}
	if err != nil {
		select {
		case <-t.done:
		default:
			if errors.Is(err, ErrWrongCluster) && t.ClusterID() == "" {
				// A peer that formed first dialed us before we formed:
				// expected while a cluster forms; it redials.
				t.logg.Info("rpc: refused a peer until this node has formed", "remote", conn.RemoteAddr().String())
			} else {
				t.logg.Warn("rpc: refused a connection", "remote", conn.RemoteAddr().String(), "err", err)
			}
		}
		return
	}
	w := newWire(t, conn, from)
	err = w.run()
	t.logg.Debug("rpc: inbound connection ended", "peer", from, "err", err)
}

// acceptHello reads the dialer's hello, checks version, cluster and node
// id, and answers with our hello or an error frame. A probe (to = -1) is
// answered whatever the cluster ids and then ends with errProbed; an
// anonymous hello (from = Anonymous) is checked like any other and ends
// with errAnonymousHello: neither becomes a wire.
func (t *Transport) acceptHello(conn net.Conn) (model.NodeID, error) {
	_ = conn.SetDeadline(time.Now().Add(t.cfg.DialTimeout))
	var hb [headerBytes]byte
	h, payload, err := readFrame(conn, &hb, helloMaxBytes)
	if err != nil {
		return 0, err
	}
	if h.method != methodHello || h.flags != 0 {
		return 0, fmt.Errorf("%w: first frame is method %d flags %#x, not a hello", ErrBadFrame, h.method, h.flags)
	}
	in, err := decodeHello(payload)
	if err != nil {
		return 0, err
	}
	cluster, _ := t.cluster()
	probe := in.to == helloToProbe
	anonymous := !probe && model.NodeID(in.from) == Anonymous
	var code Code
	var msg string
	switch {
	case in.version != Version:
		code, msg = CodeVersion, fmt.Sprintf("node %d speaks version %d, node %d speaks %d", in.from, in.version, t.cfg.NodeID, Version)
	case probe:
	case cluster == "":
		code, msg = CodeWrongCluster, fmt.Sprintf("node %d of cluster %q dialed node %d, which has not joined a cluster yet", in.from, in.cluster, t.cfg.NodeID)
	case in.cluster != cluster:
		code, msg = CodeWrongCluster, fmt.Sprintf("node %d of cluster %q dialed node %d of cluster %q", in.from, in.cluster, t.cfg.NodeID, cluster)
	case model.NodeID(in.to) != t.cfg.NodeID:
		code, msg = CodeWrongNode, fmt.Sprintf("node %d dialed node %d, reached node %d", in.from, in.to, t.cfg.NodeID)
	case model.NodeID(in.from) == t.cfg.NodeID || (in.from < 0 && !anonymous):
		code, msg = CodeWrongNode, fmt.Sprintf("a dialer claims node id %d (this is node %d)", in.from, t.cfg.NodeID)
	}
	if code != 0 {
		p := appendErrorPayload(nil, code, msg)
		_, _ = conn.Write(append(appendHeader(nil, header{method: methodHello, flags: flagResponse | flagError, payloadLen: len(p)}), p...))
		return 0, &RemoteError{Code: code, Message: msg}
	}
	out := hello{version: Version, from: int32(t.cfg.NodeID), to: in.from, cluster: cluster}.appendTo(nil)
	if _, err := conn.Write(append(appendHeader(nil, header{method: methodHello, flags: flagResponse, payloadLen: len(out)}), out...)); err != nil {
		return 0, err
	}
	if probe {
		return model.NodeID(in.from), errProbed
	}
	if anonymous {
		return Anonymous, errAnonymousHello
	}
	_ = conn.SetDeadline(time.Time{})
	return model.NodeID(in.from), nil
}

// dial connects to node to at addr and runs the dialer's side of the
// handshake, all within DialTimeout. Without a cluster id it fails with
// ErrNoCluster before dialing.
func (t *Transport) dial(ctx context.Context, to model.NodeID, addr string) (*wire, error) {
	cluster, _ := t.cluster()
	if cluster == "" {
		return nil, ErrNoCluster
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.DialTimeout)
	defer cancel()
	conn, in, err := dialExchange(ctx, addr, hello{version: Version, from: int32(t.cfg.NodeID), to: int32(to), cluster: cluster})
	if err == nil {
		switch {
		case in.cluster != cluster:
			err = &RemoteError{Code: CodeWrongCluster, Message: fmt.Sprintf("peer is in cluster %q, we are in %q", in.cluster, cluster)}
		case model.NodeID(in.from) != to:
			err = &RemoteError{Code: CodeWrongNode, Message: fmt.Sprintf("dialed node %d, reached node %d", to, in.from)}
		default:
			err = conn.SetDeadline(time.Time{})
		}
		if err != nil {
			_ = conn.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("rpc: dial node %d at %s: %w", to, addr, err)
	}
	return newWire(t, conn, to), nil
}

// Identity is what a probe learns of the node listening at an address.
type Identity struct {
	NodeID    model.NodeID
	ClusterID string // "" while that node has not formed or joined a cluster
}

// Probe asks the node listening at addr who it is: it dials, sends a
// hello that asks for identity only (to = -1, see doc.go), reads the
// answering hello and closes. The acceptor answers whatever its cluster
// id (even "") and whoever from claims to be, this node's own id
// included, so a node finds its own address among the seeds by comparing
// the answer with its id. A node without an id yet probes from Anonymous. Dial and handshake are bounded by dialTimeout
// (0: 2 s) and by ctx. A refused or closed port fails at once.
func Probe(ctx context.Context, addr string, from model.NodeID, dialTimeout time.Duration) (Identity, error) {
	if from < 0 && from != Anonymous {
		return Identity{}, fmt.Errorf("rpc: probe from node id %d", from)
	}
	if dialTimeout <= 0 {
		dialTimeout = defaultDialTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, in, err := dialExchange(ctx, addr, hello{version: Version, from: int32(from), to: helloToProbe})
	if err != nil {
		return Identity{}, fmt.Errorf("rpc: probe of %s: %w", addr, err)
	}
	_ = conn.Close()
	if in.from < 0 {
		return Identity{}, fmt.Errorf("rpc: probe of %s: %w: answer claims node id %d", addr, ErrBadFrame, in.from)
	}
	return Identity{NodeID: model.NodeID(in.from), ClusterID: in.cluster}, nil
}

// dialExchange dials addr, sends out and reads the acceptor's hello,
// within ctx (which must have a deadline). A refusal is the peer's
// *RemoteError; an answer of another version is ErrVersion. On success
// the caller owns conn (its deadline still set); on error it is closed.
func dialExchange(ctx context.Context, addr string, out hello) (net.Conn, hello, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, hello{}, err
	}
	in, err := exchangeHello(ctx, conn, out)
	if err != nil {
		_ = conn.Close()
		return nil, hello{}, err
	}
	return conn, in, nil
}

func exchangeHello(ctx context.Context, conn net.Conn, out hello) (hello, error) {
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	p := out.appendTo(nil)
	if _, err := conn.Write(append(appendHeader(nil, header{method: methodHello, payloadLen: len(p)}), p...)); err != nil {
		return hello{}, err
	}
	var hb [headerBytes]byte
	h, payload, err := readFrame(conn, &hb, helloMaxBytes)
	if err != nil {
		return hello{}, err
	}
	if h.method != methodHello || h.flags&flagResponse == 0 {
		return hello{}, fmt.Errorf("%w: answer to hello is method %d flags %#x", ErrBadFrame, h.method, h.flags)
	}
	if h.flags&flagError != 0 {
		re, err := decodeErrorPayload(payload)
		if err != nil {
			return hello{}, err
		}
		return hello{}, re
	}
	in, err := decodeHello(payload)
	if err != nil {
		return hello{}, err
	}
	if in.version != Version {
		return hello{}, &RemoteError{Code: CodeVersion, Message: fmt.Sprintf("peer answered with version %d", in.version)}
	}
	if !stop() {
		return hello{}, ctx.Err()
	}
	return in, nil
}
