package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// errChecksFailed: a safety check failed (exit status 1).
var errChecksFailed = errors.New("safety checks failed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := newCommand().ExecuteContext(ctx)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errChecksFailed):
		os.Exit(1)
	case errors.As(err, new(exitCode)):
		var code exitCode
		errors.As(err, &code)
		os.Exit(int(code))
	case errors.Is(err, errNegativeNotCaught):
		fmt.Fprintln(os.Stderr, "petrel-chaos:", err)
		os.Exit(3)
	default:
		fmt.Fprintln(os.Stderr, "petrel-chaos:", err)
		os.Exit(2)
	}
}

func newCommand() *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:           "petrel-chaos",
		Short:         "Run Petrel's chaos harness: faults, a recorded workload, checkers",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&o.seed, "seed", 0, "schedule and workload seed (0: random, printed)")
	f.DurationVar(&o.duration, "duration", 10*time.Minute, "fault phase length, warm-up included (ignored with --smoke)")
	f.IntVar(&o.nodes, "nodes", 1, "brokers: 1, or a cluster of 3+ (topics RF 3, cluster faults, probes, replica digests)")
	f.StringSliceVar(&o.only, "faults", nil, "draw the random schedule from these faults only (e.g. isolate,leader-transfer-storm); the others are listed as skipped")
	f.IntVar(&o.shards, "shards", 0, "shards per broker (0: 2)")
	f.StringVar(&o.net, "net", modeAuto, "where a cluster runs: netns (re-run under unshare --net: network faults with nftables; needs root, nft, unshare), loopback (no network faults), auto (netns when possible)")
	f.DurationVar(&o.targets.Unavailable, "max-unavailability", 0, "liveness target: per fault, fault → first ack on every partition (0: figure only)")
	f.DurationVar(&o.targets.Recovery, "max-recovery", 0, "liveness target: per fault, heal → first ack on every partition (0: figure only)")
	f.StringVar(&o.binary, "binary", "", "petrel binary (default: build ./cmd/petrel into the run dir; built there if the path is absent)")
	f.StringVar(&o.runDir, "run-dir", "", "run directory (default: a new temporary directory)")
	f.BoolVar(&o.smoke, "smoke", false, "the fixed CI sequence: one node: kill -9, pause 8 s, kill-all, power-fail (with the FUSE layer), terminate, truncate-tail; --nodes 3: kill -9 of a leader, isolate a leader 8 s (netns); 5 s gaps; 30 s final read")
	f.BoolVar(&o.keep, "keep", false, "keep the run directory even when every check passes")
	f.IntVar(&o.rate, "rate", 300, "records/s over every producer")
	f.BoolVar(&o.noG18, "no-g18", false, "do not hold ListOffsets(latest) to linearizability (G18)")
	f.BoolVar(&o.race, "race", false, "build the broker with -race (when --binary is built)")
	f.BoolVar(&o.failpoints, "failpoints", false, "build the broker with -tags failpoints (when --binary is built) and add crash-points to the random schedule")
	f.BoolVar(&o.negative, "negative-control", false, "the negative control: a failpoints broker that acks before the commit and skips fsync, crashed 3 times; passes only if lost-write fails (exit 1; 3 = not caught)")
	f.BoolVar(&o.fuse, "fuse", true, "put each data dir on the FUSE disk layer when possible (root, /dev/fuse): power-fail, power-fail-all, slow-disk, eio-fsync")
	return cmd
}
