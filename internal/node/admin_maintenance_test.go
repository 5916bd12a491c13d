package node

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
)

// TestAdminMaintenance drives the maintenance endpoints of a one-node
// cluster with a second, registered but absent broker 5: the flag, the
// one-broker-at-a-time rule, the leaderships counted, and a preferred
// election refused while the preferred replica's broker is in
// maintenance.
func TestAdminMaintenance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := startAdminTestNode(ctx, t, nil)
	mux := http.NewServeMux()
	n.registerMaintenance(mux)
	call := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(method, path, nil).WithContext(ctx))
		return rec
	}
	do := func(method, path string, wantCode int) MaintenanceStatus {
		t.Helper()
		rec := call(method, path)
		if rec.Code != wantCode {
			t.Fatalf("%s %s: %d %s, want %d", method, path, rec.Code, rec.Body, wantCode)
		}
		var st MaintenanceStatus
		if wantCode == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		} else if !strings.Contains(rec.Body.String(), `"message"`) {
			t.Fatalf("%s %s: error body %s", method, path, rec.Body)
		}
		return st
	}

	// Alone, this node cannot enter maintenance.
	rec := call("PUT", "/v1/brokers/0/maintenance")
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "only registered broker") {
		t.Fatalf("enable the only broker: %d %s", rec.Code, rec.Body)
	}
	if _, err := n.ctrl.propose(ctx, &cluster.RegisterBroker{NodeID: 5, KafkaAddr: "b5:9092", RPCAddr: "b5:33145"}); err != nil {
		t.Fatal(err)
	}
	key := model.PartitionKey{Topic: model.TopicID{15: 7}}
	cmd := &cluster.CreateTopic{Name: "m", ID: key.Topic, Partitions: 1, ReplicationFactor: 1,
		Assignment: [][]model.NodeID{{n.cfg.NodeID}}}
	if _, err := n.ctrl.propose(ctx, cmd); err != nil {
		t.Fatal(err)
	}

	do("GET", "/v1/brokers/7/maintenance", http.StatusNotFound)
	do("PUT", "/v1/brokers/7/maintenance", http.StatusNotFound)
	do("DELETE", "/v1/brokers/7/maintenance", http.StatusNotFound)
	do("GET", "/v1/brokers/x/maintenance", http.StatusBadRequest)
	if st := do("GET", "/v1/brokers/5/maintenance", http.StatusOK); st.Enabled || st.Finished || st.NodeID != 5 {
		t.Fatalf("status 5 before: %+v", st)
	}

	// Broker 5 leads nothing: its maintenance is finished at once.
	if st := do("PUT", "/v1/brokers/5/maintenance", http.StatusOK); !st.Enabled || !st.Finished || st.PartitionsLed != 0 {
		t.Fatalf("enable 5: %+v", st)
	}
	do("PUT", "/v1/brokers/5/maintenance", http.StatusOK) // again: no change
	rec = call("PUT", "/v1/brokers/0/maintenance")
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "broker 5 is in maintenance already") {
		t.Fatalf("a second broker: %d %s", rec.Code, rec.Body)
	}
	if st := do("DELETE", "/v1/brokers/5/maintenance", http.StatusOK); st.Enabled || st.Finished {
		t.Fatalf("disable 5: %+v", st)
	}

	// This node leads its partitions (a one-node cluster runs no
	// maintenance loop, so it keeps it): counted, not finished, and a
	// preferred election to it is refused.
	waitLeader(t, ctx, n, key)
	st := do("PUT", "/v1/brokers/0/maintenance", http.StatusOK)
	if !st.Enabled || st.Finished || st.PartitionsLed < 1 || st.PartitionsUnknown != 0 {
		t.Fatalf("enable 0: %+v", st)
	}
	if errs := n.ElectPreferred(ctx, []model.PartitionKey{key}); !errors.Is(errs[0], partition.ErrPreferredUnavailable) ||
		!strings.Contains(errs[0].Error(), "maintenance") {
		t.Fatalf("elect while in maintenance: %v", errs[0])
	}
	if b, _ := n.Tables().Broker(0); !b.Maintenance {
		t.Fatal("broker 0 not in maintenance in the tables")
	}
	do("DELETE", "/v1/brokers/0/maintenance", http.StatusOK)
	if errs := n.ElectPreferred(ctx, []model.PartitionKey{key}); !errors.Is(errs[0], partition.ErrElectionNotNeeded) {
		t.Fatalf("elect after maintenance: %v", errs[0])
	}
}

// waitLeader waits until this node leads the partition.
func waitLeader(t *testing.T, ctx context.Context, n *Node, key model.PartitionKey) {
	t.Helper()
	for {
		if rs := n.ReadState(key); rs != nil && rs.Leader {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("the partition has no leader")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
