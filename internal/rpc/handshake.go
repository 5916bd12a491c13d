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
	if err != nil {
		select {
		case <-t.done:
		default:
			t.logg.Warn("rpc: refused a connection", "remote", conn.RemoteAddr().String(), "err", err)
		}
		return
	}
	w := newWire(t, conn, from)
	err = w.run()
	t.logg.Debug("rpc: inbound connection ended", "peer", from, "err", err)
}

// acceptHello reads the dialer's hello, checks version, cluster and node
// id, and answers with our hello or an error frame.
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
	var code Code
	var msg string
	switch {
	case in.version != Version:
		code, msg = CodeVersion, fmt.Sprintf("node %d speaks version %d, node %d speaks %d", in.from, in.version, t.cfg.NodeID, Version)
	case in.cluster != t.cfg.ClusterID:
		code, msg = CodeWrongCluster, fmt.Sprintf("node %d of cluster %q dialed node %d of cluster %q", in.from, in.cluster, t.cfg.NodeID, t.cfg.ClusterID)
	case model.NodeID(in.to) != t.cfg.NodeID:
		code, msg = CodeWrongNode, fmt.Sprintf("node %d dialed node %d, reached node %d", in.from, in.to, t.cfg.NodeID)
	case model.NodeID(in.from) == t.cfg.NodeID || in.from < 0:
		code, msg = CodeWrongNode, fmt.Sprintf("a dialer claims node id %d (this is node %d)", in.from, t.cfg.NodeID)
	}
	if code != 0 {
		p := appendErrorPayload(nil, code, msg)
		_, _ = conn.Write(append(appendHeader(nil, header{method: methodHello, flags: flagResponse | flagError, payloadLen: len(p)}), p...))
		return 0, &RemoteError{Code: code, Message: msg}
	}
	out := hello{version: Version, from: int32(t.cfg.NodeID), to: in.from, cluster: t.cfg.ClusterID}.appendTo(nil)
	if _, err := conn.Write(append(appendHeader(nil, header{method: methodHello, flags: flagResponse, payloadLen: len(out)}), out...)); err != nil {
		return 0, err
	}
	_ = conn.SetDeadline(time.Time{})
	return model.NodeID(in.from), nil
}

// dial connects to node to at addr and runs the dialer's side of the
// handshake, all within DialTimeout.
func (t *Transport) dial(ctx context.Context, to model.NodeID, addr string) (*wire, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if err := t.dialHello(ctx, conn, to); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("rpc: handshake with node %d at %s: %w", to, addr, err)
	}
	return newWire(t, conn, to), nil
}

func (t *Transport) dialHello(ctx context.Context, conn net.Conn, to model.NodeID) error {
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	out := hello{version: Version, from: int32(t.cfg.NodeID), to: int32(to), cluster: t.cfg.ClusterID}.appendTo(nil)
	if _, err := conn.Write(append(appendHeader(nil, header{method: methodHello, payloadLen: len(out)}), out...)); err != nil {
		return err
	}
	var hb [headerBytes]byte
	h, payload, err := readFrame(conn, &hb, helloMaxBytes)
	if err != nil {
		return err
	}
	if h.method != methodHello || h.flags&flagResponse == 0 {
		return fmt.Errorf("%w: answer to hello is method %d flags %#x", ErrBadFrame, h.method, h.flags)
	}
	if h.flags&flagError != 0 {
		re, err := decodeErrorPayload(payload)
		if err != nil {
			return err
		}
		return re
	}
	in, err := decodeHello(payload)
	if err != nil {
		return err
	}
	switch {
	case in.version != Version:
		return &RemoteError{Code: CodeVersion, Message: fmt.Sprintf("peer answered with version %d", in.version)}
	case in.cluster != t.cfg.ClusterID:
		return &RemoteError{Code: CodeWrongCluster, Message: fmt.Sprintf("peer is in cluster %q, we are in %q", in.cluster, t.cfg.ClusterID)}
	case model.NodeID(in.from) != to:
		return &RemoteError{Code: CodeWrongNode, Message: fmt.Sprintf("dialed node %d, reached node %d", to, in.from)}
	}
	if !stop() {
		return ctx.Err()
	}
	return conn.SetDeadline(time.Time{})
}
