package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"
)

func brokerCommand(d Deps) *cobra.Command {
	cmd, e := d.group("broker", "Decommission brokers (move every replica off them) or bring them back (admin API)", "")
	cmd.AddCommand(
		brokerAction(e, "decommission", http.MethodPut, "Mark a broker draining and move every replica off it; follow with `petrel broker status`"),
		brokerAction(e, "recommission", http.MethodPut, "Clear a broker's draining mark and cancel the moves still taking replicas off it"),
		brokerAction(e, "status", http.MethodGet, "Show a broker's decommission: draining, partitions left, moves in progress"),
	)
	return cmd
}

// decommissionProgress is the admin API's decommission answer (the
// node's DecommissionProgress JSON; the CLI keeps its own type).
type decommissionProgress struct {
	NodeID              int32    `json:"node_id" yaml:"node_id"`
	Draining            bool     `json:"draining" yaml:"draining"`
	Finished            bool     `json:"finished" yaml:"finished"`
	PartitionsRemaining int      `json:"partitions_remaining" yaml:"partitions_remaining"`
	Partitions          []string `json:"partitions" yaml:"partitions"`
	MovesInProgress     int      `json:"moves_in_progress" yaml:"moves_in_progress"`
	Failed              []string `json:"failed,omitempty" yaml:"failed,omitempty"`
}

// brokerAction is one of the three commands: the same argument, endpoint
// shape and output; only the verb and method differ.
func brokerAction(e *env, verb, method, short string) *cobra.Command {
	cmd := &cobra.Command{Use: verb + " BROKER-ID", Short: short, Args: cobra.ExactArgs(1)}
	cmd.RunE = e.run(false, func(ctx context.Context, args []string) error {
		id, err := parseBrokerID(args[0])
		if err != nil {
			return err
		}
		path := fmt.Sprintf("/v1/brokers/%d/%s", id, verb)
		if verb == "status" {
			path = fmt.Sprintf("/v1/brokers/%d/decommission", id)
		}
		var p decommissionProgress
		if err := e.adminJSON(ctx, method, path, &p); err != nil {
			return err
		}
		if p.Partitions == nil {
			p.Partitions = []string{}
		}
		t := table{rows: [][]string{
			{"BROKER", cell(p.NodeID)}, {"DRAINING", cell(p.Draining)}, {"FINISHED", cell(p.Finished)},
			{"PARTITIONS-REMAINING", cell(p.PartitionsRemaining)}, {"MOVES-IN-PROGRESS", cell(p.MovesInProgress)},
		}}
		for _, name := range p.Partitions {
			t.rows = append(t.rows, []string{"PARTITION", name})
		}
		for _, f := range p.Failed {
			t.rows = append(t.rows, []string{"FAILED", f})
		}
		return e.out(p, t)
	})
	return cmd
}

// ErrAdmin marks an error answer of the admin API; the error's text is
// the status and the node's message.
var ErrAdmin = errors.New("admin API")

// adminJSON calls the admin API at the resolved --admin-url and decodes
// a 200 answer into out; another status is an error wrapping ErrAdmin
// with the node's message.
func (e *env) adminJSON(ctx context.Context, method, path string, out any) error {
	s, err := e.settings()
	if err != nil {
		return err
	}
	return e.adminCall(ctx, s.AdminURL, method, path, out)
}

func (e *env) adminCall(ctx context.Context, base, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
	if err != nil {
		return err
	}
	resp, err := e.d.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %w (is a node running there? set --admin-url, %s or a profile)", ErrAdmin, base, err, EnvAdminURL)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var ae struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &ae) != nil || ae.Message == "" {
			ae.Message = string(body)
		}
		return fmt.Errorf("%w: %s %s: %s: %s", ErrAdmin, method, path, resp.Status, ae.Message)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrAdmin, method, path, err)
	}
	return nil
}
