package cluster

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/petrel-streaming/petrel/internal/failpoint"
)

// TestScanLogInjectedCrash: the runtime's report of an injected crash is
// no finding; a real panic next to it still is.
func TestScanLogInjectedCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "petrel.log")
	log := strings.Join([]string{
		"=== chaos: start 1 of node 0 ===",
		"panic: " + failpoint.Crash{Name: "raft/before-hardstate"}.Error(),
		"",
		"goroutine 12 [running]:",
		"=== chaos: start 2 of node 0 ===",
		"panic: runtime error: invalid memory address or nil pointer dereference",
	}, "\n")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	probs := ScanLog(0, path, 10)
	if len(probs) != 1 || !strings.Contains(probs[0].Text, "nil pointer") {
		t.Fatalf("problems %v", probs)
	}
}

// TestExpectExitStopped: no process, nothing to mark.
func TestExpectExitStopped(t *testing.T) {
	c, err := New(Config{Binary: "/bin/true", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Node(0).ExpectExit(true); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("ExpectExit on a stopped node: %v", err)
	}
}
