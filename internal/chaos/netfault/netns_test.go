package netfault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dialFrom connects from the address from (port 0) to to, within limit.
func dialFrom(from, to string, limit time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: limit, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return d.Dial("tcp", to)
}

// echo serves every connection of ln: it writes back what it reads.
func echo(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}

// roundTrip writes one line on c and waits (≤ limit) for its echo.
func roundTrip(c net.Conn, msg string, limit time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(limit))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return fmt.Errorf("echo %q, sent %q", buf, msg)
	}
	return nil
}

// enter runs the test in its namespace (false: it ran there, or was
// skipped) and opens the Net, with a context bounded to 60 s.
func enter(t *testing.T) (*Net, context.Context, bool) {
	t.Helper()
	if !Enter(t) {
		return nil, nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	n, err := Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	return n, ctx, true
}

// TestCutAndRestore (in its own network namespace): a partition cuts new
// connections and an established one between the two sides, in both
// directions, while a third address still reaches both; Heal restores
// them, the established connection included; every call is idempotent;
// the host's ruleset is never touched.
func TestCutAndRestore(t *testing.T) {
	n, ctx, ok := enter(t)
	if !ok {
		return
	}
	a, b, c := NodeHost(0), NodeHost(1), NodeHost(2)
	lnB, err := net.Listen("tcp", b+":7000")
	if err != nil {
		t.Fatal(err)
	}
	defer lnB.Close()
	go echo(lnB)
	lnA, err := net.Listen("tcp", a+":7000")
	if err != nil {
		t.Fatal(err)
	}
	defer lnA.Close()
	go echo(lnA)

	est, err := dialFrom(a, lnB.Addr().String(), time.Second)
	if err != nil {
		t.Fatalf("before the cut: %v", err)
	}
	defer est.Close()
	if err := roundTrip(est, "before", time.Second); err != nil {
		t.Fatalf("before the cut: %v", err)
	}

	for range 2 { // idempotent: the second call changes nothing
		if err := n.Partition(ctx, []string{a}, []string{b}); err != nil {
			t.Fatal(err)
		}
	}
	const short = 300 * time.Millisecond
	if conn, err := dialFrom(a, lnB.Addr().String(), short); err == nil {
		conn.Close()
		t.Error("a → b connected across the partition")
	}
	if conn, err := dialFrom(b, lnA.Addr().String(), short); err == nil {
		conn.Close()
		t.Error("b → a connected across the partition")
	}
	if err := roundTrip(est, "during", short); err == nil {
		t.Error("the established a → b connection still carries data across the partition")
	}
	for _, to := range []string{lnA.Addr().String(), lnB.Addr().String()} {
		conn, err := dialFrom(c, to, time.Second)
		if err != nil {
			t.Errorf("c → %s, outside the partition: %v", to, err)
			continue
		}
		if err := roundTrip(conn, "bystander", time.Second); err != nil {
			t.Errorf("c → %s: %v", to, err)
		}
		conn.Close()
	}

	for range 2 {
		if err := n.Heal(ctx); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := dialFrom(a, lnB.Addr().String(), time.Second)
	if err != nil {
		t.Fatalf("a → b after heal: %v", err)
	}
	conn.Close()
	// The established connection recovers once TCP retransmits (its
	// timer backs off while cut: allow 15 s): first the echo of "during",
	// sent while cut.
	_ = est.SetReadDeadline(time.Now().Add(15 * time.Second))
	buf := make([]byte, len("during"))
	if _, err := io.ReadFull(est, buf); err != nil || string(buf) != "during" {
		t.Fatalf("the established connection after heal: read %q, %v", buf, err)
	}
	if err := roundTrip(est, "after", 5*time.Second); err != nil {
		t.Fatalf("the established connection after heal: %v", err)
	}
	rs, err := n.Ruleset(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rs, FaultTable+" ") {
		t.Errorf("fault table still present after Heal:\n%s", rs)
	}
}

// TestOneWayAndLoss (in its own network namespace): Cut drops one
// direction only (a datagram b → a still arrives while a → b is lost);
// Loss drops some but not all connection attempts.
func TestOneWayAndLoss(t *testing.T) {
	n, ctx, ok := enter(t)
	if !ok {
		return
	}
	a, b := NodeHost(0), NodeHost(1)
	if err := n.Apply(ctx, new(Rules).Cut(a, b)); err != nil {
		t.Fatal(err)
	}
	if !udpArrives(t, b, a) {
		t.Error("b → a lost under a one-way cut a → b")
	}
	if udpArrives(t, a, b) {
		t.Error("a → b arrived under a one-way cut a → b")
	}

	ln, err := net.Listen("tcp", b+":7001")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go echo(ln)
	if err := n.Loss(ctx, a, b, 50); err != nil { // replaces the cut
		t.Fatal(err)
	}
	const tries = 60
	connected := 0
	for range tries {
		// A connect needs the SYN and the SYN-ACK: about 1/4 succeed.
		if conn, err := dialFrom(a, ln.Addr().String(), 50*time.Millisecond); err == nil {
			connected++
			conn.Close()
		}
	}
	t.Logf("50 %% loss each way: %d of %d connects within 50 ms", connected, tries)
	if connected == 0 || connected == tries {
		t.Errorf("50 %% loss: %d of %d connects succeeded, want some but not all", connected, tries)
	}
	if err := n.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		conn, err := dialFrom(a, ln.Addr().String(), time.Second)
		if err != nil {
			t.Fatalf("connect %d after heal: %v", i, err)
		}
		conn.Close()
	}
}

// udpArrives sends one datagram from → to and reports whether it arrived
// within 300 ms.
func udpArrives(t *testing.T, from, to string) bool {
	t.Helper()
	pc, err := net.ListenPacket("udp", to+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(from)}, pc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		return false // EPERM: dropped by the output hook
	}
	_ = pc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, _, err = pc.ReadFrom(make([]byte, 8))
	return err == nil
}

// TestSources (in its own network namespace): a process of a mapped group
// connects from its address, not from 127.0.0.1, and a partition then
// cuts it by that address; the test process itself stays 127.0.0.1.
func TestSources(t *testing.T) {
	n, ctx, ok := enter(t)
	if !ok {
		return
	}
	if err := n.Sources(ctx, NodeSources(2)); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", NodeHost(1)+":7002")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peers := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			peers <- c.RemoteAddr().(*net.TCPAddr).IP.String()
			c.Close()
		}
	}()
	if err := helperDial(ln.Addr().String(), 0); err != nil {
		t.Fatalf("dial as group 0: %v", err)
	}
	if got := <-peers; got != ClientAddr {
		t.Errorf("the test process connected from %s, want %s", got, ClientAddr)
	}
	if err := helperDial(ln.Addr().String(), NodeGID(0)); err != nil {
		t.Fatalf("dial as node 0's group: %v", err)
	}
	if got := <-peers; got != NodeHost(0) {
		t.Errorf("node 0's group connected from %s, want %s", got, NodeHost(0))
	}
	if err := n.Isolate(ctx, NodeHost(0), NodeHost(1)); err != nil {
		t.Fatal(err)
	}
	if err := helperDial(ln.Addr().String(), NodeGID(0)); err == nil {
		t.Error("node 0's group connected to node 1 while isolated from it")
	}
	if err := helperDial(ln.Addr().String(), 0); err != nil {
		t.Errorf("the test process (a client) cut by a node partition: %v", err)
	}
}

// helperDial runs this test binary as TestHelperDial with group gid (0:
// unchanged) to connect to addr.
func helperDial(addr string, gid uint32) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "-test.run", "^TestHelperDial$")
	cmd.Env = append(os.Environ(), "NETFAULT_HELPER_DIAL="+addr)
	if gid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(os.Getuid()), Gid: gid}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	if !strings.Contains(string(out), "connected") {
		return errors.New("helper did not connect: " + string(out))
	}
	return nil
}

// TestHelperDial is not a test: helperDial runs it in a child process.
func TestHelperDial(t *testing.T) {
	addr := os.Getenv("NETFAULT_HELPER_DIAL")
	if addr == "" {
		t.Skip("helper process for TestSources")
	}
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	fmt.Println("connected")
}
