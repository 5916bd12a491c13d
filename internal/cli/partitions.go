package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func clusterPartitions(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "partitions", Short: "List partitions with their moves, or move them to other brokers", Args: cobra.NoArgs}
	cmd.AddCommand(partitionsList(e), partitionsMove(e))
	return cmd
}

// partitionRow is one partition as `cluster partitions list` prints it.
type partitionRow struct {
	Topic     string  `json:"topic" yaml:"topic"`
	Partition int32   `json:"partition" yaml:"partition"`
	Leader    int32   `json:"leader" yaml:"leader"`
	Epoch     int32   `json:"leader_epoch" yaml:"leader_epoch"`
	Replicas  []int32 `json:"replicas" yaml:"replicas"`
	ISR       []int32 `json:"isr" yaml:"isr"`
	// Moving: a reassignment is in progress (Kafka's convention: Replicas
	// from ListPartitionReassignments is then the full set).
	Moving   bool    `json:"moving" yaml:"moving"`
	Adding   []int32 `json:"adding,omitempty" yaml:"adding,omitempty"`
	Removing []int32 `json:"removing,omitempty" yaml:"removing,omitempty"`
	Error    string  `json:"error,omitempty" yaml:"error,omitempty"`
}

func partitionsList(e *env) *cobra.Command {
	var topics []string
	cmd := &cobra.Command{Use: "list", Short: "Show every partition's leader, replicas, in-sync replicas and move in progress (Metadata, ListPartitionReassignments)",
		Args: cobra.NoArgs}
	cmd.Flags().StringSliceVarP(&topics, "topic", "t", nil, "only these topics (repeatable or comma-separated)")
	cmd.RunE = e.run(false, func(ctx context.Context, _ []string) error {
		cl, adm, err := e.kafka()
		if err != nil {
			return err
		}
		defer cl.Close()
		md, err := topicsMetadata(ctx, adm, topics)
		if err != nil {
			return err
		}
		req := kmsg.NewPtrListPartitionReassignmentsRequest()
		for _, name := range topics { // none: null, every topic
			rt := kmsg.NewListPartitionReassignmentsRequestTopic()
			rt.Topic = name
			for p := range md.Topics[name].Partitions {
				rt.Partitions = append(rt.Partitions, p)
			}
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return describeErr(err, deref(resp.ErrorMessage))
		}
		moves := map[string]kmsg.ListPartitionReassignmentsResponseTopicPartition{}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				moves[t.Topic+"/"+strconv.Itoa(int(p.Partition))] = p
			}
		}
		rows := []partitionRow{}
		t := table{header: []string{"TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR", "MOVE"}}
		for _, td := range md.Topics.Sorted() {
			for _, pd := range td.Partitions.Sorted() {
				r := partitionRow{Topic: td.Topic, Partition: pd.Partition, Leader: pd.Leader, Epoch: pd.LeaderEpoch,
					Replicas: nonNil(pd.Replicas), ISR: nonNil(pd.ISR), Error: errString(pd.Err)}
				move := "-"
				if m, ok := moves[td.Topic+"/"+strconv.Itoa(int(pd.Partition))]; ok {
					r.Moving, r.Adding, r.Removing = true, nonNil(m.AddingReplicas), nonNil(m.RemovingReplicas)
					move = fmt.Sprintf("adding [%s] removing [%s]", cell(r.Adding), cell(r.Removing))
				}
				rows = append(rows, r)
				t.add(r.Topic, r.Partition, r.Leader, r.Replicas, r.ISR, move)
			}
		}
		return e.out(rows, t)
	})
	return cmd
}

func partitionsMove(e *env) *cobra.Command {
	var replicas []int32
	var cancel bool
	cmd := &cobra.Command{Use: "move TOPIC/PARTITION... (--replicas ID,ID,... | --cancel)",
		Short: "Move partitions to a replica set, preferred leader first (AlterPartitionReassignments), or cancel their moves",
		Long: "Starts moving each partition to the brokers given (the first becomes its preferred leader);\n" +
			"the move runs in the background: follow it with `petrel cluster partitions list`.\n" +
			"--cancel stops a move in progress: the partition goes back to its replicas.",
		Args: cobra.MinimumNArgs(1)}
	cmd.Flags().Int32SliceVar(&replicas, "replicas", nil, "broker ids of the new replica set, preferred leader first")
	cmd.Flags().BoolVar(&cancel, "cancel", false, "cancel the moves in progress instead")
	cmd.RunE = e.run(false, func(ctx context.Context, args []string) error {
		if cancel == (len(replicas) > 0) {
			return fmt.Errorf("give either --replicas or --cancel")
		}
		req := kadm.AlterPartitionAssignmentsReq{}
		names := make([]string, len(args))
		for i, a := range args {
			topic, p, err := parsePartitionRef(a)
			if err != nil {
				return err
			}
			if cancel {
				req.CancelAssign(topic, p)
			} else {
				req.Assign(topic, p, replicas)
			}
			names[i] = topic + "/" + strconv.Itoa(int(p))
		}
		cl, adm, err := e.kafka()
		if err != nil {
			return err
		}
		defer cl.Close()
		resp, err := adm.AlterPartitionAssignments(ctx, req)
		if err != nil {
			return err
		}
		return e.printStatus("partition", names, func(name string) error {
			topic, p, _ := parsePartitionRef(name)
			r, ok := resp[topic][p]
			if !ok {
				return fmt.Errorf("no answer for %s", name)
			}
			return describeErr(r.Err, r.ErrMessage)
		})
	})
	return cmd
}

// parsePartitionRef reads TOPIC/PARTITION (topic names have no '/').
func parsePartitionRef(s string) (string, int32, error) {
	topic, p, ok := strings.Cut(s, "/")
	n, err := strconv.ParseInt(p, 10, 32)
	if !ok || topic == "" || err != nil || n < 0 {
		return "", 0, fmt.Errorf("partition %q: want TOPIC/PARTITION, e.g. orders/0", s)
	}
	return topic, int32(n), nil
}

func nonNil(ids []int32) []int32 {
	if ids == nil {
		return []int32{}
	}
	return slices.Clone(ids)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
