package nemesis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
	"github.com/petrel-streaming/petrel/internal/chaos/diskfault"
)

// Disks are the FUSE disk layers under the nodes' data directories
// (Layers[i] under node i, all in lazy mode), or why there are none.
type Disks struct {
	Layers []*diskfault.Layer
	Why    error // set when Layers is empty: the disk faults' skip reason
}

// lazy is the layers' resting mode: pass-through that can lose unsynced
// data on a power failure.
var lazy = diskfault.Mode{Lazy: true}

// diskFaults are power-fail, power-fail-all, slow-disk and eio-fsync on the
// FUSE layers; all unavailable with d.Why when there are none.
func (nf *nodeFaults) diskFaults(d Disks) []Fault {
	avail := func() error {
		if len(d.Layers) == 0 {
			return fmt.Errorf("%w: %v", ErrNeedsFUSE, d.Why)
		}
		return nil
	}
	layer := func(n *cluster.Node) *diskfault.Layer { return d.Layers[n.ID] }

	// powerFail kills n and drops everything its disk had not synced.
	powerFail := func(n *cluster.Node) error {
		// A node that died on its own is already a broker-crash finding.
		if err := n.Kill(); err != nil && !errors.Is(err, cluster.ErrNotRunning) && !errors.Is(err, cluster.ErrExitedOnItsOwn) {
			return err
		}
		loss, err := layer(n).PowerFail()
		nf.detail("power-fail", n, "%v", loss)
		return err
	}
	setMode := func(n *cluster.Node, m diskfault.Mode, name string) {
		layer(n).SetMode(m)
		nf.detail(name, n, "disk mode %v", m)
	}
	return []Fault{
		{Name: "power-fail", Available: avail, Hold: [2]time.Duration{0, 3 * time.Second},
			Inject: func(context.Context) error { return powerFail(nf.pick()) },
			Heal:   func(ctx context.Context) error { return restart(ctx, nf.picked()) },
		},
		{Name: "power-fail-all", Available: avail, Hold: [2]time.Duration{0, 3 * time.Second},
			Inject: func(context.Context) error {
				if err := nf.c.KillAll(); err != nil {
					return err
				}
				var errs []error
				for _, n := range nf.c.Nodes() {
					errs = append(errs, powerFail(n))
				}
				return errors.Join(errs...)
			},
			Heal: func(ctx context.Context) error { return nf.c.Start(ctx) },
		},
		{Name: "slow-disk", Available: avail, Hold: [2]time.Duration{5 * time.Second, 20 * time.Second},
			Inject: func(context.Context) error {
				n := nf.pick()
				nf.mu.Lock()
				delay := uniform(nf.rng, 5*time.Millisecond, 50*time.Millisecond)
				nf.mu.Unlock()
				setMode(n, diskfault.Mode{Lazy: true, Delay: delay}, "slow-disk")
				return nil
			},
			Heal: func(ctx context.Context) error {
				n := nf.picked()
				setMode(n, lazy, "slow-disk")
				return restart(ctx, n)
			},
		},
		// eio-fsync: fsync fails, then writes do; the node must stop
		// acknowledging (today it exits: that exit is expected). Heal: kill
		// it (if it still runs), drop what its disk never synced
		// (a failed fsync may have lost the pages), clear the errors,
		// restart.
		{Name: "eio-fsync", Available: avail, Hold: [2]time.Duration{5 * time.Second, 15 * time.Second},
			Inject: func(context.Context) error {
				n := nf.pick()
				setMode(n, diskfault.Mode{Lazy: true, EIO: true}, "eio-fsync")
				// A node whose storage fails stops on its own: that exit
				// is this fault's doing, not a broker crash.
				return n.ExpectExit(true)
			},
			Heal: func(ctx context.Context) error {
				n := nf.picked()
				err := powerFail(n)
				setMode(n, lazy, "eio-fsync")
				if err != nil {
					return err
				}
				return restart(ctx, n)
			},
		},
	}
}
