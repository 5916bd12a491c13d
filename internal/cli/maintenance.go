package cli

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

// Maintenance mode (Redpanda's `rpk cluster maintenance`): a broker in
// maintenance leads no partition; its replicas stay and keep replicating.
// At most one broker is in maintenance at a time.
//
//	petrel cluster maintenance enable ID [--wait]   PUT    /v1/brokers/{id}/maintenance
//	petrel cluster maintenance disable ID           DELETE /v1/brokers/{id}/maintenance
//	petrel cluster maintenance status               GET /v1/brokers, then GET …/maintenance of each

// maintenanceStatus is the admin API's maintenance answer (the node's
// MaintenanceStatus JSON; the CLI keeps its own type).
type maintenanceStatus struct {
	NodeID            int32 `json:"node_id" yaml:"node_id"`
	Enabled           bool  `json:"enabled" yaml:"enabled"`
	Finished          bool  `json:"finished" yaml:"finished"`
	PartitionsLed     int   `json:"partitions_led" yaml:"partitions_led"`
	PartitionsUnknown int   `json:"partitions_unknown" yaml:"partitions_unknown"`
	Draining          bool  `json:"draining" yaml:"draining"`
}

// maintenancePollInterval paces enable --wait.
const maintenancePollInterval = 250 * time.Millisecond

func clusterMaintenance(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "maintenance", Short: "Put a broker in maintenance mode (it leads no partition) or take it out (admin API)",
		Args: cobra.NoArgs}
	cmd.AddCommand(maintenanceSet(e, true), maintenanceSet(e, false), maintenanceStatusCmd(e))
	return cmd
}

func maintenanceSet(e *env, enable bool) *cobra.Command {
	verb, method, short := "disable", http.MethodDelete, "Take a broker out of maintenance; leader balancing gives it its preferred leaderships back"
	if enable {
		verb, method, short = "enable", http.MethodPut, "Put a broker in maintenance: it hands every partition leadership it holds to other brokers"
	}
	cmd := &cobra.Command{Use: verb + " BROKER-ID", Short: short, Args: cobra.ExactArgs(1)}
	var wait bool
	if enable {
		cmd.Flags().BoolVar(&wait, "wait", false, "wait until the broker leads no partition (bounded by --timeout)")
	}
	cmd.RunE = e.run(false, func(ctx context.Context, args []string) error {
		id, err := parseBrokerID(args[0])
		if err != nil {
			return err
		}
		path := fmt.Sprintf("/v1/brokers/%d/maintenance", id)
		var st maintenanceStatus
		if err := e.adminJSON(ctx, method, path, &st); err != nil {
			return err
		}
		if wait && !st.Finished {
			err := pollUntil(ctx, maintenancePollInterval, e.status(), func(ctx context.Context) (string, bool, error) {
				if err := e.adminJSON(ctx, http.MethodGet, path, &st); err != nil {
					return "", false, err
				}
				return fmt.Sprintf("broker %d leads %d partitions (%d unknown)", id, st.PartitionsLed, st.PartitionsUnknown), st.Finished, nil
			})
			if ctx.Err() != nil {
				return fmt.Errorf("%w: broker %d still leads %d partitions (%d with a leader unknown to the node asked) (%v); see `petrel cluster maintenance status`",
					ErrNotFinished, id, st.PartitionsLed, st.PartitionsUnknown, ctx.Err())
			}
			if err != nil {
				return err
			}
		}
		t := table{rows: [][]string{
			{"BROKER", cell(st.NodeID)}, {"MAINTENANCE", cell(st.Enabled)}, {"FINISHED", cell(st.Finished)},
			{"LEADERS", cell(st.PartitionsLed)}, {"LEADERS-UNKNOWN", cell(st.PartitionsUnknown)}, {"DRAINING", cell(st.Draining)},
		}}
		return e.out(st, t)
	})
	return cmd
}

// adminBroker is the part of GET /v1/brokers the status needs.
type adminBroker struct {
	NodeID  int32 `json:"node_id"`
	IsAlive bool  `json:"is_alive"`
}

func maintenanceStatusCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "status", Short: "Show every broker's maintenance and decommission flags and the partitions it leads", Args: cobra.NoArgs}
	cmd.RunE = e.run(false, func(ctx context.Context, _ []string) error {
		var brokers []adminBroker
		if err := e.adminJSON(ctx, http.MethodGet, "/v1/brokers", &brokers); err != nil {
			return err
		}
		out := make([]maintenanceStatus, 0, len(brokers))
		t := table{header: []string{"NODE-ID", "DRAINING", "MAINTENANCE", "FINISHED", "LEADERS", "LEADERS-UNKNOWN"}}
		for _, b := range brokers {
			var st maintenanceStatus
			if err := e.adminJSON(ctx, http.MethodGet, fmt.Sprintf("/v1/brokers/%d/maintenance", b.NodeID), &st); err != nil {
				return err
			}
			out = append(out, st)
			t.add(st.NodeID, st.Draining, st.Enabled, st.Finished, st.PartitionsLed, st.PartitionsUnknown)
		}
		return e.out(out, t)
	})
	return cmd
}

// parseBrokerID reads a BROKER-ID argument.
func parseBrokerID(arg string) (int32, error) {
	id, err := strconv.ParseInt(arg, 10, 32)
	if err != nil || id < 0 {
		return 0, fmt.Errorf("broker id %q: want a number (see `petrel cluster info`)", arg)
	}
	return int32(id), nil
}
