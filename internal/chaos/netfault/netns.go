package netfault

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// envMarker tells a re-executed test binary that it runs inside the
// namespace Enter made for it. Not PETREL_-prefixed: the chaos cluster
// strips those from the brokers' environment, this one is harmless.
const envMarker = "NETFAULT_IN_NETNS"

// Address plan inside the namespace (CHAOS.md §2.1): node i listens on
// 127.0.0.(11+i) and its sockets belong to group 60011+i; processes that
// map to no source (the test itself, its clients) leave from 127.0.0.1,
// the kernel's choice for loopback, which no node owns.
const (
	nodeAddrBase = 11
	nodeGIDBase  = 60011
	// ClientAddr is where the test process's own connections come from.
	ClientAddr = "127.0.0.1"
)

// NodeHost is node i's address: 127.0.0.(11+i).
func NodeHost(i int) string { return fmt.Sprintf("127.0.0.%d", nodeAddrBase+i) }

// NodeGID is node i's group id: its sockets are mapped to NodeHost(i).
func NodeGID(i int) uint32 { return uint32(nodeGIDBase + i) }

// NodeSources maps the group of each of n nodes to its host.
func NodeSources(n int) []Source {
	out := make([]Source, n)
	for i := range out {
		out[i] = Source{GID: NodeGID(i), Addr: NodeHost(i)}
	}
	return out
}

// Unavailable says why Enter cannot make a namespace here ("" when it
// can): not root, or unshare, ip or nft missing.
func Unavailable() string {
	if os.Geteuid() != 0 {
		return "not root (network namespaces and nftables need CAP_NET_ADMIN)"
	}
	for _, tool := range []string{"unshare", "ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not in PATH (apt-get install util-linux iproute2 nftables)"
		}
	}
	return ""
}

// InNamespace reports whether this process is a test binary re-executed
// by Enter.
func InNamespace() bool { return os.Getenv(envMarker) == "1" }

// Enter runs the calling test inside a private network namespace. Called
// first in a test:
//
//	func TestSplit(t *testing.T) {
//		if !netfault.Enter(t) {
//			return // the test ran in the namespace; its output is logged here
//		}
//		// inside: lo is up, 127.0.0.0/8 is ours, nft rules touch only us
//	}
//
// Outside, Enter re-executes the test binary under `unshare --net` with
// only this test selected (-test.run, -test.short as given, -test.v, the
// remaining deadline), logs the child's output line by line, fails the
// test if the child failed, skips it if the child skipped, and returns
// false. It skips with the reason when namespaces are unavailable.
// Inside, it brings lo up and returns true. The namespace dies with the
// child: nothing is left behind on the host, whose rules are never read
// or written.
func Enter(t *testing.T) bool {
	t.Helper()
	if InNamespace() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			t.Fatalf("netfault: ip link set lo up: %v: %s", err, out)
		}
		return true
	}
	if why := Unavailable(); why != "" {
		t.Skip("netfault: no network namespace: " + why)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("netfault: %v", err)
	}
	args := []string{"--net", "--", self, "-test.run", RunPattern(t.Name()), "-test.v", "-test.count=1"}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		// The child times out first, so its panic (with stacks) is logged.
		left := time.Until(d)
		args = append(args, "-test.timeout", (left - left/10).String())
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Env = append(os.Environ(), envMarker+"=1")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatalf("netfault: %v", err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		t.Skipf("netfault: no network namespace: unshare --net: %v", err)
	}
	pw.Close()
	skipped, lines := "", 0
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	skipLine := "--- SKIP: " + t.Name()
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, skipLine) {
			skipped = "skipped inside the namespace"
		}
		if lines < maxLoggedLines {
			t.Log("netns| " + line)
		} else if lines == maxLoggedLines {
			t.Logf("netns| … further output not logged (%d lines at most)", maxLoggedLines)
		}
		lines++
	}
	pr.Close()
	err = cmd.Wait()
	switch {
	case err != nil:
		t.Fatalf("netfault: the test failed inside its network namespace: %v", err)
	case skipped != "":
		t.Skip("netfault: " + skipped + " (see its output above)")
	}
	return false
}

// maxLoggedLines bounds what Enter logs of the child's output.
const maxLoggedLines = 20000

// RunPattern is the -test.run pattern that selects exactly the test (or
// subtest) name.
func RunPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}
