package cli

import (
	"bytes"
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
		brokerAction(e, "decommission", http.MethodPut, "Mark a broker draining and move every replica off it; follow with `petrel broker status`, or give --wait"),
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
	var wait bool
	if verb == "decommission" {
		cmd.Use += " [--wait]"
		cmd.Flags().BoolVar(&wait, "wait", false, "wait until no partition is left on the broker, showing the progress on stderr\n"+
			"(bounded by --timeout: raise it, e.g. --timeout 1h)")
	}
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
		if wait && !p.Finished {
			failed := p.Failed // the PUT's; a GET does not report them
			if err := e.waitDecommission(ctx, id, &p); err != nil {
				return err
			}
			p.Failed = failed
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

// ErrRecommissioned is decommission --wait finding the broker no longer
// draining: someone recommissioned it.
var ErrRecommissioned = errors.New("broker no longer draining")

// waitDecommission polls broker id's decommission into p until no
// partition is left on the broker.
func (e *env) waitDecommission(ctx context.Context, id int32, p *decommissionProgress) error {
	path := fmt.Sprintf("/v1/brokers/%d/decommission", id)
	err := pollUntil(ctx, movePollInterval, e.status(), func(ctx context.Context) (string, bool, error) {
		if err := e.adminJSON(ctx, http.MethodGet, path, p); err != nil {
			return "", false, err
		}
		if !p.Draining {
			return "", false, fmt.Errorf("broker %d: %w (recommissioned?); see `petrel broker status %d`", id, ErrRecommissioned, id)
		}
		return fmt.Sprintf("decommission of broker %d: %d partitions left, %d moving", id, p.PartitionsRemaining, p.MovesInProgress), p.Finished, nil
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w: broker %d still holds %d partitions (%d moving) (%v); follow with `petrel broker status %d`",
			ErrNotFinished, id, p.PartitionsRemaining, p.MovesInProgress, ctx.Err(), id)
	}
	return err
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
	return e.adminCall(ctx, s.AdminURL, method, path, nil, out)
}

// adminSend is adminJSON with in as the request's JSON body.
func (e *env) adminSend(ctx context.Context, method, path string, in, out any) error {
	s, err := e.settings()
	if err != nil {
		return err
	}
	return e.adminCall(ctx, s.AdminURL, method, path, in, out)
}

func (e *env) adminCall(ctx context.Context, base, method, path string, in, out any) error {
	var reqBody io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		reqBody = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, reqBody)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
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
