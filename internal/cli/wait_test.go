package cli_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/petrel-streaming/petrel/internal/cli"
)

// TestPartitionsMoveWait: on the single test broker a move to the same
// broker is done at once, so --wait returns after one poll with its final
// status line. (A move in progress is shown by TestWaitForMoves against a
// stand-in lister: one broker has nowhere to move a replica to.)
func TestPartitionsMoveWait(t *testing.T) {
	s := newSession(t)
	s.ok("topic", "create", "pw-t", "-p", "2")
	s.tty = true
	r := s.ok("cluster", "partitions", "move", "pw-t/0", "pw-t/1", "--replicas", "0", "--wait")
	if r.stderr != "\rmoves: 2 of 2 partitions done, 0 moving\n" || !strings.Contains(r.stdout, "pw-t/1     OK") {
		t.Errorf("move --wait: stderr %q stdout %q", r.stderr, r.stdout)
	}
	// A refused move is not waited for.
	r = s.fail("cluster", "partitions", "move", "pw-t/0", "--replicas", "0,7", "--wait")
	if !errors.Is(r.err, cli.ErrFailed) || r.stderr != "" {
		t.Errorf("refused move --wait: %v, stderr %q", r.err, r.stderr)
	}
}

// TestBrokerDecommissionWait runs decommission --wait against a stand-in
// admin API whose broker 1 sheds a partition per poll, and whose broker 2
// is recommissioned while the command waits.
func TestBrokerDecommissionWait(t *testing.T) {
	var mu sync.Mutex
	left := map[string]int{"1": 3, "2": 3}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/brokers/"), "/decommission")
		n, ok := left[id]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"message":"broker %s not found","code":404}`, id)
			return
		}
		draining := true
		if r.Method == http.MethodGet {
			if n > 0 {
				n--
			}
			left[id] = n
			draining = id == "1" || n > 1 // broker 2 is recommissioned half-way
		}
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`"kafka/t/%d"`, i)
		}
		fmt.Fprintf(w, `{"node_id":%s,"draining":%v,"finished":%v,"partitions_remaining":%d,"partitions":[%s],"moves_in_progress":%d}`,
			id, draining, draining && n == 0, n, strings.Join(parts, ","), n)
	}))
	defer srv.Close()
	s := newSession(t)
	s.connect = false
	s.tty = true
	r := s.ok("broker", "decommission", "1", "--wait", "--admin-url", srv.URL)
	if !strings.HasPrefix(r.stderr, "\rdecommission of broker 1: 2 partitions left, 2 moving") ||
		!strings.HasSuffix(r.stderr, "\rdecommission of broker 1: 0 partitions left, 0 moving\n") {
		t.Errorf("decommission --wait: stderr %q", r.stderr)
	}
	if !strings.Contains(r.stdout, "FINISHED              true") || strings.Contains(r.stdout, "PARTITION ") {
		t.Errorf("decommission --wait: stdout\n%s", r.stdout)
	}
	r = s.fail("broker", "decommission", "2", "--wait", "--admin-url", srv.URL)
	if !errors.Is(r.err, cli.ErrRecommissioned) {
		t.Errorf("recommissioned while waiting: %v", r.err)
	}
	mu.Lock()
	left["1"] = 5
	mu.Unlock()
	r = s.fail("broker", "decommission", "1", "--wait", "--timeout", "700ms", "--admin-url", srv.URL)
	if !errors.Is(r.err, cli.ErrNotFinished) || !strings.Contains(r.err.Error(), "broker 1 still holds") {
		t.Errorf("decommission --wait out of time: %v", r.err)
	}
	// Without --wait: one PUT, no polling, no status line.
	mu.Lock()
	left["1"] = 2
	mu.Unlock()
	r = s.ok("broker", "decommission", "1", "--admin-url", srv.URL)
	if r.stderr != "" || !strings.Contains(r.stdout, "PARTITIONS-REMAINING  2") {
		t.Errorf("decommission: stderr %q stdout\n%s", r.stderr, r.stdout)
	}
}
