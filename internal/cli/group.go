package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func groupCommand(d Deps) *cobra.Command {
	cmd, e := d.group("group", "List, describe, delete and seek consumer groups", "")
	cmd.AddCommand(groupList(e), groupDescribe(e), groupDelete(e), groupSeek(e))
	return cmd
}

// groupSummary is one group as `group list` prints it.
type groupSummary struct {
	Group        string `json:"group" yaml:"group"`
	State        string `json:"state" yaml:"state"`
	ProtocolType string `json:"protocol_type" yaml:"protocol_type"`
	Coordinator  int32  `json:"coordinator" yaml:"coordinator"`
}

func groupList(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Aliases: []string{"ls"}, Short: "List consumer groups", Args: cobra.NoArgs}
	cmd.RunE = e.run(false, func(ctx context.Context, _ []string) error {
		cl, adm, err := e.kafka()
		if err != nil {
			return err
		}
		defer cl.Close()
		lgs, err := adm.ListGroups(ctx)
		if err != nil {
			return err
		}
		rows := []groupSummary{}
		t := table{header: []string{"GROUP", "STATE", "PROTOCOL-TYPE", "COORDINATOR"}}
		for _, g := range lgs.Sorted() {
			s := groupSummary{Group: g.Group, State: g.State, ProtocolType: g.ProtocolType, Coordinator: g.Coordinator}
			rows = append(rows, s)
			t.add(s.Group, s.State, s.ProtocolType, s.Coordinator)
		}
		return e.out(rows, t)
	})
	return cmd
}

// memberInfo is one group member.
type memberInfo struct {
	MemberID   string   `json:"member_id" yaml:"member_id"`
	InstanceID string   `json:"instance_id,omitempty" yaml:"instance_id,omitempty"`
	ClientID   string   `json:"client_id" yaml:"client_id"`
	Host       string   `json:"host" yaml:"host"`
	Assigned   []string `json:"assigned" yaml:"assigned"` // topic[partitions]
}

// partitionLag is one partition's committed offset and lag.
type partitionLag struct {
	Topic     string `json:"topic" yaml:"topic"`
	Partition int32  `json:"partition" yaml:"partition"`
	Committed int64  `json:"committed" yaml:"committed"` // -1: none
	LogStart  int64  `json:"log_start" yaml:"log_start"`
	LogEnd    int64  `json:"log_end" yaml:"log_end"`
	Lag       int64  `json:"lag" yaml:"lag"` // -1: unknown
	MemberID  string `json:"member_id,omitempty" yaml:"member_id,omitempty"`
	ClientID  string `json:"client_id,omitempty" yaml:"client_id,omitempty"`
	Error     string `json:"error,omitempty" yaml:"error,omitempty"`
}

// groupInfo is one group as `group describe` prints it.
type groupInfo struct {
	Group       string         `json:"group" yaml:"group"`
	Coordinator int32          `json:"coordinator" yaml:"coordinator"`
	State       string         `json:"state" yaml:"state"`
	Balancer    string         `json:"balancer" yaml:"balancer"`
	TotalLag    int64          `json:"total_lag" yaml:"total_lag"`
	Members     []memberInfo   `json:"members" yaml:"members"`
	Offsets     []partitionLag `json:"offsets" yaml:"offsets"`
}

func describeGroup(l kadm.DescribedGroupLag) groupInfo {
	g := groupInfo{Group: l.Group, Coordinator: l.Coordinator.NodeID, State: l.State, Balancer: l.Protocol,
		Members: []memberInfo{}, Offsets: []partitionLag{}}
	for _, m := range l.Members {
		mi := memberInfo{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Assigned: []string{}}
		if m.InstanceID != nil {
			mi.InstanceID = *m.InstanceID
		}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				ps := slices.Clone(t.Partitions)
				slices.Sort(ps)
				mi.Assigned = append(mi.Assigned, t.Topic+"["+cell(ps)+"]")
			}
			slices.Sort(mi.Assigned)
		}
		g.Members = append(g.Members, mi)
	}
	for _, ml := range l.Lag.Sorted() {
		pl := partitionLag{Topic: ml.Topic, Partition: ml.Partition, Committed: ml.Commit.At,
			LogStart: ml.Start.Offset, LogEnd: ml.End.Offset, Lag: ml.Lag, Error: errString(ml.Err)}
		if ml.Member != nil {
			pl.MemberID, pl.ClientID = ml.Member.MemberID, ml.Member.ClientID
		}
		if pl.Lag > 0 {
			g.TotalLag += pl.Lag
		}
		g.Offsets = append(g.Offsets, pl)
	}
	return g
}

func groupTables(g groupInfo) []table {
	sum := table{title: "GROUP " + g.Group, rows: [][]string{
		{"COORDINATOR", cell(g.Coordinator)}, {"STATE", cell(g.State)}, {"BALANCER", cell(g.Balancer)},
		{"MEMBERS", cell(len(g.Members))}, {"TOTAL-LAG", cell(g.TotalLag)},
	}}
	mt := table{title: "MEMBERS", header: []string{"MEMBER-ID", "CLIENT-ID", "HOST", "ASSIGNED"}}
	for _, m := range g.Members {
		mt.add(m.MemberID, m.ClientID, m.Host, strings.Join(m.Assigned, " "))
	}
	ot := table{title: "OFFSETS", header: []string{"TOPIC", "PARTITION", "COMMITTED", "LOG-START", "LOG-END", "LAG", "MEMBER-ID", "CLIENT-ID"}}
	for _, o := range g.Offsets {
		ot.add(o.Topic, o.Partition, o.Committed, o.LogStart, o.LogEnd, o.Lag, o.MemberID, o.ClientID)
	}
	return []table{sum, mt, ot}
}

func groupDescribe(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "describe GROUP...", Short: "Show groups' members, assignments, committed offsets and lag per partition",
		Args: cobra.MinimumNArgs(1)}
	cmd.RunE = e.run(false, func(ctx context.Context, groups []string) error {
		cl, adm, err := e.kafka()
		if err != nil {
			return err
		}
		defer cl.Close()
		lags, err := adm.Lag(ctx, groups...)
		if err != nil {
			return err
		}
		var infos []groupInfo
		var tables []table
		for _, name := range groups {
			l, ok := lags[name]
			if !ok {
				return fmt.Errorf("group %s: not described by the broker", name)
			}
			if err := l.Error(); err != nil {
				return fmt.Errorf("group %s: %w", name, err)
			}
			g := describeGroup(l)
			infos = append(infos, g)
			tables = append(tables, groupTables(g)...)
		}
		return e.out(infos, tables...)
	})
	return cmd
}

func groupDelete(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "delete GROUP...", Short: "Delete empty groups and their committed offsets", Args: cobra.MinimumNArgs(1)}
	cmd.RunE = e.run(false, func(ctx context.Context, groups []string) error {
		cl, adm, err := e.kafka()
		if err != nil {
			return err
		}
		defer cl.Close()
		resp, err := adm.DeleteGroups(ctx, groups...)
		if err != nil {
			return err
		}
		return e.printStatus("group", groups, func(g string) error { return describeErr(resp[g].Err, "") })
	})
	return cmd
}

// seekRow is one partition's committed offset before and after seek.
type seekRow struct {
	Topic     string `json:"topic" yaml:"topic"`
	Partition int32  `json:"partition" yaml:"partition"`
	Previous  int64  `json:"previous" yaml:"previous"` // -1: none
	Offset    int64  `json:"offset" yaml:"offset"`
	Error     string `json:"error,omitempty" yaml:"error,omitempty"`
}

func groupSeek(e *env) *cobra.Command {
	var to string
	var topics []string
	cmd := &cobra.Command{
		Use:   "seek GROUP --to start|end|N|@timestamp",
		Short: "Set an empty group's committed offsets",
		Long: "Commits new offsets for the group on the topics it has offsets for (or --topics).\n" +
			"The group must have no members: stop its consumers first. A group that does not exist\n" +
			"yet is created with these offsets (name its topics with --topics).",
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().StringVar(&to, "to", "", "start, end, an offset N, or @timestamp (Unix ms or RFC 3339) (required)")
	cmd.Flags().StringSliceVar(&topics, "topics", nil, "topics to seek (default: those the group has offsets for)")
	cmd.RunE = e.run(false, func(ctx context.Context, args []string) error {
		group := args[0]
		spec, err := parseOffset(to)
		if err != nil {
			return fmt.Errorf("--to: %w", err)
		}
		cl, adm, err := e.kafka()
		if err != nil {
			return err
		}
		defer cl.Close()
		dgs, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return err
		}
		if dg := dgs[group]; dg.Err != nil && !errors.Is(dg.Err, kerr.GroupIDNotFound) {
			return fmt.Errorf("group %s: %w", group, dg.Err)
		} else if len(dg.Members) > 0 {
			return fmt.Errorf("group %s is %s with %d members: stop its consumers first (seek needs an empty group)", group, dg.State, len(dg.Members))
		}
		prev, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return err
		}
		if len(topics) == 0 {
			topics = prev.Partitions().Topics()
			slices.Sort(topics)
		}
		if len(topics) == 0 {
			return fmt.Errorf("group %s has no committed offsets: name the topics with --topics", group)
		}
		lo, err := spec.resolve(ctx, adm, topics...)
		if err != nil {
			return err
		}
		offs := lo.Offsets()
		offs.Each(func(o kadm.Offset) { o.LeaderEpoch = -1; offs.Add(o) })
		resp, err := adm.CommitOffsets(ctx, group, offs)
		if err != nil {
			return err
		}
		rows := []seekRow{}
		t := table{header: []string{"TOPIC", "PARTITION", "PREVIOUS", "OFFSET", "STATUS"}}
		failed := 0
		for _, r := range resp.Sorted() {
			row := seekRow{Topic: r.Topic, Partition: r.Partition, Previous: -1, Offset: r.At, Error: errString(r.Err)}
			if p, ok := prev.Lookup(r.Topic, r.Partition); ok && p.Err == nil {
				row.Previous = p.At
			}
			if r.Err != nil {
				failed++
			}
			rows = append(rows, row)
			t.add(row.Topic, row.Partition, row.Previous, row.Offset, describeErr(r.Err, ""))
		}
		if err := e.out(rows, t); err != nil {
			return err
		}
		if failed > 0 {
			return fmt.Errorf("%d partitions: %w", failed, ErrFailed)
		}
		return nil
	})
	return cmd
}
