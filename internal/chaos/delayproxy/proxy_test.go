package delayproxy

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer echoes every connection until EOF, then half-closes.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return ln.Addr().String()
}

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New(Config{Listen: "127.0.0.1:0", Target: target, Seed: 7}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func roundTrip(t *testing.T, c net.Conn, msg []byte) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo mismatch")
	}
	return time.Since(start)
}

func TestDelayOnAndHeal(t *testing.T) {
	p := newProxy(t, echoServer(t))
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if rt := roundTrip(t, c, []byte("warm")); rt > 150*time.Millisecond {
		t.Fatalf("no delay set but round trip took %v", rt)
	}
	const d = 100 * time.Millisecond
	p.SetDelay(d, 20*time.Millisecond)
	// Both directions are delayed: a round trip is at least 2*d.
	if rt := roundTrip(t, c, []byte("slow")); rt < 2*d || rt > 2*d+2*time.Second {
		t.Fatalf("round trip %v with one-way delay %v", rt, d)
	}
	p.SetDelay(0, 0)
	if rt := roundTrip(t, c, []byte("healed")); rt > 150*time.Millisecond {
		t.Fatalf("healed round trip took %v", rt)
	}
}

func TestBytesIntactUnderJitter(t *testing.T) {
	p := newProxy(t, echoServer(t))
	p.SetDelay(2*time.Millisecond, 5*time.Millisecond)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, 1<<20)
	for i := range msg {
		msg[i] = byte(i*31 + i>>8)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c) // ends only if the half-close went through both ways
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("got %d bytes, want %d intact", len(got), len(msg))
	}
}

func TestCloseClosesLiveConnections(t *testing.T) {
	p, err := New(Config{Listen: "127.0.0.1:0", Target: echoServer(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c, []byte("x"))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read succeeded after proxy Close")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection not closed by proxy Close")
	}
	if err := p.Close(); err != ErrClosed {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
}

func TestTargetDownClosesClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close()
	p := newProxy(t, dead)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read succeeded with no target")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("client not closed when target is unreachable")
	}
}
