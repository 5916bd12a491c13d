package petrel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/petrel-streaming/petrel"
)

// autoStart starts node i of c without a node id (it settles one
// itself), logging to log.
func (c *testCluster) autoStart(ctx context.Context, i int, log *slog.Logger) (*petrel.Broker, error) {
	c.tune = func(cfg *petrel.Config) { cfg.NodeID, cfg.Logger = -1, log }
	return c.startCtx(ctx, i)
}

// startAutoCluster is startCluster with founders that have no node ids.
func startAutoCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	return startClusterWith(t, n, func(cfg *petrel.Config) { cfg.NodeID = -1 })
}

// brokerIDs maps each broker's Kafka address to its node id, as Metadata
// lists them.
func brokerIDs(ctx context.Context, t *testing.T, c *testCluster) map[string]int32 {
	t.Helper()
	md, err := kadm.NewClient(c.client()).Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int32{}
	for _, b := range md.Brokers {
		out[fmt.Sprintf("%s:%d", b.Host, b.Port)] = b.NodeID
	}
	return out
}

// nodeConfigID is the node id a broker's admin API reports.
func nodeConfigID(ctx context.Context, t *testing.T, b *petrel.Broker) int {
	t.Helper()
	var nc struct {
		NodeID int `json:"node_id"`
	}
	if err := getJSON(ctx, "http://"+b.AdminAddr()+"/v1/node_config", &nc); err != nil {
		t.Fatal(err)
	}
	return nc.NodeID
}

// metaNodeID reads the node id recorded in a data dir's node.json.
func metaNodeID(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "node.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		NodeID int `json:"node_id"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.NodeID
}

// syncBuffer is a log sink for one node.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestClusterAutoID: founders started without node ids take their
// positions in the seed list; a node joining without one is given the
// next id by the cluster, records it, and keeps it across a restart.
func TestClusterAutoID(t *testing.T) {
	c := startAutoCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ids := brokerIDs(ctx, t, c)
	for i := range 3 {
		if id, ok := ids[c.kafka[i]]; !ok || id != int32(i) {
			t.Fatalf("founder %d (seed %s): metadata gives id %d (listed %v), want %d: %v", i, c.rpc[i], id, ok, i, ids)
		}
		if got := metaNodeID(t, c.dirs[i]); got != i {
			t.Fatalf("founder %d: node.json has node id %d", i, got)
		}
	}

	// A fourth node, not among the seeds and without an id, joins.
	j := len(c.brokers)
	c.dirs = append(c.dirs, filepath.Join(filepath.Dir(c.dirs[0]), "node"+strconv.Itoa(j)))
	c.rpc = append(c.rpc, freeAddr(t))
	c.kafka = append(c.kafka, freeAddr(t))
	c.brokers = append(c.brokers, nil)
	c.seeds = c.rpc[:3]
	var logs syncBuffer
	b, err := c.autoStart(ctx, j, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("joining without a node id: %v", err)
	}
	c.brokers[j] = b
	if !strings.Contains(logs.String(), `"msg":"node id assigned","node_id":3`) {
		t.Fatalf("no 'node id assigned' log with node id 3 in:\n%s", logs.String())
	}
	if got := nodeConfigID(ctx, t, b); got != 3 {
		t.Fatalf("joined node reports node id %d, want 3", got)
	}
	if got := metaNodeID(t, c.dirs[j]); got != 3 {
		t.Fatalf("joined node's node.json has node id %d, want 3", got)
	}
	ids = brokerIDs(ctx, t, c)
	if len(ids) != 4 || ids[c.kafka[j]] != 3 {
		t.Fatalf("metadata after the join: %v, want 4 brokers with %s as node 3", ids, c.kafka[j])
	}

	// Restarted on its data dir, still without an id, it is node 3 again.
	c.stop(j)
	var relogs syncBuffer
	if c.brokers[j], err = c.autoStart(ctx, j, slog.New(slog.NewJSONHandler(&relogs, nil))); err != nil {
		t.Fatalf("restart without a node id: %v", err)
	}
	if strings.Contains(relogs.String(), "node id assigned") {
		t.Fatal("the restarted node asked for a new node id")
	}
	if got := nodeConfigID(ctx, t, c.brokers[j]); got != 3 {
		t.Fatalf("restarted node reports node id %d, want 3", got)
	}
	if ids = brokerIDs(ctx, t, c); len(ids) != 4 || ids[c.kafka[j]] != 3 {
		t.Fatalf("metadata after the restart: %v, want 4 brokers with %s as node 3", ids, c.kafka[j])
	}

	// A node that crashed right after it was given an id (node.json has
	// the id, no cluster yet) resumes joining with that id: it asks for
	// no other.
	k := len(c.brokers)
	c.dirs = append(c.dirs, filepath.Join(filepath.Dir(c.dirs[0]), "node"+strconv.Itoa(k)))
	c.rpc = append(c.rpc, freeAddr(t))
	c.kafka = append(c.kafka, freeAddr(t))
	c.brokers = append(c.brokers, nil)
	if err := os.MkdirAll(c.dirs[k], 0o755); err != nil {
		t.Fatal(err)
	}
	pending := `{"cluster_id":"","shards":2,"journal_bytes":16777216,"node_id":5,"node_id_assigned":true}`
	if err := os.WriteFile(filepath.Join(c.dirs[k], "node.json"), []byte(pending), 0o644); err != nil {
		t.Fatal(err)
	}
	var pendlogs syncBuffer
	if c.brokers[k], err = c.autoStart(ctx, k, slog.New(slog.NewJSONHandler(&pendlogs, nil))); err != nil {
		t.Fatalf("resuming a join with an assigned id: %v", err)
	}
	if strings.Contains(pendlogs.String(), "node id assigned") {
		t.Fatal("a node with an assigned id asked for a new one")
	}
	if ids = brokerIDs(ctx, t, c); len(ids) != 5 || ids[c.kafka[k]] != 5 {
		t.Fatalf("metadata after the resumed join: %v, want 5 brokers with %s as node 5", ids, c.kafka[k])
	}
}
