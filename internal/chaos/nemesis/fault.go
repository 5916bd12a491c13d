package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
	"github.com/petrel-streaming/petrel/internal/chaos/diskfault"
)

// Fault is one kind of damage with its undo.
type Fault struct {
	Name string
	// Available is nil when the fault can run here, else why it cannot.
	Available func() error
	// Inject breaks something; an error is a finding (e.g. terminate took
	// more than 30 s).
	Inject func(ctx context.Context) error
	// Heal undoes Inject and waits until every node it touched is ready.
	Heal func(ctx context.Context) error
	// Hold bounds how long the fault stays injected: U(Hold[0], Hold[1]).
	Hold [2]time.Duration
}

// Usable reports whether Available allows the fault.
func (f Fault) Usable() bool { return f.Available == nil || f.Available() == nil }

// Reasons why a fault cannot run yet; errors.Is-able.
var (
	ErrNeedsCluster   = errors.New("needs a cluster of 3 or more nodes (petrel-chaos --nodes 3)")
	ErrNeedsProxy     = errors.New("needs the userspace delay proxy of CHAOS.md §2.1 (no tc netem in this kernel) between nodes: the proxy is built (internal/chaos/delayproxy) but the cluster harness does not route node-to-node traffic through it yet")
	ErrNeedsFUSE      = errors.New("needs the FUSE disk layer of internal/chaos/diskfault")
	ErrNeedsLoopExt4  = errors.New("needs a loop-mounted ext4 data dir small enough to fill (with a small --journal-bytes): the loop mount and fill/free fault are not built yet")
	ErrNeedsPeers     = errors.New("needs peers to repair from (the cluster issue): on one node a flipped sealed segment is unrecoverable by design")
	ErrNeedsFailpoint = errors.New("needs broker failpoints: not built yet")
)

func unavailable(err error) func() error { return func() error { return err } }

// Catalog is every fault of CHAOS.md §2.4 for c that needs no cluster,
// and the unavailable ones with their reason; ClusterFaults adds the
// cluster's (WithFault). rng picks target nodes; log receives detail events;
// disks are the nodes' FUSE layers (or why there are none) for the disk
// faults.
func Catalog(c *cluster.Cluster, rng *rand.Rand, log *Log, disks Disks) []Fault {
	nf := &nodeFaults{c: c, rng: rng, log: log}
	faults := []Fault{
		nf.kill(), nf.killAll(), nf.terminate(), nf.pause(), nf.truncateTail(),
	}
	faults = append(faults, nf.diskFaults(disks)...)
	for _, u := range []struct {
		name string
		err  error
	}{
		{"slow-net", ErrNeedsProxy},
		{"disk-full", ErrNeedsLoopExt4}, {"bitflip", ErrNeedsPeers},
		{"clock-skew", ErrNeedsFailpoint}, {"crash-points", ErrNeedsFailpoint},
	} {
		faults = append(faults, Fault{Name: u.name, Available: unavailable(u.err)})
	}
	return faults
}

// nodeFaults are the process and offline-disk faults; target is the node
// the current injection hit (one fault at a time).
type nodeFaults struct {
	c      *cluster.Cluster
	rng    *rand.Rand
	log    *Log
	mu     sync.Mutex
	target *cluster.Node
}

func (nf *nodeFaults) pick() *cluster.Node {
	nf.mu.Lock()
	defer nf.mu.Unlock()
	nodes := nf.c.Nodes()
	nf.target = nodes[nf.rng.IntN(len(nodes))]
	return nf.target
}

func (nf *nodeFaults) picked() *cluster.Node {
	nf.mu.Lock()
	defer nf.mu.Unlock()
	return nf.target
}

func (nf *nodeFaults) detail(name string, n *cluster.Node, format string, args ...any) {
	nf.log.Add(Event{Ev: "detail", Fault: name, Node: n.ID, Detail: fmt.Sprintf(format, args...)})
}

// restart starts the node if it is stopped and waits until it is ready.
func restart(ctx context.Context, n *cluster.Node) error {
	if n.Running() {
		return n.WaitReady(ctx)
	}
	return n.Start(ctx)
}

func (nf *nodeFaults) kill() Fault {
	return Fault{Name: "kill", Hold: [2]time.Duration{0, 3 * time.Second},
		Inject: func(context.Context) error {
			n := nf.pick()
			nf.detail("kill", n, "SIGKILL pid %d", n.Pid())
			return n.Kill()
		},
		Heal: func(ctx context.Context) error { return restart(ctx, nf.picked()) },
	}
}

func (nf *nodeFaults) killAll() Fault {
	return Fault{Name: "kill-all", Hold: [2]time.Duration{0, 3 * time.Second},
		Inject: func(context.Context) error { return nf.c.KillAll() },
		Heal:   func(ctx context.Context) error { return nf.c.Start(ctx) },
	}
}

func (nf *nodeFaults) terminate() Fault {
	return Fault{Name: "terminate", Hold: [2]time.Duration{0, 3 * time.Second},
		Inject: func(context.Context) error {
			n := nf.pick()
			took, err := n.Terminate()
			nf.detail("terminate", n, "exit after SIGTERM in %v", took.Round(time.Millisecond))
			return err
		},
		Heal: func(ctx context.Context) error { return restart(ctx, nf.picked()) },
	}
}

func (nf *nodeFaults) pause() Fault {
	return Fault{Name: "pause", Hold: [2]time.Duration{2 * time.Second, 8 * time.Second},
		Inject: func(context.Context) error {
			n := nf.pick()
			nf.detail("pause", n, "SIGSTOP pid %d", n.Pid())
			return n.Pause()
		},
		Heal: func(ctx context.Context) error {
			n := nf.picked()
			err := n.Resume()
			switch {
			case errors.Is(err, cluster.ErrExitedOnItsOwn) || errors.Is(err, cluster.ErrNotRunning):
				// It died while stopped (broker-crash reports the exit):
				// bring it back so the run goes on.
				return restart(ctx, n)
			case err != nil:
				return err
			}
			return n.WaitReady(ctx)
		},
	}
}

// truncateTail: SIGKILL, then cut the active segment of a partition mid
// batch inside the journal-covered tail (package diskfault); the broker
// must repair it from the journal. No covered tail: nothing is cut.
func (nf *nodeFaults) truncateTail() Fault {
	return Fault{Name: "truncate-tail", Hold: [2]time.Duration{0, time.Second},
		Inject: func(context.Context) error {
			n := nf.pick()
			if err := n.Kill(); err != nil {
				return err
			}
			nf.mu.Lock()
			cut, err := diskfault.TruncateTail(n.DataDir, nf.rng)
			nf.mu.Unlock()
			switch {
			case errors.Is(err, diskfault.ErrNothingCovered):
				nf.detail("truncate-tail", n, "nothing cut: %v", err)
				return nil
			case err != nil:
				return err
			}
			nf.detail("truncate-tail", n, "%v", cut)
			return nil
		},
		Heal: func(ctx context.Context) error { return restart(ctx, nf.picked()) },
	}
}
