package node

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
)

// Maintenance mode through the admin API (Redpanda's paths):
//
//	PUT    /v1/brokers/{id}/maintenance   enable  (MaintenanceStatus after)
//	DELETE /v1/brokers/{id}/maintenance   disable (MaintenanceStatus after)
//	GET    /v1/brokers/{id}/maintenance   MaintenanceStatus
//
// The controller records the flag (cluster.SetBrokerMaintenance); the
// broker's node hands its leaderships away and no node gives it any
// (leaders.go). Errors: 404 for an unregistered broker, 400 when the
// controller refuses (another broker is in maintenance, or this is the
// only broker), with its reason.

// MaintenanceStatus is a broker's maintenance mode as the admin API
// serves it.
//
// Leaderships are what this node knows, as its Metadata answers would
// say: the leader of every partition it hosts (its replica follows the
// group). A partition with a replica on the broker whose leader this node
// does not know (not hosted here, or leaderless now) counts in
// PartitionsUnknown, and Finished waits for it to be 0: ask the broker
// itself (every partition it could lead is hosted on it), or any node
// that hosts all of its partitions (with as many replicas as brokers,
// every node), for an exact answer.
type MaintenanceStatus struct {
	NodeID  int32 `json:"node_id"`
	Enabled bool  `json:"enabled"`
	// Finished: enabled, no partition led by the broker and none whose
	// leader is unknown here.
	Finished bool `json:"finished"`
	// PartitionsLed counts the partitions the broker leads, as far as
	// this node knows.
	PartitionsLed int `json:"partitions_led"`
	// PartitionsUnknown counts the partitions with a replica on the
	// broker whose leader this node does not know.
	PartitionsUnknown int `json:"partitions_unknown"`
	// Draining: the broker is being decommissioned.
	Draining bool `json:"draining"`
}

// SetMaintenance enables or disables broker id's maintenance mode and
// returns its status after. Errors wrap cluster.ErrMaintenanceRefused
// (another broker is in maintenance, or id is the only broker) or
// errNotFound. Any goroutine.
func (n *Node) SetMaintenance(ctx context.Context, id model.NodeID, enabled bool) (MaintenanceStatus, error) {
	if _, err := n.ctrl.propose(ctx, &cluster.SetBrokerMaintenance{NodeID: id, Enabled: enabled}); err != nil {
		return MaintenanceStatus{}, adminErr(err)
	}
	return n.MaintenanceSnapshot(id)
}

// MaintenanceSnapshot is broker id's maintenance status, or errNotFound.
// Any goroutine.
func (n *Node) MaintenanceSnapshot(id model.NodeID) (MaintenanceStatus, error) {
	t := n.Tables()
	b, ok := t.Broker(id)
	if !ok {
		return MaintenanceStatus{}, errNotFound
	}
	st := MaintenanceStatus{NodeID: int32(id), Enabled: b.Maintenance, Draining: b.Draining}
	for _, tp := range t.Topics() {
		for _, p := range tp.Partitions {
			if !slices.Contains(p.Replicas, id) && !slices.Contains(p.Target, id) {
				continue
			}
			switch l := n.Leadership(model.PartitionKey{Topic: tp.ID, Partition: p.ID}); {
			case l.Leader == id:
				st.PartitionsLed++
			case l.Leader < 0:
				st.PartitionsUnknown++
			}
		}
	}
	st.Finished = st.Enabled && st.PartitionsLed == 0 && st.PartitionsUnknown == 0
	return st, nil
}

// registerMaintenance adds the maintenance endpoints to the admin API.
func (n *Node) registerMaintenance(mux *http.ServeMux) {
	mux.HandleFunc("PUT /v1/brokers/{id}/maintenance", brokerEndpoint(cluster.ErrMaintenanceRefused,
		func(ctx context.Context, id model.NodeID) (MaintenanceStatus, error) {
			return n.SetMaintenance(ctx, id, true)
		}))
	mux.HandleFunc("DELETE /v1/brokers/{id}/maintenance", brokerEndpoint(cluster.ErrMaintenanceRefused,
		func(ctx context.Context, id model.NodeID) (MaintenanceStatus, error) {
			return n.SetMaintenance(ctx, id, false)
		}))
	mux.HandleFunc("GET /v1/brokers/{id}/maintenance", brokerEndpoint(nil,
		func(_ context.Context, id model.NodeID) (MaintenanceStatus, error) { return n.MaintenanceSnapshot(id) }))
}

// brokerEndpoint is the handler of a /v1/brokers/{id}/… endpoint: it
// parses the id, calls fn and writes its result; an error wrapping
// refused is a 400 with its message, errNotFound a 404.
func brokerEndpoint[T any](refused error, fn func(ctx context.Context, id model.NodeID) (T, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 32)
		if err != nil || id < 0 {
			writeError(w, http.StatusBadRequest, "broker id "+strconv.Quote(r.PathValue("id"))+" is not a number")
			return
		}
		v, err := fn(r.Context(), model.NodeID(id))
		if refused != nil && errors.Is(err, refused) {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeResult(w, v, err, "broker "+r.PathValue("id"))
	}
}
