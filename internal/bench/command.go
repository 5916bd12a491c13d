package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/petrel-streaming/petrel/internal/bench/rawdisk"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// NewCommand returns `bench` and its subcommands: produce, consume, e2e,
// disk, topic, peer and failover. Results print as one line of key=value pairs, or
// as JSON with --json.
func NewCommand(logger *slog.Logger) *cobra.Command {
	root := &cobra.Command{
		Use:   "bench",
		Short: "Load generator, raw disk limits and reference brokers for benchmarks",
	}
	var asJSON bool
	root.PersistentFlags().BoolVar(&asJSON, "json", false, "print results as JSON")
	produce := produceCommand("produce", "Produce records and report MB/s, records/s and ack latency", 0,
		func(ctx context.Context, o ProduceOptions) (any, error) { return Produce(ctx, o, logger) }, &asJSON)
	e2e := produceCommand("e2e", "Produce at a rate and report produce→consume latency", 10_000_000,
		func(ctx context.Context, o ProduceOptions) (any, error) { return E2E(ctx, o, logger) }, &asJSON)
	var cBrokers, tBrokers string

	var co ConsumeOptions
	consume := &cobra.Command{
		Use:   "consume",
		Short: "Read a topic from its start to its end offsets and report MB/s",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			co.Brokers = splitBrokers(cBrokers)
			res, err := Consume(c.Context(), co)
			return report(c.OutOrStdout(), asJSON, "consume", res, err)
		},
	}
	brokersFlag(consume, &cBrokers)
	consume.Flags().StringVar(&co.Topic, "topic", "bench", "topic")
	consume.Flags().DurationVar(&co.Timeout, "timeout", 5*time.Minute, "bounds the run")

	var topicPartitions int
	var topicReplicas int16
	var topicName string
	topic := &cobra.Command{
		Use:   "topic",
		Short: "Create a topic (if missing) and wait for its leaders",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			start := time.Now()
			err := EnsureTopic(c.Context(), splitBrokers(tBrokers), topicName, topicPartitions, topicReplicas)
			return report(c.OutOrStdout(), asJSON, "topic", struct {
				Topic      string  `json:"topic"`
				Partitions int     `json:"partitions"`
				Seconds    float64 `json:"seconds"`
			}{topicName, topicPartitions, time.Since(start).Seconds()}, err)
		},
	}
	brokersFlag(topic, &tBrokers)
	topic.Flags().StringVar(&topicName, "topic", "bench", "topic")
	topic.Flags().IntVar(&topicPartitions, "partitions", 1, "partitions")
	topic.Flags().Int16Var(&topicReplicas, "replication-factor", 1, "replication factor (-1: the broker's default)")

	var diskDir string
	var diskDur time.Duration
	disk := &cobra.Command{
		Use:   "disk",
		Short: "Raw limits of a directory's file system: 1 MiB write+fdatasync MB/s, 4 KiB write+fdatasync latency",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			res, err := Disk(vfs.NewOS(), diskDir, diskDur)
			return report(c.OutOrStdout(), asJSON, "disk", res, err)
		},
	}
	disk.Flags().StringVar(&diskDir, "dir", ".", "directory on the file system to measure")
	disk.Flags().DurationVar(&diskDur, "duration", 4*time.Second, "length of each of the two measurements")

	var peerAddr, peerDir string
	var peerValueBytes int
	peer := &cobra.Command{
		Use:       "peer kfake|null",
		Short:     "Run a reference broker until SIGTERM: kfake (DataDir + SyncWrites) or null (acks without storing)",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"kfake", "null"},
		RunE: func(c *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return RunPeer(ctx, args[0], peerAddr, peerDir, peerValueBytes, logger, func(addr string) {
				fmt.Fprintf(c.OutOrStdout(), "peer %s listening on %s pid %d\n", args[0], addr, os.Getpid())
			})
		},
	}
	peer.Flags().StringVar(&peerAddr, "addr", "127.0.0.1:9092", "listen address")
	peer.Flags().StringVar(&peerDir, "data-dir", "", "kfake: data directory")
	peer.Flags().IntVar(&peerValueBytes, "record-size", 1024, "null: value size of fetched records for partitions not produced to")

	root.AddCommand(produce, consume, e2e, topic, disk, peer, failoverCommand(logger, &asJSON))
	return root
}

// failoverCommand is one failover round (Failover): it kills the leader's
// process, one of those given with --pids.
func failoverCommand(logger *slog.Logger, asJSON *bool) *cobra.Command {
	var o FailoverOptions
	var brokers, pids string
	c := &cobra.Command{
		Use:   "failover",
		Short: "Kill -9 a partition's leader (a PID given with --pids) under an acks=all producer; report kill → first ack",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o.Brokers = splitBrokers(brokers)
			var err error
			if o.Pids, err = ParsePids(pids); err != nil {
				return err
			}
			res, err := Failover(c.Context(), o, logger)
			return report(c.OutOrStdout(), *asJSON, "failover", res, err)
		},
	}
	brokersFlag(c, &brokers)
	f := c.Flags()
	f.StringVar(&pids, "pids", "", "node=pid,…: the brokers' processes (the leader among them is killed)")
	f.StringVar(&o.Topic, "topic", "failover", "topic (one partition, created if missing)")
	f.Int16Var(&o.Replicas, "replication-factor", 3, "replication factor of the topic if it is created")
	f.IntVar(&o.RecordBytes, "record-size", 1024, "value bytes per record")
	f.DurationVar(&o.Interval, "interval", failoverInterval, "time between records")
	f.DurationVar(&o.Timeout, "timeout", failoverTimeout, "bounds the round")
	return c
}

func brokersFlag(c *cobra.Command, brokers *string) {
	c.Flags().StringVar(brokers, "brokers", "127.0.0.1:9092", "comma-separated seed brokers")
}

func splitBrokers(s string) []string { return strings.Split(s, ",") }

// produceCommand builds produce or e2e: the same flags (rate's default
// aside) feeding run.
func produceCommand(use, short string, rate int64, run func(context.Context, ProduceOptions) (any, error), asJSON *bool) *cobra.Command {
	var o ProduceOptions
	var brokers string
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o.Brokers = splitBrokers(brokers)
			res, err := run(c.Context(), o)
			return report(c.OutOrStdout(), *asJSON, use, res, err)
		},
	}
	brokersFlag(c, &brokers)
	f := c.Flags()
	f.StringVar(&o.Topic, "topic", "bench", "topic (created if missing)")
	f.IntVar(&o.Partitions, "partitions", 1, "partitions of the topic if it is created; records go round-robin")
	f.Int16Var(&o.Replicas, "replication-factor", 1, "replication factor of the topic if it is created (-1: the broker's default)")
	f.IntVar(&o.RecordBytes, "record-size", 1024, "value bytes per record")
	f.StringVar(&o.Acks, "acks", "all", "all, 1 or 0")
	f.Int64Var(&o.RateBytes, "rate", rate, "bytes/s, open-loop arrivals (0: as fast as possible)")
	f.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to produce (0: until --max-records)")
	f.Int64Var(&o.MaxRecords, "max-records", 0, "stop after this many records (0: no limit)")
	f.IntVar(&o.MaxInflight, "max-inflight", 5, "produce requests in flight per broker (non-idempotent)")
	f.DurationVar(&o.Linger, "linger", 0, "client linger")
	f.IntVar(&o.BatchMaxBytes, "batch-max-bytes", 0, "client batch size cap (0: franz-go's default)")
	f.StringVar(&o.Compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	f.BoolVar(&o.Idempotent, "idempotent", false, "idempotent producer (needs acks=all)")
	return c
}

// DiskResult is the raw limits of one file system (see rawdisk).
type DiskResult struct {
	Dir        string  `json:"dir"`
	MBps1MiB   float64 `json:"mb_per_s_1mib"`
	P50us1MiB  int64   `json:"p50_us_1mib"`
	P50us4KiB  int64   `json:"p50_us_4kib"`
	P99us4KiB  int64   `json:"p99_us_4kib"`
	Samples4K  int     `json:"samples_4kib"`
	Samples1M  int     `json:"samples_1mib"`
	SecondsPer float64 `json:"seconds_each"`
}

// Disk measures dir's file system the way BenchmarkEngine does: 1 MiB
// blocks in a 200 MiB file, 4 KiB blocks in a 64 MiB file, fdatasync
// after each write, dur each.
func Disk(fs vfs.FS, dir string, dur time.Duration) (DiskResult, error) {
	big, err := rawdisk.Measure(fs, filepath.Join(dir, "petrel-bench-raw1m"), 1<<20, 200<<20, dur)
	if err != nil {
		return DiskResult{}, err
	}
	small, err := rawdisk.Measure(fs, filepath.Join(dir, "petrel-bench-raw4k"), 4<<10, 64<<20, dur)
	if err != nil {
		return DiskResult{}, err
	}
	return DiskResult{
		Dir: dir, MBps1MiB: big.MBps, P50us1MiB: big.P50.Microseconds(),
		P50us4KiB: small.P50.Microseconds(), P99us4KiB: small.P99.Microseconds(),
		Samples4K: small.Samples, Samples1M: big.Samples, SecondsPer: dur.Seconds(),
	}, nil
}

// report prints res (a struct with json tags) as JSON or as one line
// "name key=value …" (nested structs as prefix_key), then returns err.
// On error the partial result is still printed.
func report(w io.Writer, asJSON bool, name string, res any, err error) error {
	if asJSON {
		out := map[string]any{"bench": name, "result": res}
		if err != nil {
			out["error"] = err.Error()
		}
		b, merr := json.Marshal(out)
		if merr != nil {
			return merr
		}
		fmt.Fprintln(w, string(b))
		return err
	}
	var sb strings.Builder
	sb.WriteString(name)
	appendFields(&sb, "", reflect.ValueOf(res))
	fmt.Fprintln(w, sb.String())
	return err
}

func appendFields(sb *strings.Builder, prefix string, v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			appendFields(sb, prefix+tag+"_", f)
			continue
		}
		switch x := f.Interface().(type) {
		case float64:
			fmt.Fprintf(sb, " %s%s=%.3f", prefix, tag, x)
		case string:
			if x != "" {
				fmt.Fprintf(sb, " %s%s=%q", prefix, tag, x)
			}
		default:
			fmt.Fprintf(sb, " %s%s=%v", prefix, tag, x)
		}
	}
}

// Run executes the bench command with args: for a small main and tests.
func Run(ctx context.Context, args []string, out io.Writer, logger *slog.Logger) error {
	cmd := NewCommand(logger)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SilenceUsage = true
	return cmd.ExecuteContext(ctx)
}
