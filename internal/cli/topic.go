package cli

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

func topicCommand(d Deps) *cobra.Command {
	cmd, e := d.group("topic", "Create, inspect, change, produce to and consume from topics", "")
	cmd.AddCommand(topicCreate(e), topicDelete(e), topicList(e), topicDescribe(e), topicAlterConfig(e),
		topicAddPartitions(e), topicTrimPrefix(e), topicProduce(e), topicConsume(e))
	return cmd
}

// statusRow is the outcome of a change to one named item (topic, group).
type statusRow struct {
	Name  string `json:"name" yaml:"name"`
	Error string `json:"error,omitempty" yaml:"error,omitempty"`
}

// printStatus prints a NAME/STATUS row per item and fails when one failed.
func (e *env) printStatus(kind string, names []string, errOf func(name string) error) error {
	rows := []statusRow{}
	t := table{header: []string{strings.ToUpper(kind), "STATUS"}}
	failed := 0
	for _, n := range names {
		err := errOf(n)
		if err != nil {
			failed++
		}
		rows = append(rows, statusRow{Name: n, Error: errString(err)})
		t.add(n, err)
	}
	if err := e.out(rows, t); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d %ss: %w", failed, len(names), kind, ErrFailed)
	}
	return nil
}

// topicsMetadata returns the topics' metadata, or the error of the first
// one missing (a producer or consumer would wait for it until its timeout).
func topicsMetadata(ctx context.Context, adm *kadm.Client, topics []string) (kadm.Metadata, error) {
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return md, err
	}
	for _, t := range topics {
		if td := md.Topics[t]; td.Err != nil {
			return md, fmt.Errorf("topic %s: %w", t, td.Err)
		}
	}
	return md, nil
}

// parseKV reads "key=value" items.
func parseKV(items []string, what string) ([][2]string, error) {
	var out [][2]string
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want key=value", what, it)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

func topicCreate(e *env) *cobra.Command {
	var (
		partitions int32
		replicas   int16
		configs    []string
		dry        bool
	)
	cmd := &cobra.Command{Use: "create TOPIC...", Short: "Create topics", Args: cobra.MinimumNArgs(1)}
	cmd.Flags().Int32VarP(&partitions, "partitions", "p", -1, "partitions per topic (-1: the broker's default)")
	cmd.Flags().Int16VarP(&replicas, "replicas", "r", -1, "replication factor (-1: the broker's default)")
	cmd.Flags().StringArrayVarP(&configs, "config", "c", nil, "topic config key=value, repeatable (cleanup.policy=compact)")
	cmd.Flags().BoolVar(&dry, "dry-run", false, "validate only")
	cmd.RunE = e.run(false, func(ctx context.Context, topics []string) error {
		kvs, err := parseKV(configs, "--config")
		if err != nil {
			return err
		}
		cfg := map[string]*string{}
		for _, kv := range kvs {
			cfg[kv[0]] = &kv[1]
		}
		cl, adm, err := e.kafka()
		if err != nil {
			return err
		}
		defer cl.Close()
		create := adm.CreateTopics
		if dry {
			create = adm.ValidateCreateTopics
		}
		resp, err := create(ctx, partitions, replicas, cfg, topics...)
		if err != nil {
			return err
		}
		return e.printStatus("topic", topics, func(t string) error { return describeErr(resp[t].Err, resp[t].ErrMessage) })
	})
	return cmd
}

func topicDelete(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "delete TOPIC...", Short: "Delete topics and all their records", Args: cobra.MinimumNArgs(1)}
	cmd.RunE = e.run(false, func(ctx context.Context, topics []string) error {
		cl, adm, err := e.kafka()
		if err != nil {
			return err
		}
		defer cl.Close()
		resp, err := adm.DeleteTopics(ctx, topics...)
		if err != nil {
			return err
		}
		return e.printStatus("topic", topics, func(t string) error { return describeErr(resp[t].Err, resp[t].ErrMessage) })
	})
	return cmd
}

// topicSummary is one topic as `topic list` prints it.
type topicSummary struct {
	Name       string `json:"name" yaml:"name"`
	Partitions int    `json:"partitions" yaml:"partitions"`
	Replicas   int    `json:"replicas" yaml:"replicas"`
	Internal   bool   `json:"internal,omitempty" yaml:"internal,omitempty"`
}

func summarize(d kadm.TopicDetail) topicSummary {
	s := topicSummary{Name: d.Topic, Partitions: len(d.Partitions), Internal: d.IsInternal}
	for _, p := range d.Partitions {
		s.Replicas = max(s.Replicas, len(p.Replicas))
	}
	return s
}

func topicList(e *env) *cobra.Command {
	var internal bool
	cmd := &cobra.Command{Use: "list [REGEXP...]", Aliases: []string{"ls"}, Short: "List topics (those matching any REGEXP, if given)"}
	cmd.Flags().BoolVarP(&internal, "internal", "i", false, "include internal topics (__consumer_offsets)")
	cmd.RunE = e.run(false, func(ctx context.Context, args []string) error {
		var res []*regexp.Regexp
		for _, a := range args {
			re, err := regexp.Compile(a)
			if err != nil {
				return fmt.Errorf("topic filter: %w", err)
			}
			res = append(res, re)
		}
		cl, adm, err := e.kafka()
		if err != nil {
			return err
		}
		defer cl.Close()
		list := adm.ListTopics
		if internal {
			list = adm.ListTopicsWithInternal
		}
		tds, err := list(ctx)
		if err != nil {
			return err
		}
		rows := []topicSummary{}
		t := table{header: []string{"NAME", "PARTITIONS", "REPLICAS"}}
		for _, name := range tds.Names() {
			if len(res) > 0 && !slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return re.MatchString(name) }) {
				continue
			}
			s := summarize(tds[name])
			rows = append(rows, s)
			t.add(s.Name, s.Partitions, s.Replicas)
		}
		return e.out(rows, t)
	})
	return cmd
}

// partitionInfo is one partition as `topic describe` prints it.
type partitionInfo struct {
	Partition     int32   `json:"partition" yaml:"partition"`
	Leader        int32   `json:"leader" yaml:"leader"`
	LeaderEpoch   int32   `json:"leader_epoch" yaml:"leader_epoch"`
	Replicas      []int32 `json:"replicas" yaml:"replicas,flow"`
	ISR           []int32 `json:"isr" yaml:"isr,flow"`
	HighWatermark int64   `json:"high_watermark" yaml:"high_watermark"`
	LogStart      int64   `json:"log_start" yaml:"log_start"`
	Error         string  `json:"error,omitempty" yaml:"error,omitempty"`
}

// configInfo is one config entry.
type configInfo struct {
	Key    string  `json:"key" yaml:"key"`
	Value  *string `json:"value" yaml:"value"`
	Source string  `json:"source" yaml:"source"`
}

// topicInfo is one topic as `topic describe` prints it.
type topicInfo struct {
	topicSummary `yaml:",inline"`
	ID           string          `json:"id" yaml:"id"`
	Configs      []configInfo    `json:"configs" yaml:"configs"`
	Partitions   []partitionInfo `json:"partitions_detail" yaml:"partitions_detail"`
}

func configInfos(rc kadm.ResourceConfig) []configInfo {
	out := []configInfo{}
	for _, c := range rc.Configs {
		out = append(out, configInfo{Key: c.Key, Value: c.Value, Source: c.Source.String()})
	}
	slices.SortFunc(out, func(a, b configInfo) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func configTable(title string, cs []configInfo) table {
	t := table{title: title, header: []string{"KEY", "VALUE", "SOURCE"}}
	for _, c := range cs {
		v := "(null)"
		if c.Value != nil {
			v = *c.Value
		}
		t.add(c.Key, v, c.Source)
	}
	return t
}

func topicDescribe(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "describe TOPIC...", Aliases: []string{"info"}, Short: "Show topics' partitions (leader, replicas, ISR, high watermark, log start) and configs",
		Args: cobra.MinimumNArgs(1)}
	cmd.RunE = e.run(false, func(ctx context.Context, topics []string) error {
		cl, adm, err := e.kafka()
		if err != nil {
			return err
		}
		defer cl.Close()
		md, err := topicsMetadata(ctx, adm, topics)
		if err != nil {
			return err
		}
		starts, err := adm.ListStartOffsets(ctx, topics...)
		if err != nil {
			return err
		}
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err != nil {
			return err
		}
		rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
		if err != nil {
			return err
		}
		var infos []topicInfo
		var tables []table
		for _, name := range topics {
			td := md.Topics[name]
			info := topicInfo{topicSummary: summarize(td), ID: td.ID.String(), Configs: []configInfo{}}
			if rc, err := rcs.On(name, nil); err == nil {
				if rc.Err != nil {
					return fmt.Errorf("configs of %s: %w", name, rc.Err)
				}
				info.Configs = configInfos(rc)
			}
			pt := table{title: "PARTITIONS", header: []string{"PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "HIGH-WATERMARK", "LOG-START"}}
			for _, pd := range td.Partitions.Sorted() {
				pi := partitionInfo{Partition: pd.Partition, Leader: pd.Leader, LeaderEpoch: pd.LeaderEpoch,
					Replicas: pd.Replicas, ISR: pd.ISR, HighWatermark: -1, LogStart: -1, Error: errString(pd.Err)}
				if o, ok := ends.Lookup(name, pd.Partition); ok && o.Err == nil {
					pi.HighWatermark = o.Offset
				}
				if o, ok := starts.Lookup(name, pd.Partition); ok && o.Err == nil {
					pi.LogStart = o.Offset
				}
				info.Partitions = append(info.Partitions, pi)
				pt.add(pi.Partition, pi.Leader, pi.LeaderEpoch, pi.Replicas, pi.ISR, pi.HighWatermark, pi.LogStart)
			}
			infos = append(infos, info)
			sum := table{title: "SUMMARY", rows: [][]string{
				{"NAME", info.Name}, {"ID", info.ID}, {"INTERNAL", cell(info.Internal)},
				{"PARTITIONS", cell(info.topicSummary.Partitions)}, {"REPLICAS", cell(info.Replicas)},
			}}
			tables = append(tables, sum, configTable("CONFIGS", info.Configs), pt)
		}
		return e.out(infos, tables...)
	})
	return cmd
}

func topicAlterConfig(e *env) *cobra.Command {
	var set, del, add, sub []string
	var dry bool
	cmd := &cobra.Command{Use: "alter-config TOPIC...", Short: "Set, delete (back to the default), append to or subtract from topic configs",
		Args: cobra.MinimumNArgs(1)}
	f := cmd.Flags()
	f.StringArrayVarP(&set, "set", "s", nil, "key=value to set, repeatable")
	f.StringArrayVarP(&del, "delete", "d", nil, "key to return to its default, repeatable")
	f.StringArrayVar(&add, "append", nil, "key=value to add to a list config, repeatable")
	f.StringArrayVar(&sub, "subtract", nil, "key=value to remove from a list config, repeatable")
	f.BoolVar(&dry, "dry-run", false, "validate only")
	cmd.RunE = e.run(false, func(ctx context.Context, topics []string) error {
		var alters []kadm.AlterConfig
		for _, g := range []struct {
			items []string
			op    kadm.IncrementalOp
			flag  string
		}{{set, kadm.SetConfig, "--set"}, {add, kadm.AppendConfig, "--append"}, {sub, kadm.SubtractConfig, "--subtract"}} {
			kvs, err := parseKV(g.items, g.flag)
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				alters = append(alters, kadm.AlterConfig{Op: g.op, Name: kv[0], Value: &kv[1]})
			}
		}
		for _, k := range del {
			alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
		}
		if len(alters) == 0 {
			return fmt.Errorf("nothing to change: give --set, --delete, --append or --subtract")
		}
		cl, adm, err := e.kafka()
		if err != nil {
			return err
		}
		defer cl.Close()
		alter := adm.AlterTopicConfigs
		if dry {
			alter = adm.ValidateAlterTopicConfigs
		}
		resp, err := alter(ctx, alters, topics...)
		if err != nil {
			return err
		}
		byName := map[string]kadm.AlterConfigsResponse{}
		for _, r := range resp {
			byName[r.Name] = r
		}
		return e.printStatus("topic", topics, func(t string) error { return describeErr(byName[t].Err, byName[t].ErrMessage) })
	})
	return cmd
}

func topicAddPartitions(e *env) *cobra.Command {
	var n int
	cmd := &cobra.Command{Use: "add-partitions TOPIC...", Short: "Add partitions to topics (they can never be removed)", Args: cobra.MinimumNArgs(1)}
	cmd.Flags().IntVarP(&n, "num", "n", 0, "how many partitions to add (required)")
	cmd.RunE = e.run(false, func(ctx context.Context, topics []string) error {
		if n <= 0 {
			return fmt.Errorf("--num: want a positive number of partitions to add")
		}
		cl, adm, err := e.kafka()
		if err != nil {
			return err
		}
		defer cl.Close()
		resp, err := adm.CreatePartitions(ctx, n, topics...)
		if err != nil {
			return err
		}
		return e.printStatus("topic", topics, func(t string) error { return describeErr(resp[t].Err, resp[t].ErrMessage) })
	})
	return cmd
}

// trimResult is one partition's new log start after trim-prefix.
type trimResult struct {
	Topic     string `json:"topic" yaml:"topic"`
	Partition int32  `json:"partition" yaml:"partition"`
	LogStart  int64  `json:"log_start" yaml:"log_start"`
	Error     string `json:"error,omitempty" yaml:"error,omitempty"`
}

func topicTrimPrefix(e *env) *cobra.Command {
	var offset string
	var parts []string
	cmd := &cobra.Command{Use: "trim-prefix TOPIC", Short: "Delete a topic's records before an offset (DeleteRecords)",
		Long: "Moves the log start of the partitions to the offset (start|end|N|@timestamp);\nrecords before it are gone for consumers at once and from disk soon after.",
		Args: cobra.ExactArgs(1)}
	cmd.Flags().StringVarP(&offset, "offset", "o", "", "new log start: end, N, or @timestamp (required)")
	cmd.Flags().StringSliceVarP(&parts, "partitions", "p", nil, "partitions to trim (default all)")
	cmd.RunE = e.run(false, func(ctx context.Context, args []string) error {
		spec, err := parseOffset(offset)
		if err != nil {
			return fmt.Errorf("--offset: %w", err)
		}
		only, err := parsePartitions(parts)
		if err != nil {
			return err
		}
		cl, adm, err := e.kafka()
		if err != nil {
			return err
		}
		defer cl.Close()
		lo, err := spec.resolve(ctx, adm, args[0])
		if err != nil {
			return err
		}
		os := kadm.Offsets{}
		for _, o := range lo.Offsets().Sorted() {
			if len(only) == 0 || slices.Contains(only, o.Partition) {
				o.LeaderEpoch = -1
				os.Add(o)
			}
		}
		resp, err := adm.DeleteRecords(ctx, os)
		if err != nil {
			return err
		}
		rs := []trimResult{}
		t := table{header: []string{"TOPIC", "PARTITION", "LOG-START", "STATUS"}}
		failed := 0
		for _, r := range resp.Sorted() {
			rs = append(rs, trimResult{Topic: r.Topic, Partition: r.Partition, LogStart: r.LowWatermark, Error: errString(r.Err)})
			t.add(r.Topic, r.Partition, r.LowWatermark, describeErr(r.Err, ""))
			if r.Err != nil {
				failed++
			}
		}
		if err := e.out(rs, t); err != nil {
			return err
		}
		if failed > 0 {
			return fmt.Errorf("%d partitions: %w", failed, ErrFailed)
		}
		return nil
	})
	return cmd
}
