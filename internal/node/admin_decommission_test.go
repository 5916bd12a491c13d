package node

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
)

// TestAdminDecommission drives the decommission endpoints of a one-node
// cluster with a second, registered but absent broker 5 (no replicas ever
// move: the plans here either have nothing to move or are refused).
func TestAdminDecommission(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := startAdminTestNode(ctx, t, nil)
	mux := http.NewServeMux()
	n.registerDecommission(mux)
	do := func(method, path string, wantCode int) DecommissionProgress {
		t.Helper()
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(method, path, nil).WithContext(ctx))
		if rec.Code != wantCode {
			t.Fatalf("%s %s: %d %s, want %d", method, path, rec.Code, rec.Body, wantCode)
		}
		var p DecommissionProgress
		if wantCode == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		} else if !strings.Contains(rec.Body.String(), `"message"`) {
			t.Fatalf("%s %s: error body %s", method, path, rec.Body)
		}
		return p
	}
	if _, err := n.ctrl.propose(ctx, &cluster.RegisterBroker{NodeID: 5, KafkaAddr: "b5:9092", RPCAddr: "b5:33145"}); err != nil {
		t.Fatal(err)
	}
	// A topic with its one replica here.
	cmd := &cluster.CreateTopic{Name: "d", ID: model.TopicID{15: 9}, Partitions: 1, ReplicationFactor: 1,
		Assignment: [][]model.NodeID{{n.cfg.NodeID}}}
	if _, err := n.ctrl.propose(ctx, cmd); err != nil {
		t.Fatal(err)
	}

	do("GET", "/v1/brokers/7/decommission", http.StatusNotFound)
	do("PUT", "/v1/brokers/7/decommission", http.StatusNotFound)
	do("PUT", "/v1/brokers/7/recommission", http.StatusNotFound)
	do("GET", "/v1/brokers/x/decommission", http.StatusBadRequest)

	// Broker 5 holds nothing: draining it finishes at once.
	if p := do("PUT", "/v1/brokers/5/decommission", http.StatusOK); !p.Draining || !p.Finished || p.PartitionsRemaining != 0 {
		t.Fatalf("decommission 5: %+v", p)
	}
	if p := do("GET", "/v1/brokers/5/decommission", http.StatusOK); !p.Draining || !p.Finished {
		t.Fatalf("status 5: %+v", p)
	}
	// This node's replica has nowhere to go (5 is draining): refused,
	// nothing changed.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("PUT", "/v1/brokers/0/decommission", nil).WithContext(ctx))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "no other registered broker") {
		t.Fatalf("decommission 0: %d %s", rec.Code, rec.Body)
	}
	p := do("GET", "/v1/brokers/0/decommission", http.StatusOK)
	if p.Draining || p.Finished || p.PartitionsRemaining < 1 || len(p.Partitions) != p.PartitionsRemaining || p.MovesInProgress != 0 {
		t.Fatalf("status 0 after the refusal: %+v", p)
	}
	if p := do("PUT", "/v1/brokers/5/recommission", http.StatusOK); p.Draining || p.Finished {
		t.Fatalf("recommission 5: %+v", p)
	}
	if b, _ := n.Tables().Broker(5); b.Draining {
		t.Fatal("broker 5 still draining in the tables")
	}
}
