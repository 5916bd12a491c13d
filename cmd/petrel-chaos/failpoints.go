package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
	"github.com/petrel-streaming/petrel/internal/chaos/nemesis"
)

// errNegativeNotCaught: the negative control lost acknowledged records on
// purpose and no check saw it; the harness is broken (exit status 3).
var errNegativeNotCaught = errors.New("negative control NOT caught: the broker lost acknowledged records on purpose and no check failed; the harness is broken")

// withFailpoints reports whether the brokers are built with -tags failpoints.
func (o options) withFailpoints() bool { return o.failpoints || o.negative }

// fixedSchedule: a run whose schedule is a fixed sequence (no duration, no
// quiesce).
func (o options) fixedSchedule() bool { return o.smoke || o.negative }

// buildTags are the tags the broker is built with when --binary is absent.
func (o options) buildTags() []string {
	if o.withFailpoints() {
		return []string{"failpoints"}
	}
	return nil
}

// brokerEnv arms the negative control's broken broker at every start.
func (o options) brokerEnv() []string {
	if o.negative {
		return nemesis.NegativeControlEnv
	}
	return nil
}

// setupFailpoints checks the running brokers have failpoints when the run
// needs them, says so, and puts the usable crash-points fault in the
// catalog, or the ack-loss fault of the negative control.
func (o options) setupFailpoints(ctx context.Context, c *cluster.Cluster, faults []nemesis.Fault, log *nemesis.Log, out io.Writer) ([]nemesis.Fault, error) {
	for _, f := range nemesis.Placeholders(o.withFailpoints()) {
		faults = nemesis.WithFault(faults, f)
	}
	if !o.withFailpoints() {
		return faults, nil
	}
	for _, n := range c.Nodes() {
		if err := n.CheckFailpoints(ctx); err != nil {
			return nil, fmt.Errorf("--failpoints/--negative-control need a broker built with -tags failpoints (--binary %s): %w", o.binary, err)
		}
	}
	faults = nemesis.WithFault(faults, nemesis.CrashPoints(c, rand.New(rand.NewPCG(o.seed, 0x6372617368)), log))
	if o.negative {
		fmt.Fprintf(out, "negative control: brokers ack before the commit and skip fsync (%v); raft/before-hardstate crashes them 3 times; lost-write must fail\n",
			nemesis.NegativeControlEnv)
		return nemesis.WithFault(faults, nemesis.AckLoss(c, log)), nil
	}
	fmt.Fprintf(out, "failpoints: compiled in; crash-points panics at %v\n", nemesis.CrashPointNames)
	return faults, nil
}

// negativeOutcome is the negative control's verdict over the checks: caught
// when lost-write or read-then-lost counted something.
func negativeOutcome(s *summary) string {
	for _, r := range s.Checks {
		if (r.Name == "lost-write" || r.Name == "read-then-lost") && !r.Passed && r.Count > 0 {
			return fmt.Sprintf("caught by %s (%d)", r.Name, r.Count)
		}
	}
	return "not caught"
}

// negativeExit is the negative control's result: errChecksFailed (exit 1)
// when the loss was caught, as it must be; errNegativeNotCaught otherwise.
func negativeExit(s *summary) error {
	if s.NegativeControl == "not caught" {
		return errNegativeNotCaught
	}
	return errChecksFailed
}
