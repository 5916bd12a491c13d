package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
	"github.com/petrel-streaming/petrel/internal/failpoint"
)

// Why clock-skew and crash-points cannot run; errors.Is-able.
var (
	// ErrNeedsFailpointBuild: the brokers were built without -tags failpoints.
	ErrNeedsFailpointBuild = errors.New("needs brokers built with -tags failpoints (petrel-chaos --failpoints)")
	// ErrNoClockSeam: the broker reads the wall clock in several places
	// (the storage engine's Now, the group coordinator's clock, Kafka's
	// LogAppendTime and fetch waits), so no single failpoint can offset it.
	ErrNoClockSeam = errors.New("needs a single wall-clock seam in the broker for the clock/offset failpoint: the engine, the group coordinator and the Kafka layer each read time.Now; not built")
)

// Placeholders are the failpoint faults' entries when they cannot run:
// crash-points without a failpoints build, clock-skew always (for now).
func Placeholders(failpoints bool) []Fault {
	out := []Fault{{Name: "clock-skew", Available: unavailable(ErrNoClockSeam)}}
	if !failpoints {
		out = append(out, Fault{Name: "crash-points", Available: unavailable(ErrNeedsFailpointBuild)})
	}
	return out
}

// CrashPointNames are the failpoints the crash-points fault arms: the
// journal's sync boundaries and the Raft hard state (package failpoint).
var CrashPointNames = []string{"storage/before-journal-sync", "storage/after-journal-sync", "raft/before-hardstate"}

// crashSkipMax bounds the calls a crash point lets pass before it panics:
// the crash lands at a random moment of the workload.
const crashSkipMax = 200

// CrashPoints is the crash-points fault of CHAOS.md §2.4 for brokers built
// with -tags failpoints: on a random node, a random point of
// CrashPointNames is armed "N*off->1*panic" (N uniform in [0, 200)) and
// the fault waits up to U(5, 15) s for the crash; heal restarts the node.
// A point not reached in time is disarmed and the node keeps running (a
// detail event says so). The expected outcome is no loss: nothing was
// acknowledged that a crash at these points can take away.
func CrashPoints(c *cluster.Cluster, rng *rand.Rand, log *Log) Fault {
	var target *cluster.Node
	return Fault{Name: "crash-points", Hold: [2]time.Duration{0, time.Second},
		Inject: func(ctx context.Context) error {
			nodes := c.Nodes()
			target = nodes[rng.IntN(len(nodes))]
			point := CrashPointNames[rng.IntN(len(CrashPointNames))]
			spec := fmt.Sprintf("%d*off->1*panic", rng.IntN(crashSkipMax))
			wait := uniform(rng, 5*time.Second, 15*time.Second)
			return armCrash(ctx, "crash-points", target, point, spec, wait, log)
		},
		Heal: func(ctx context.Context) error { return restart(ctx, target) },
	}
}

// WithFault returns faults with f in place of the fault of the same name
// (appended when there is none), e.g. a usable crash-points in place of
// the catalog's placeholder.
func WithFault(faults []Fault, f Fault) []Fault {
	out := append([]Fault(nil), faults...)
	for i := range out {
		if out[i].Name == f.Name {
			out[i] = f
			return out
		}
	}
	return append(out, f)
}

// NegativeControlEnv arms the deliberately broken broker of the negative
// control (CHAOS.md §2.5) at every start: it acknowledges a produce as soon
// as it is proposed, before the commit, and skips every fsync.
var NegativeControlEnv = []string{
	failpoint.EnvName("kafka/ack-before-commit") + "=on",
	failpoint.EnvName("storage/skip-fsync") + "=skip",
}

// ackLossSpec: let 10 hard-state stagings pass, then hold the shard 300 ms
// (the acks already sent reach their clients) and crash with the entries
// of the Ready still in memory only.
const ackLossSpec = "10*off->1*panic(300)"

// AckLoss is the negative control's fault: on every node, the crash point
// raft/before-hardstate is armed with ackLossSpec and the fault waits up to
// 15 s for the crash; heal restarts the nodes. With NegativeControlEnv the
// crash loses records the broker has acknowledged: the entries of the Ready
// being staged were acknowledged at their proposal and are written
// nowhere yet, neither to the journal nor to a segment (a crash at the
// journal's sync would not do: the round's segment writes, in the page
// cache, survive a process crash and recovery keeps them). A node that
// does not crash in time is an error of the fault.
func AckLoss(c *cluster.Cluster, log *Log) Fault {
	return Fault{Name: "ack-loss",
		Inject: func(ctx context.Context) error {
			for _, n := range c.Nodes() {
				if err := armCrash(ctx, "ack-loss", n, "raft/before-hardstate", ackLossSpec, 15*time.Second, log); err != nil {
					return err
				}
				if n.Running() {
					return fmt.Errorf("node %d: raft/before-hardstate=%s did not fire within 15 s", n.ID, ackLossSpec)
				}
			}
			return nil
		},
		Heal: func(ctx context.Context) error { return c.Start(ctx) },
	}
}

// NegativeControl is the negative control's schedule: 5 s warm-up, then
// ack-loss three times with 3 s gaps.
func NegativeControl() Schedule {
	s := Schedule{WarmUp: 5 * time.Second}
	for range 3 {
		s.Steps = append(s.Steps, Step{Fault: "ack-loss", Gap: 3 * time.Second})
	}
	return s
}

// armCrash marks n's coming exit as the harness's, arms point with spec
// and waits up to wait for the exit. When the point is not reached it is
// disarmed and the mark withdrawn (a crash already under way still counts
// as injected).
func armCrash(ctx context.Context, fault string, n *cluster.Node, point, spec string, wait time.Duration, log *Log) error {
	if err := n.ExpectExit(true); err != nil {
		return err
	}
	if err := n.SetFailpoint(ctx, point, spec); err != nil {
		_ = n.ExpectExit(false)
		return err
	}
	log.Add(Event{Ev: "detail", Fault: fault, Node: n.ID, Detail: fmt.Sprintf("armed %s=%s, waiting ≤ %v", point, spec, wait)})
	start := time.Now()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-n.Exited():
		log.Add(Event{Ev: "detail", Fault: fault, Node: n.ID, Detail: fmt.Sprintf("crashed at %s after %v", point, time.Since(start).Round(time.Millisecond))})
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	err := n.SetFailpoint(context.WithoutCancel(ctx), point, "off")
	grace := time.NewTimer(500 * time.Millisecond) // a panic(ms) under way
	defer grace.Stop()
	select {
	case <-n.Exited():
		log.Add(Event{Ev: "detail", Fault: fault, Node: n.ID, Detail: fmt.Sprintf("crashed at %s while being disarmed", point)})
		return nil
	case <-grace.C:
	}
	_ = n.ExpectExit(false)
	log.Add(Event{Ev: "detail", Fault: fault, Node: n.ID, Detail: fmt.Sprintf("%s not reached within %v: disarmed", point, wait)})
	return err
}
