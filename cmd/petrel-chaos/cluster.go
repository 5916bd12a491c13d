package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/check"
	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
	"github.com/petrel-streaming/petrel/internal/chaos/history"
	"github.com/petrel-streaming/petrel/internal/chaos/netfault"
	"github.com/petrel-streaming/petrel/internal/chaos/workload"
)

// Modes of a run (--net).
const (
	modeAuto     = "auto"     // netns when a cluster run can have it, else loopback
	modeNetns    = "netns"    // inside a private network namespace: network faults
	modeLoopback = "loopback" // the host's loopback: no network faults
)

// envInNetns marks the copy of petrel-chaos re-run inside its namespace.
// PETREL_-prefixed: the cluster strips it from the brokers' environment.
const envInNetns = "PETREL_CHAOS_IN_NETNS"

// exitCode is a child run's exit status, passed on by main.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// netMode decides where the run takes place: "netns" (already inside, or
// to be re-run there: reexec true), or "loopback" with why not.
func (o options) netMode() (mode string, reexec bool, why error) {
	if os.Getenv(envInNetns) == "1" {
		return modeNetns, false, nil
	}
	switch {
	case o.net == modeLoopback:
		return modeLoopback, false, errors.New("--net loopback")
	case o.nodes < 3:
		return modeLoopback, false, errors.New("one node: nothing to cut")
	}
	if u := netfault.Unavailable(); u != "" {
		if o.net == modeNetns {
			return "", false, fmt.Errorf("--net netns: %s", u)
		}
		return modeLoopback, false, errors.New(u)
	}
	return modeNetns, true, nil
}

// reexecInNetns runs this command again, with the same arguments, under
// `unshare --net`: the child's output is ours, its exit status ours (an
// exitCode error). The namespace dies with the child.
func reexecInNetns(ctx context.Context, out io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "unshare", append([]string{"--net", "--", self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), envInNetns+"=1")
	cmd.Stdout, cmd.Stderr = out, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) } // the child heals and cleans up
	cmd.WaitDelay = 3 * time.Minute
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitCode(ee.ExitCode())
	}
	return err
}

// enterNetns prepares the namespace this run was re-run in: lo up, the
// nodes' source addresses mapped (before they start); it returns the
// nft handle and the nodes' hosts and groups.
func enterNetns(ctx context.Context, nodes int) (*netfault.Net, []string, []uint32, error) {
	if out, err := exec.CommandContext(ctx, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return nil, nil, nil, fmt.Errorf("ip link set lo up: %v: %s", err, out)
	}
	nf, err := netfault.Open(nil)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := nf.Sources(ctx, netfault.NodeSources(nodes)); err != nil {
		return nil, nil, nil, err
	}
	hosts := make([]string, nodes)
	gids := make([]uint32, nodes)
	for i := range nodes {
		hosts[i], gids[i] = netfault.NodeHost(i), netfault.NodeGID(i)
	}
	return nf, hosts, gids, nil
}

// probeNodes are the node ids the workload probes straight (a cluster).
func probeNodes(nodes int) []int32 {
	if nodes < 3 {
		return nil
	}
	out := make([]int32, nodes)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

// digestBudget bounds, per partition, the wait for every replica's high
// watermark to agree.
const digestBudget = 10 * time.Second

// collectReplicas asks every node for its digest of every partition of
// chaos and lin until, per partition, every high watermark agrees (or the
// partition's budget ends: the last answers are kept, and the check
// reports the disagreement), then asks for the digests below that common
// mark. Each request has its own timeout (the admin call's 5 s).
func collectReplicas(ctx context.Context, c *cluster.Cluster, partitions int32) map[history.TP][]check.Replica {
	tps := []history.TP{{Topic: workload.LinTopic}}
	for p := range partitions {
		tps = append(tps, history.TP{Topic: workload.Topic, Partition: p})
	}
	out := map[history.TP][]check.Replica{}
	for _, tp := range tps {
		var rs []check.Replica
		deadline := time.Now().Add(digestBudget)
		for i := 0; i < 100 && ctx.Err() == nil; i++ {
			rs = digests(ctx, c, tp, -1)
			if agree(rs) || time.Now().After(deadline) {
				break
			}
			waitCtx(ctx, 200*time.Millisecond)
		}
		if agree(rs) && len(rs) > 0 {
			rs = digests(ctx, c, tp, rs[0].HighWatermark)
		}
		out[tp] = rs
	}
	return out
}

// digests asks each node for its replica's digest of tp below upto (< 0:
// its own high watermark).
func digests(ctx context.Context, c *cluster.Cluster, tp history.TP, upto int64) []check.Replica {
	var rs []check.Replica
	for _, n := range c.Nodes() {
		d, err := n.ReplicaDigest(ctx, tp.Topic, tp.Partition, upto)
		r := check.Replica{Node: int32(n.ID), HighWatermark: d.HighWatermark, Upto: d.Upto, CRC32C: d.CRC32C, Batches: d.Batches}
		if err != nil {
			r.Err = err.Error()
		}
		rs = append(rs, r)
	}
	return rs
}

// agree: every replica answered with the same high watermark.
func agree(rs []check.Replica) bool {
	for _, r := range rs {
		if r.Err != "" || r.HighWatermark != rs[0].HighWatermark {
			return false
		}
	}
	return true
}

func waitCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
