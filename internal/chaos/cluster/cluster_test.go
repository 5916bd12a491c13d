package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
)

var broker cluster.TestBinary

// petrelBinary builds ./cmd/petrel once per test binary (with -race when
// the test runs under it).
func petrelBinary(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := broker.Path(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	broker.Remove()
	os.Exit(code)
}

func newCluster(t *testing.T) *cluster.Cluster {
	t.Helper()
	c, err := cluster.New(cluster.Config{Binary: petrelBinary(t), Dir: t.TempDir(), TerminateTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// TestLifecycle: start, pause, resume, kill, restart on the same ports and
// data, terminate cleanly; every exit was expected and the log is clean.
func TestLifecycle(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	n := c.Node(0)
	if n.Pid() == 0 || !n.Running() {
		t.Fatal("no pid after start")
	}
	if err := n.Start(ctx); !errors.Is(err, cluster.ErrRunning) {
		t.Fatalf("second start: %v, want ErrRunning", err)
	}
	if err := n.Pause(); err != nil || !n.Paused() {
		t.Fatalf("pause: %v", err)
	}
	if err := n.Resume(); err != nil || n.Paused() {
		t.Fatalf("resume: %v", err)
	}
	if err := n.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if args := cmdline(t, n.Pid()); slices.Contains(args, "--seeds") {
		t.Fatalf("a one-node cluster started with --seeds: %q", args)
	}
	kafka := n.KafkaAddr
	if err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	if n.Running() {
		t.Fatal("running after kill")
	}
	if err := n.Kill(); !errors.Is(err, cluster.ErrNotRunning) {
		t.Fatalf("kill of a stopped node: %v", err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n.KafkaAddr != kafka {
		t.Fatalf("restart moved the kafka address %s -> %s", kafka, n.KafkaAddr)
	}
	if err := n.Pause(); err != nil { // terminate must resume first
		t.Fatal(err)
	}
	took, err := n.Terminate()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("terminate took %v", took)
	exits := c.Exits()
	if len(exits) != 2 {
		t.Fatalf("exits %+v, want 2", exits)
	}
	for _, e := range exits {
		if !e.Expected {
			t.Errorf("unexpected exit %+v", e)
		}
	}
	if exits[1].Err != "" {
		t.Errorf("terminate exit status %q, want clean", exits[1].Err)
	}
	if p := c.Problems(0); len(p) != 0 {
		t.Fatalf("problems in a clean run: %v", p)
	}
	log, _ := os.ReadFile(n.LogPath)
	if got := strings.Count(string(log), "=== chaos: start"); got != 2 {
		t.Fatalf("log has %d start markers, want 2", got)
	}
}

// TestProblems: an exit the harness did not cause and a panic line in the
// log are both reported.
func TestProblems(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	n := c.Node(0)
	// A crash "on its own": our own child, signalled behind the harness's back.
	if err := syscall.Kill(n.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(c.Exits()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling the exit record, with a deadline
	}
	if err := n.Kill(); !errors.Is(err, cluster.ErrExitedOnItsOwn) {
		t.Fatalf("kill after a crash: %v, want ErrExitedOnItsOwn", err)
	}
	f, err := os.OpenFile(n.LogPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "panic: injected by the test")
	fmt.Fprintln(f, "WARNING: DATA RACE")
	f.Close()
	probs := c.Problems(0)
	var whats []string
	for _, p := range probs {
		whats = append(whats, p.What)
	}
	if got, want := strings.Join(whats, ","), "unexpected exit,panic:,DATA RACE"; got != want {
		t.Fatalf("problems %v, want %s", probs, want)
	}
	if got := c.Problems(1); len(got) != 1 {
		t.Fatalf("Problems(1) gave %d", len(got))
	}
}

// TestTerminateTimeout: a broker that cannot act on SIGTERM in time is a
// G13 failure, and is killed.
func TestTerminateTimeout(t *testing.T) {
	dir := t.TempDir()
	c, err := cluster.New(cluster.Config{Binary: petrelBinary(t), Dir: dir, TerminateTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n := c.Node(0)
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// SIGSTOP behind Terminate's back (it resumes only nodes it paused):
	// the SIGTERM cannot be handled, so the limit fires and the node is killed.
	if err := syscall.Kill(n.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Terminate(); !errors.Is(err, cluster.ErrTerminateTimeout) {
		t.Fatalf("terminate of a stopped process: %v, want ErrTerminateTimeout", err)
	}
	if n.Running() {
		t.Fatal("still running after the terminate timeout")
	}
}
