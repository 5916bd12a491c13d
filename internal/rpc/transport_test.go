package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

func TestCallRoundTrip(t *testing.T) {
	a, b := newNode(t, 1), newNode(t, 2)
	link(t, a, b)
	for _, n := range []int{0, 1, 100, 70 << 10} {
		p := bytes.Repeat([]byte{byte(n)}, n)
		echo(t, a, 2, p)
	}
	ctx := ctxTimeout(t, 10*time.Second)
	c := newNode(t, 3)
	link(t, a, c)
	if _, err := a.Call(ctx, 3, FirstUserMethod+99, nil); !errors.Is(err, ErrUnknownMethod) {
		t.Fatalf("unknown method: %v", err)
	}
	_, err := a.Call(ctx, 3, methodFail, nil)
	if !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "handler says no") {
		t.Fatalf("handler error: %v", err)
	}
	_, err = a.Call(ctx, 3, methodFail, []byte("custom"))
	var re *RemoteError
	if !errors.As(err, &re) || re.Code != FirstUserCode+1 || re.Message != "custom" {
		t.Fatalf("custom remote error: %v", err)
	}
	if _, err := a.Call(ctx, 9, methodEcho, nil); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("unknown peer: %v", err)
	}
	if _, err := a.Call(ctx, 3, methodRaft, nil); !errors.Is(err, ErrReservedMethod) {
		t.Fatalf("reserved method: %v", err)
	}
	if err := a.Handle(MethodPing, nil); !errors.Is(err, ErrReservedMethod) {
		t.Fatalf("Handle reserved: %v", err)
	}
	if _, err := a.Call(ctx, 3, MethodPing, nil); err != nil {
		t.Fatalf("ping: %v", err)
	}

	// One-way messages arrive; the handler sees who sent them.
	for i := range 10 {
		must(t, a.Send(3, methodCount, []byte{byte(i)}))
	}
	for i := range 10 {
		got := recvWithin(t, c.counted, 10*time.Second, "one-way message")
		if len(got) != 1 {
			t.Fatalf("one-way %d: %v", i, got)
		}
	}
	// 4 calls and 10 sends (the writer counts a batch once it is flushed).
	eventually(t, 10*time.Second, "stats count every frame", func() bool {
		ps := peerStats(a.Transport, 3)
		return ps.FramesSent == 14 && ps.BytesSent > 14*headerBytes && ps.FramesReceived == 4 &&
			ps.Connects == 2 && ps.Addr == c.Addr()
	})
}

func TestHandlerSeesSender(t *testing.T) {
	cfg := testConfig(2)
	tr, err := New(cfg)
	must(t, err)
	t.Cleanup(func() { _ = tr.Close() })
	froms := make(chan model.NodeID, 1)
	must(t, tr.Handle(methodEcho, func(_ context.Context, from model.NodeID, req []byte) ([]byte, error) {
		froms <- from
		return req, nil
	}))
	tr.Start()
	if err := tr.Handle(methodCount, nil); err == nil {
		t.Fatal("Handle after Start accepted")
	}
	a := newNode(t, 7)
	must(t, a.SetPeer(2, tr.Addr()))
	echo(t, a, 2, []byte("x"))
	if got := recvWithin(t, froms, time.Second, "sender"); got != 7 {
		t.Fatalf("handler saw node %d, want 7", got)
	}
}

func TestConcurrentCalls(t *testing.T) {
	a, b := newNode(t, 1), newNode(t, 2)
	link(t, a, b)
	link(t, b, a)
	const workers, calls = 8, 150
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for _, pair := range [][2]*testNode{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		for w := range workers {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				for i := range calls {
					p := fmt.Appendf(nil, "%d-%d-%d", from.id, w, i)
					p = append(p, bytes.Repeat([]byte{'x'}, (w*calls+i)%3000)...)
					got, err := from.Call(ctx, to.id, methodEcho, p)
					if err == nil && !bytes.Equal(got, p) {
						err = fmt.Errorf("call %d/%d: response of another call", w, i)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if ps := peerStats(a.Transport, 2); ps.Connected != 2 {
		t.Fatalf("want the 2-connection pool in use, stats %+v", ps)
	}
}

func TestDeadline(t *testing.T) {
	a, b := newNode(t, 1), newNode(t, 2)
	link(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := a.Call(ctx, 2, methodBlock, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("deadline of 150ms took %v", d)
	}
	// The deadline travelled with the request: the handler's ctx ended too.
	if err := recvWithin(t, b.ctxErr, 5*time.Second, "handler ctx end"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("handler ctx: %v", err)
	}
	echo(t, a, 2, []byte("still fine"))
}

func TestOutOfOrderResponses(t *testing.T) {
	a, b := newNode(t, 1), newNode(t, 2)
	cfg := testConfig(3)
	cfg.ConnsPerPeer = 1 // both calls on one connection
	c := startNode(t, cfg)
	_ = a
	link(t, c, b)
	slow := make(chan error, 1)
	go func() {
		_, err := c.Call(ctxTimeout(t, 20*time.Second), 2, methodBlock, []byte("slow"))
		slow <- err
	}()
	recvWithin(t, b.entered, 10*time.Second, "slow handler start")
	// The slow call holds its place; a later call on the same connection answers first.
	for range 5 {
		echo(t, c, 2, []byte("fast"))
	}
	select {
	case err := <-slow:
		t.Fatalf("slow call returned before release: %v", err)
	default:
	}
	close(b.gate)
	if err := recvWithin(t, slow, 10*time.Second, "slow response"); err != nil {
		t.Fatal(err)
	}
}

func TestFrameLimit(t *testing.T) {
	const limit = 256 << 10
	ca, cb := testConfig(1), testConfig(2)
	ca.MaxFrameBytes, cb.MaxFrameBytes = limit, limit
	a, b := startNode(t, ca), startNode(t, cb)
	link(t, a, b)
	max := limit - headerBytes
	echo(t, a, 2, bytes.Repeat([]byte{7}, max))
	start := time.Now()
	_, err := a.Call(ctxTimeout(t, 10*time.Second), 2, methodEcho, make([]byte, max+1))
	if !errors.Is(err, ErrFrameTooLarge) || time.Since(start) > time.Second {
		t.Fatalf("over the limit: %v after %v", err, time.Since(start))
	}
	if err := a.Send(2, methodCount, make([]byte, max+1)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("send over the limit: %v", err)
	}
	if peerStats(a.Transport, 2).FramesSent > 3 {
		// nothing oversized went out (1 echo, no more than a ping or two)
		t.Fatalf("oversized frames were sent: %+v", peerStats(a.Transport, 2))
	}

	// A receiver with a smaller limit refuses the frame before allocating
	// it and drops the connection; the call fails instead of hanging.
	cc := testConfig(3)
	cc.MaxFrameBytes = 64 << 10
	c := startNode(t, cc)
	link(t, a, c)
	echo(t, a, 3, make([]byte, 1000))
	_, err = a.Call(ctxTimeout(t, 10*time.Second), 3, methodEcho, make([]byte, 100<<10))
	if !errors.Is(err, ErrConnLost) {
		t.Fatalf("frame over the receiver's limit: %v", err)
	}
	eventually(t, 10*time.Second, "calls succeed again", func() bool {
		_, err := a.Call(ctxTimeout(t, 10*time.Second), 3, methodEcho, []byte("ok"))
		return err == nil
	})
}
