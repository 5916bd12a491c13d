package rpc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Anonymous exchanges. A node that has no node id yet (a node joining a
// cluster that asks it for one) cannot say who it is in a hello, so it
// cannot open a connection. It may still call the few methods a
// transport serves to anonymous callers (HandleAnonymous): CallAnonymous
// sends a hello with from = Anonymous, one request, reads the answer,
// and the acceptor closes the connection. Everything else is refused:
// another method (ErrAnonymous), a frame over anonymousMaxFrameBytes
// either way (ErrFrameTooLarge), and, as for any hello, another cluster
// id, version, or node at the address.
//
//	dialer                                  acceptor
//	hello{from: -1, to: N, cluster: C}  ─►  checks version, C, N
//	                                    ◄─  hello{from: N, to: -1, cluster: C}
//	request{method m, corr, timeout}    ─►  m registered with HandleAnonymous?
//	                                    ◄─  response or error frame; close

// Anonymous is the node id in a hello (and the from a handler sees) of a
// caller that has no node id yet: see CallAnonymous.
const Anonymous model.NodeID = -1

// anonymousMaxFrameBytes bounds the request and the response of an
// anonymous exchange, headers included: a stranger cannot make the
// acceptor allocate more.
const anonymousMaxFrameBytes = 4 << 10

// anonymousMaxTimeout bounds how long the acceptor runs an anonymous
// request's handler (the caller's deadline, if shorter, wins).
const anonymousMaxTimeout = time.Minute

// defaultAnonymousTimeout bounds a CallAnonymous whose ctx has no deadline.
const defaultAnonymousTimeout = 30 * time.Second

// errAnonymousHello ends acceptHello for an anonymous hello, once
// answered: the connection carries one request, not a wire.
var errAnonymousHello = errors.New("rpc: anonymous hello answered")

// HandleAnonymous registers h for m as Handle does and also serves m to
// callers without a node id (CallAnonymous), with from = Anonymous. Only
// before Start.
func (t *Transport) HandleAnonymous(m Method, h Handler) error {
	if err := t.Handle(m, h); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		return errors.New("rpc: HandleAnonymous after Start")
	}
	if t.anonymous == nil {
		t.anonymous = map[Method]bool{}
	}
	t.anonymous[m] = true
	return nil
}

// CallAnonymous calls method m of the node that a probe of addr found
// (to: its node id and cluster id) without a node id of our own: one
// request on a connection of its own, which the acceptor closes after
// answering. The request and the answer are at most a few KiB
// (ErrFrameTooLarge); the acceptor refuses a method not registered with
// HandleAnonymous (ErrAnonymous) and a hello of another cluster
// (ErrWrongCluster) or for another node (ErrWrongNode). The exchange is
// bounded by ctx (30 s when it has no deadline), the dial and handshake
// by 2 s.
func CallAnonymous(ctx context.Context, addr string, to Identity, m Method, req []byte) ([]byte, error) {
	if m < FirstUserMethod {
		return nil, fmt.Errorf("%w: %d", ErrReservedMethod, m)
	}
	if n := headerBytes + len(req); n > anonymousMaxFrameBytes {
		return nil, fmt.Errorf("%w: anonymous request of %d bytes, limit %d", ErrFrameTooLarge, n, anonymousMaxFrameBytes)
	}
	if to.ClusterID == "" {
		return nil, fmt.Errorf("rpc: anonymous call to %s: %w", addr, ErrNoCluster)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultAnonymousTimeout)
		defer cancel()
	}
	resp, err := callAnonymous(ctx, addr, to, m, req)
	if err != nil {
		return nil, fmt.Errorf("rpc: anonymous call of method %d at %s: %w", m, addr, err)
	}
	return resp, nil
}

func callAnonymous(ctx context.Context, addr string, to Identity, m Method, req []byte) ([]byte, error) {
	dctx, cancel := context.WithTimeout(ctx, defaultDialTimeout)
	conn, in, err := dialExchange(dctx, addr, hello{version: Version, from: int32(Anonymous), to: int32(to.NodeID), cluster: to.ClusterID})
	cancel()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	switch {
	case in.cluster != to.ClusterID:
		return nil, &RemoteError{Code: CodeWrongCluster, Message: fmt.Sprintf("peer is in cluster %q, we asked for %q", in.cluster, to.ClusterID)}
	case model.NodeID(in.from) != to.NodeID:
		return nil, &RemoteError{Code: CodeWrongNode, Message: fmt.Sprintf("dialed node %d, reached node %d", to.NodeID, in.from)}
	}
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	const corr = 1
	frame := appendHeader(nil, header{method: m, corr: corr, timeoutMillis: timeoutMillis(ctx), payloadLen: len(req)})
	if _, err := conn.Write(append(frame, req...)); err != nil {
		return nil, errors.Join(err, ctx.Err())
	}
	var hb [headerBytes]byte
	h, payload, err := readFrame(conn, &hb, anonymousMaxFrameBytes)
	if err != nil {
		return nil, errors.Join(err, ctx.Err())
	}
	if h.flags&flagResponse == 0 || h.method != m || h.corr != corr {
		return nil, fmt.Errorf("%w: answer is method %d flags %#x corr %d", ErrBadFrame, h.method, h.flags, h.corr)
	}
	if h.flags&flagError != 0 {
		re, err := decodeErrorPayload(payload)
		if err != nil {
			return nil, err
		}
		return nil, re
	}
	return payload, nil
}

// serveAnonymous serves the one request of an anonymous connection
// (after its hello) and returns; the caller closes the connection.
func (t *Transport) serveAnonymous(conn net.Conn) error {
	_ = conn.SetDeadline(time.Now().Add(t.cfg.DialTimeout)) // the request follows the hello at once
	var hb [headerBytes]byte
	if _, err := io.ReadFull(conn, hb[:]); err != nil {
		return err
	}
	h, err := parseHeader(&hb, anonymousMaxFrameBytes)
	if errors.Is(err, ErrFrameTooLarge) {
		h := header{method: Method(binary.BigEndian.Uint16(hb[4:6])), corr: binary.BigEndian.Uint64(hb[8:16])}
		return t.refuseAnonymous(conn, h, CodeTooLarge, fmt.Errorf("anonymous request of %d bytes, limit %d",
			uint64(binary.BigEndian.Uint32(hb[0:4]))+4, anonymousMaxFrameBytes))
	}
	if err != nil {
		return err
	}
	if h.flags != 0 {
		return fmt.Errorf("%w: anonymous frame with flags %#x, not a request", ErrBadFrame, h.flags)
	}
	payload := make([]byte, h.payloadLen)
	if _, err := io.ReadFull(conn, payload); err != nil {
		return err
	}
	t.mu.Lock()
	handler, allowed := t.handlers[h.method], t.anonymous[h.method]
	t.mu.Unlock()
	if !allowed || handler == nil {
		return t.refuseAnonymous(conn, h, CodeAnonymous,
			fmt.Errorf("method %d is not served to a caller without a node id", h.method))
	}
	ctx, cancel := context.WithTimeout(context.Background(), anonymousMaxTimeout)
	defer cancel()
	if h.timeoutMillis > 0 {
		ctx, cancel = context.WithTimeout(ctx, time.Duration(h.timeoutMillis)*time.Millisecond)
		defer cancel()
	}
	done := make(chan struct{})
	defer close(done)
	go func() { // the transport's Close ends the handler's context
		select {
		case <-t.done:
			cancel()
		case <-done:
		}
	}()
	_ = conn.SetDeadline(time.Time{})
	resp, err := handler(ctx, Anonymous, payload)
	if err == nil && headerBytes+len(resp) > anonymousMaxFrameBytes {
		err = &RemoteError{Code: CodeTooLarge, Message: fmt.Sprintf("anonymous response of %d bytes, limit %d", headerBytes+len(resp), anonymousMaxFrameBytes)}
	}
	out := header{method: h.method, flags: flagResponse, corr: h.corr}
	if err != nil {
		code, msg := handlerErrorCode(ctx, err)
		out.flags |= flagError
		resp = appendErrorPayload(nil, code, msg)
	}
	_ = conn.SetDeadline(time.Now().Add(t.cfg.DialTimeout))
	out.payloadLen = len(resp)
	_, err = conn.Write(append(appendHeader(nil, out), resp...))
	return err
}

// refuseAnonymous answers an anonymous request with an error frame.
func (t *Transport) refuseAnonymous(conn net.Conn, h header, code Code, err error) error {
	p := appendErrorPayload(nil, code, err.Error())
	_, werr := conn.Write(append(appendHeader(nil, header{method: h.method, flags: flagResponse | flagError, corr: h.corr, payloadLen: len(p)}), p...))
	return errors.Join(err, werr)
}

// handlerErrorCode is the code and message an error response carries for
// a handler's error: a *RemoteError's own, CodeDeadline when the handler
// ran out of its context's deadline, else CodeHandler with the text.
func handlerErrorCode(ctx context.Context, err error) (Code, string) {
	if re, ok := errors.AsType[*RemoteError](err); ok {
		return re.Code, re.Message
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return CodeDeadline, err.Error()
	}
	return CodeHandler, err.Error()
}
