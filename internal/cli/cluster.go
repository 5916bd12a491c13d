package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func clusterCommand(d Deps) *cobra.Command {
	cmd, e := d.group("cluster", "Show the cluster's brokers, health, partitions and configs; maintenance mode", "")
	cfg := &cobra.Command{Use: "config", Short: "Get or set broker configs (Kafka API); export or import the cluster's settings (admin API)", Args: cobra.NoArgs}
	cfg.AddCommand(clusterConfigGet(e), clusterConfigSet(e), clusterConfigExport(e), clusterConfigImport(e))
	cmd.AddCommand(clusterInfo(e), clusterHealth(e), clusterPartitions(e), clusterMaintenance(e), cfg)
	return cmd
}

// brokerInfo is one broker as `cluster info` prints it.
type brokerInfo struct {
	ID         int32  `json:"id" yaml:"id"`
	Host       string `json:"host" yaml:"host"`
	Port       int32  `json:"port" yaml:"port"`
	Rack       string `json:"rack,omitempty" yaml:"rack,omitempty"`
	Controller bool   `json:"controller" yaml:"controller"`
}

// clusterInfoResult is what `cluster info` prints.
type clusterInfoResult struct {
	ClusterID  string       `json:"cluster_id" yaml:"cluster_id"`
	Controller int32        `json:"controller" yaml:"controller"`
	Brokers    []brokerInfo `json:"brokers" yaml:"brokers"`
}

func clusterInfo(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "info", Aliases: []string{"metadata"}, Short: "Show the cluster id, the controller and the brokers", Args: cobra.NoArgs}
	cmd.RunE = e.run(false, func(ctx context.Context, _ []string) error {
		cl, adm, err := e.kafka()
		if err != nil {
			return err
		}
		defer cl.Close()
		md, err := adm.BrokerMetadata(ctx)
		if err != nil {
			return err
		}
		res := clusterInfoResult{ClusterID: md.Cluster, Controller: md.Controller, Brokers: []brokerInfo{}}
		bt := table{title: "BROKERS", header: []string{"ID", "HOST", "PORT", "RACK"}}
		for _, b := range md.Brokers {
			bi := brokerInfo{ID: b.NodeID, Host: b.Host, Port: b.Port, Controller: b.NodeID == md.Controller}
			if b.Rack != nil {
				bi.Rack = *b.Rack
			}
			res.Brokers = append(res.Brokers, bi)
			id := cell(bi.ID)
			if bi.Controller {
				id += "*"
			}
			bt.add(id, bi.Host, bi.Port, bi.Rack)
		}
		sum := table{title: "CLUSTER", rows: [][]string{{"ID", cell(res.ClusterID)}, {"CONTROLLER", cell(res.Controller)}}}
		return e.out(res, sum, bt)
	})
	return cmd
}

// nodeStatus is the admin API's GET /v1/status (node.Status's JSON).
type nodeStatus struct {
	Ready     bool   `json:"ready" yaml:"ready"`
	NodeID    int32  `json:"node_id" yaml:"node_id"`
	ClusterID string `json:"cluster_id" yaml:"cluster_id"`
	Shards    int    `json:"shards" yaml:"shards"`
	Topics    int    `json:"topics" yaml:"topics"`
}

// healthResult is what `cluster health` prints.
type healthResult struct {
	Healthy  bool        `json:"healthy" yaml:"healthy"`
	Admin    string      `json:"admin" yaml:"admin"` // ready, booting, or the error reaching it
	Kafka    string      `json:"kafka" yaml:"kafka"` // ok, or the error reaching it
	Brokers  int         `json:"brokers" yaml:"brokers"`
	Status   *nodeStatus `json:"status,omitempty" yaml:"status,omitempty"`
	Problems []string    `json:"problems" yaml:"problems"`
}

// ErrUnhealthy is `cluster health` finding a problem.
var ErrUnhealthy = errors.New("cluster is not healthy")

func (e *env) adminStatus(ctx context.Context, base string) (*nodeStatus, error) {
	var st nodeStatus
	if err := e.adminCall(ctx, base, http.MethodGet, "/v1/status", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func clusterHealth(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "health", Short: "Check the node through the admin API (/v1/status) and Kafka (Metadata); non-zero exit when unhealthy",
		Args: cobra.NoArgs}
	cmd.RunE = e.run(false, func(ctx context.Context, _ []string) error {
		s, err := e.settings()
		if err != nil {
			return err
		}
		res := healthResult{Problems: []string{}}
		st, err := e.adminStatus(ctx, s.AdminURL)
		switch {
		case err != nil:
			res.Admin = err.Error()
			res.Problems = append(res.Problems, "admin API unreachable at "+s.AdminURL)
		case !st.Ready:
			res.Admin, res.Status = "booting", st
			res.Problems = append(res.Problems, fmt.Sprintf("node %d is not ready", st.NodeID))
		default:
			res.Admin, res.Status = "ready", st
		}
		cl, adm, err := e.kafka()
		if err != nil {
			return err
		}
		defer cl.Close()
		md, err := adm.BrokerMetadata(ctx)
		if err != nil {
			res.Kafka = explain(err).Error()
			res.Problems = append(res.Problems, "Kafka API unreachable")
		} else {
			res.Kafka, res.Brokers = "ok", len(md.Brokers)
			if md.Controller < 0 {
				res.Problems = append(res.Problems, "no controller")
			}
		}
		res.Healthy = len(res.Problems) == 0
		t := table{rows: [][]string{{"HEALTHY", cell(res.Healthy)}, {"ADMIN", res.Admin}, {"KAFKA", res.Kafka}, {"BROKERS", cell(res.Brokers)}}}
		if st != nil {
			t.rows = append(t.rows, []string{"NODE", cell(st.NodeID)}, []string{"CLUSTER-ID", cell(st.ClusterID)}, []string{"TOPICS", cell(st.Topics)})
		}
		for _, p := range res.Problems {
			t.rows = append(t.rows, []string{"PROBLEM", p})
		}
		if err := e.out(res, t); err != nil {
			return err
		}
		if !res.Healthy {
			return ErrUnhealthy
		}
		return nil
	})
	return cmd
}

func clusterConfigGet(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "get [KEY...]", Short: "Show the broker's configs (all, or the keys named)"}
	cmd.RunE = e.run(false, func(ctx context.Context, keys []string) error {
		cl, adm, err := e.kafka()
		if err != nil {
			return err
		}
		defer cl.Close()
		rcs, err := adm.DescribeBrokerConfigs(ctx)
		if err != nil {
			return err
		}
		if len(rcs) != 1 {
			return fmt.Errorf("describe broker configs: %d resources in the answer, want 1", len(rcs))
		}
		if rcs[0].Err != nil {
			return describeErr(rcs[0].Err, rcs[0].ErrMessage)
		}
		cs := configInfos(rcs[0])
		if len(keys) > 0 {
			for _, k := range keys {
				if !slices.ContainsFunc(cs, func(c configInfo) bool { return c.Key == k }) {
					return fmt.Errorf("broker config %q: no such key (see `petrel cluster config get`)", k)
				}
			}
			cs = slices.DeleteFunc(cs, func(c configInfo) bool { return !slices.Contains(keys, c.Key) })
		}
		return e.out(cs, configTable("", cs))
	})
	return cmd
}

func clusterConfigSet(e *env) *cobra.Command {
	var dry bool
	cmd := &cobra.Command{Use: "set KEY=VALUE...", Short: "Change broker configs (IncrementalAlterConfigs on the broker resource)",
		Args: cobra.MinimumNArgs(1)}
	cmd.Flags().BoolVar(&dry, "dry-run", false, "validate only")
	cmd.RunE = e.run(false, func(ctx context.Context, args []string) error {
		kvs, err := parseKV(args, "config")
		if err != nil {
			return err
		}
		var alters []kadm.AlterConfig
		for _, kv := range kvs {
			alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: kv[0], Value: &kv[1]})
		}
		cl, adm, err := e.kafka()
		if err != nil {
			return err
		}
		defer cl.Close()
		alter := adm.AlterBrokerConfigs
		if dry {
			alter = adm.ValidateAlterBrokerConfigs
		}
		resp, err := alter(ctx, alters)
		if err != nil {
			return err
		}
		for _, r := range resp {
			hint := ""
			if errors.Is(r.Err, kerr.InvalidRequest) {
				hint = "broker settings are static in this version: set them in petrel.yaml, PETREL_* env or `petrel serve` flags, and restart the node"
			}
			if err := describeErrHint(r.Err, r.ErrMessage, hint); err != nil {
				return err
			}
		}
		rows := make([]map[string]string, 0, len(kvs))
		t := table{header: []string{"KEY", "VALUE", "STATUS"}}
		for _, kv := range kvs {
			rows = append(rows, map[string]string{"key": kv[0], "value": kv[1]})
			t.add(kv[0], kv[1], "OK")
		}
		return e.out(rows, t)
	})
	return cmd
}
