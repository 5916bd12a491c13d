package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
)

// Decommissioning a broker through the admin API (Redpanda's paths):
//
//	PUT /v1/brokers/{id}/decommission    plan, mark draining, propose the moves
//	PUT /v1/brokers/{id}/recommission    unmark, cancel the moves taking replicas off it
//	GET /v1/brokers/{id}/decommission    DecommissionProgress
//
// The controller does the planning (cluster.Tables.PlanDecommission: each
// replica on the broker replaced in place by the least loaded broker that
// is not draining); the nodes' reassignment drivers move the Raft voters
// and complete each move. Errors: 404 for an unregistered broker, 400 when
// no broker can take a replica (nothing is changed then).

// DecommissionProgress is a broker's decommission as the admin API
// serves it.
type DecommissionProgress struct {
	NodeID   int32 `json:"node_id"`
	Draining bool  `json:"draining"`
	// Finished: draining and no partition left on the broker.
	Finished bool `json:"finished"`
	// PartitionsRemaining counts partitions with a replica on the broker,
	// now or in their move's target; Partitions names the first
	// cluster.MaxListedPartitions of them as kafka/{topic}/{partition}.
	PartitionsRemaining int      `json:"partitions_remaining"`
	Partitions          []string `json:"partitions"`
	// MovesInProgress counts those with a move in progress.
	MovesInProgress int `json:"moves_in_progress"`
	// Failed lists the moves the controller refused when this call
	// proposed them (PUT only; a concurrent change can cause it).
	Failed []string `json:"failed,omitempty"`
}

// Decommission marks broker id draining and proposes the moves that take
// every replica off it, then returns its progress. It plans first, so a
// broker whose replicas have nowhere to go is refused with nothing changed
// (an error wrapping cluster.ErrNoReplacementBroker). Calling it again
// plans what is left. Any goroutine.
func (n *Node) Decommission(ctx context.Context, id model.NodeID) (DecommissionProgress, error) {
	if _, err := n.Tables().PlanDecommission(id); err != nil {
		return DecommissionProgress{}, adminErr(err)
	}
	return n.setDraining(ctx, id, true)
}

// Recommission clears broker id's draining flag and cancels the moves in
// progress that take replicas off it (Replicas include it, Target does
// not); moves that finished stay. Any goroutine.
func (n *Node) Recommission(ctx context.Context, id model.NodeID) (DecommissionProgress, error) {
	return n.setDraining(ctx, id, false)
}

// setDraining proposes broker id's draining flag, then the moves that
// take replicas off it (draining) or cancel those (not), planned on the
// tables the flag produced (another change may have committed in
// between), and returns the progress.
func (n *Node) setDraining(ctx context.Context, id model.NodeID, draining bool) (DecommissionProgress, error) {
	if _, err := n.ctrl.propose(ctx, &cluster.SetBrokerDraining{NodeID: id, Draining: draining}); err != nil {
		return DecommissionProgress{}, adminErr(err)
	}
	t := n.Tables()
	plan := t.PlanRecommission
	if draining {
		plan = t.PlanDecommission
	}
	cmds, err := plan(id)
	if err != nil {
		return DecommissionProgress{}, adminErr(err)
	}
	failed, err := n.proposeMoves(ctx, cmds)
	if err != nil {
		return DecommissionProgress{}, err
	}
	p, err := n.DecommissionSnapshot(id)
	p.Failed = failed
	return p, err
}

// proposeMoves proposes each command and lists the moves the controller
// refused (topic/partition: reason).
func (n *Node) proposeMoves(ctx context.Context, cmds []*cluster.AlterReassignments) ([]string, error) {
	var failed []string
	for _, c := range cmds {
		res, err := n.ctrl.propose(ctx, c)
		if err != nil {
			return nil, adminErr(err)
		}
		name := c.Topic.String()
		if res.Topic != nil {
			name = res.Topic.Name
		}
		for _, m := range res.Moves {
			if m.Err != nil {
				failed = append(failed, fmt.Sprintf("%s/%s/%d: %v", kafkaNamespace, name, m.Partition, m.Err))
			}
		}
	}
	return failed, nil
}

// DecommissionSnapshot is broker id's decommission progress, or
// errNotFound. Any goroutine.
func (n *Node) DecommissionSnapshot(id model.NodeID) (DecommissionProgress, error) {
	st, err := n.Tables().DecommissionStatus(id)
	if err != nil {
		return DecommissionProgress{}, adminErr(err)
	}
	p := DecommissionProgress{NodeID: int32(id), Draining: st.Draining, Finished: st.Done(),
		PartitionsRemaining: st.Partitions, MovesInProgress: st.Moving, Partitions: []string{}}
	for _, r := range st.Listed {
		p.Partitions = append(p.Partitions, kafkaNamespace+"/"+r.Topic+"/"+strconv.Itoa(int(r.Partition)))
	}
	return p, nil
}

// adminErr turns an unknown broker into errNotFound; other errors pass.
func adminErr(err error) error {
	if errors.Is(err, cluster.ErrUnknownBroker) {
		return fmt.Errorf("%w: %v", errNotFound, err)
	}
	return err
}

// registerDecommission adds the decommission endpoints to the admin API.
func (n *Node) registerDecommission(mux *http.ServeMux) {
	handle := func(pattern string, fn func(ctx context.Context, id model.NodeID) (DecommissionProgress, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			id, err := strconv.ParseInt(r.PathValue("id"), 10, 32)
			if err != nil || id < 0 {
				writeError(w, http.StatusBadRequest, "broker id "+strconv.Quote(r.PathValue("id"))+" is not a number")
				return
			}
			p, err := fn(r.Context(), model.NodeID(id))
			if errors.Is(err, cluster.ErrNoReplacementBroker) {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
			writeResult(w, p, err, "broker "+r.PathValue("id"))
		})
	}
	handle("PUT /v1/brokers/{id}/decommission", n.Decommission)
	handle("PUT /v1/brokers/{id}/recommission", n.Recommission)
	handle("GET /v1/brokers/{id}/decommission", func(_ context.Context, id model.NodeID) (DecommissionProgress, error) {
		return n.DecommissionSnapshot(id)
	})
}
