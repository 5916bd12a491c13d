package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

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
	var cancel, wait bool
	cmd := &cobra.Command{Use: "move TOPIC/PARTITION... (--replicas ID,ID,... | --cancel) [--wait]",
		Short: "Move partitions to a replica set, preferred leader first (AlterPartitionReassignments), or cancel their moves",
		Long: "Starts moving each partition to the brokers given (the first becomes its preferred leader);\n" +
			"the move runs in the background: follow it with `petrel cluster partitions list`, or\n" +
			"give --wait to wait until no partition named is moving any more, with a status line on\n" +
			"stderr (bounded by --timeout: raise it for large partitions, e.g. --timeout 1h).\n" +
			"--cancel stops a move in progress: the partition goes back to its replicas.",
		Args: cobra.MinimumNArgs(1)}
	cmd.Flags().Int32SliceVar(&replicas, "replicas", nil, "broker ids of the new replica set, preferred leader first")
	cmd.Flags().BoolVar(&cancel, "cancel", false, "cancel the moves in progress instead")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the moves are done (ListPartitionReassignments), showing their progress")
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
		errOf := func(name string) error {
			topic, p, _ := parsePartitionRef(name)
			r, ok := resp[topic][p]
			if !ok {
				return fmt.Errorf("no answer for %s", name)
			}
			return describeErr(r.Err, r.ErrMessage)
		}
		if wait && !slices.ContainsFunc(names, func(n string) bool { return errOf(n) != nil }) {
			if err := waitForMoves(ctx, e.status(), movePollInterval, len(names), movesOf(adm, names)); err != nil {
				return err
			}
		}
		return e.printStatus("partition", names, errOf)
	})
	return cmd
}

// movePollInterval paces move --wait and decommission --wait.
const movePollInterval = 500 * time.Millisecond

// movesFunc lists which partitions (of those a command waits for) are
// still moving, each with its move ("adding [3] removing [1]").
type movesFunc func(ctx context.Context) (map[string]string, error)

// movesOf lists the moves of the partitions named (TOPIC/PARTITION)
// through ListPartitionReassignments.
func movesOf(adm *kadm.Client, names []string) movesFunc {
	set := kadm.TopicsSet{}
	for _, n := range names {
		topic, p, _ := parsePartitionRef(n)
		set.Add(topic, p)
	}
	return func(ctx context.Context) (map[string]string, error) {
		resp, err := adm.ListPartitionReassignments(ctx, set)
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, r := range resp.Sorted() {
			if set.Lookup(r.Topic, r.Partition) {
				out[r.Topic+"/"+strconv.Itoa(int(r.Partition))] = fmt.Sprintf("adding [%s] removing [%s]", cell(r.AddingReplicas), cell(r.RemovingReplicas))
			}
		}
		return out, nil
	}
}

// waitForMoves polls list until none of the total partitions is moving,
// with their progress on st; when ctx ends first, the error names what is
// left.
func waitForMoves(ctx context.Context, st *statusLine, interval time.Duration, total int, list movesFunc) error {
	var moving map[string]string
	err := pollUntil(ctx, interval, st, func(ctx context.Context) (string, bool, error) {
		var err error
		if moving, err = list(ctx); err != nil {
			return "", false, err
		}
		return fmt.Sprintf("moves: %d of %d partitions done, %d moving%s", total-len(moving), total, len(moving), firstMove(moving)), len(moving) == 0, nil
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w: %d of %d partitions still moving%s (%v); follow them with `petrel cluster partitions list`",
			ErrNotFinished, len(moving), total, firstMove(moving), ctx.Err())
	}
	return err
}

// firstMove is ", " and the first moving partition (by name) with its move.
func firstMove(moving map[string]string) string {
	if len(moving) == 0 {
		return ""
	}
	names := slices.Sorted(maps.Keys(moving))
	more := ""
	if len(names) > 1 {
		more = ", …"
	}
	return " (" + names[0] + " " + moving[names[0]] + more + ")"
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
