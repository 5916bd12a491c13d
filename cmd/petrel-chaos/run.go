package main

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/check"
	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
	"github.com/petrel-streaming/petrel/internal/chaos/history"
	"github.com/petrel-streaming/petrel/internal/chaos/nemesis"
	"github.com/petrel-streaming/petrel/internal/chaos/netfault"
	"github.com/petrel-streaming/petrel/internal/chaos/workload"
)

// options are the command's flags.
type options struct {
	seed           uint64
	duration       time.Duration
	nodes          int
	binary, runDir string
	smoke, keep    bool
	fuse           bool
	rate           int
	noG18, race    bool
	// failpoints: brokers built with -tags failpoints, crash-points usable;
	// negative: the negative control (failpoints.go).
	failpoints, negative bool
	// net is where a cluster run takes place (--net: auto, netns,
	// loopback); targets are the liveness targets (0: none).
	net     string
	targets check.Targets
	shards  int // --shards of every node (0: the cluster package's default)
	// only restricts the random schedule to these faults (--faults).
	only []string
}

// partitions of the chaos topic.
const partitions = 6

// Phase lengths (CHAOS.md §2.4).
const (
	quiesce           = 15 * time.Second
	finalBudget       = 60 * time.Second
	finalBudgetSmoke  = 30 * time.Second
	terminateAtTheEnd = 30 * time.Second
)

// run is one chaos run; see doc.go for the phases.
func run(ctx context.Context, o options, out io.Writer) (err error) {
	if o.nodes < 1 {
		return fmt.Errorf("--nodes %d: at least 1", o.nodes)
	}
	mode, reexec, netWhy := o.netMode()
	if mode == "" {
		return netWhy
	}
	if reexec {
		return reexecInNetns(ctx, out)
	}
	if o.seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		o.seed = binary.LittleEndian.Uint64(b[:]) >> 1
	}
	if o.runDir == "" {
		if o.runDir, err = os.MkdirTemp("", "petrel-chaos-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(o.runDir, 0o755); err != nil {
		return err
	}
	if o.runDir, err = filepath.Abs(o.runDir); err != nil {
		return err
	}
	passed := false
	defer func() {
		if passed && !o.keep {
			os.RemoveAll(o.runDir)
			return
		}
		fmt.Fprintf(out, "run directory kept: %s (replay: --seed %d)\n", o.runDir, o.seed)
	}()
	logf, err := os.Create(filepath.Join(o.runDir, "harness.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	logger := slog.New(slog.NewTextHandler(logf, nil))
	fmt.Fprintf(out, "petrel-chaos seed=%d mode=%s nodes=%d partitions=%d duration=%s rate=%d/s git=%s run=%s\n",
		o.seed, mode, o.nodes, partitions+1, modeDuration(o), o.rate, gitRev(), o.runDir)
	ccfg := cluster.Config{Binary: o.binary, Dir: o.runDir, Nodes: o.nodes, Shards: o.shards, Logger: logger, Env: o.brokerEnv()}
	copts := nemesis.ClusterOptions{Topic: workload.Topic, Partitions: partitions, NetWhy: netWhy}
	if mode == modeNetns {
		if copts.Net, ccfg.Hosts, ccfg.GIDs, err = enterNetns(ctx, o.nodes); err != nil {
			return fmt.Errorf("netns mode: %w", err)
		}
		copts.Hosts = ccfg.Hosts
		fmt.Fprintf(out, "network: private namespace, node i on 127.0.0.(11+i), links cut with nftables\n")
	} else if o.nodes >= 3 {
		fmt.Fprintf(out, "network: loopback mode (%v): network faults skipped\n", netWhy)
	}

	if o.binary == "" {
		o.binary = filepath.Join(o.runDir, "petrel")
	}
	if o.binary, err = filepath.Abs(o.binary); err != nil { // nodes run in their own directories
		return err
	}
	if _, err := os.Stat(o.binary); err != nil {
		root, err := cluster.ModuleRoot(".")
		if err != nil {
			return err
		}
		bctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		_, err = cluster.Build(bctx, cluster.BuildOptions{ModuleDir: root, Out: o.binary, Race: o.race, Tags: o.buildTags()})
		cancel()
		if err != nil {
			return err
		}
	}
	ccfg.Binary = o.binary
	c, err := cluster.New(ccfg)
	if err != nil {
		return err
	}
	defer c.Close()
	disks, unmount := mountDisks(c, o.fuse, len(ccfg.GIDs) > 0, logger)
	defer func() {
		if uerr := unmount(); uerr != nil && err == nil {
			err = fmt.Errorf("unmounting the disk layers: %w", uerr)
		}
	}()
	if len(disks.Layers) > 0 {
		fmt.Fprintf(out, "disks: every data dir on a lazy FUSE layer (power-fail drops what was not fsynced)\n")
	}

	origin := time.Now()
	histf, err := os.Create(filepath.Join(o.runDir, "history.jsonl"))
	if err != nil {
		return err
	}
	defer histf.Close()
	rec := history.NewRecorder(histf)
	faultf, err := os.Create(filepath.Join(o.runDir, "faults.jsonl"))
	if err != nil {
		return err
	}
	defer faultf.Close()
	flog := nemesis.NewLog(faultf, origin)

	if err := c.Start(ctx); err != nil {
		return err
	}
	wcfg := workload.Config{Seeds: c.Seeds(), Rec: rec, Seed: o.seed, Rate: o.rate, Logger: logger,
		Partitions: partitions, ProbeNodes: probeNodes(o.nodes)}
	if o.nodes >= 3 {
		wcfg.Replication = 3
	}
	w := workload.New(wcfg)
	if err := w.Setup(ctx); err != nil {
		return err
	}
	faults := nemesis.Catalog(c, rand.New(rand.NewPCG(o.seed, 0x746172676574)), flog, disks)
	for _, f := range nemesis.ClusterFaults(c, rand.New(rand.NewPCG(o.seed, 0x636c7573746572)), flog, copts) {
		faults = nemesis.WithFault(faults, f)
	}
	if faults, err = o.setupFailpoints(ctx, c, faults, flog, out); err != nil {
		return err
	}
	faults = onlyFaults(faults, o.only)
	var sched nemesis.Schedule
	var skipped []string
	if o.smoke && o.nodes >= 3 {
		sched, skipped = nemesis.ClusterSmoke(faults)
	} else if o.smoke {
		sched, skipped = nemesis.Smoke(faults)
	} else if o.negative {
		sched = nemesis.NegativeControl()
	} else {
		sched = nemesis.Plan(o.seed, faults, nemesis.PlanOptions{Duration: o.duration})
	}
	skipped = appendUnusable(skipped, faults)
	for _, s := range skipped {
		fmt.Fprintf(out, "skipped: %s\n", s)
	}
	if b, err := json.MarshalIndent(sched, "", " "); err == nil {
		_ = os.WriteFile(filepath.Join(o.runDir, "schedule.json"), b, 0o644)
	}

	// Fault phase: the workload runs until the schedule (and, for a random
	// run, the duration) is over.
	wctx, stopWork := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { w.Run(wctx) })
	rep := nemesis.Run(ctx, sched, faults, flog)
	if !o.fixedSchedule() {
		sleepUntil(ctx, origin.Add(o.duration))
	}
	healErr := healAll(ctx, c, copts.Net)
	if !o.fixedSchedule() && healErr == nil {
		sleepUntil(ctx, time.Now().Add(quiesce))
	}
	stopWork()
	wg.Wait()
	budget := finalBudget
	if o.fixedSchedule() {
		budget = finalBudgetSmoke
	}
	finalErr := w.FinalRead(context.WithoutCancel(ctx), budget)
	var replicas map[history.TP][]check.Replica
	if o.nodes > 1 {
		replicas = collectReplicas(context.WithoutCancel(ctx), c, partitions)
	}
	stopErrs := terminateAll(c)
	if err := rec.Close(); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}

	ops, err := readHistory(filepath.Join(o.runDir, "history.jsonl"))
	if err != nil {
		return err
	}
	in := check.Input{Ops: ops, NoG18: o.noG18, Faults: nemesis.Spans(flog.Events()), Replicas: replicas, Targets: o.targets}
	results := check.All(in)
	results = append(results,
		harnessResult("broker-crash", problemsOf(c, stopErrs)),
		harnessResult("nemesis", rep.Errors),
		harnessResult("final-read", errStrings(errors.Join(healErr, finalErr))))
	s := newSummary(o, mode, rep, skippedMap(skipped), in, results)
	if err := s.print(out, results); err != nil {
		return err
	}
	if b, err := json.Marshal(s); err == nil {
		_ = os.WriteFile(filepath.Join(o.runDir, "summary.json"), append(b, '\n'), 0o644)
	}
	if o.negative {
		return negativeExit(s)
	}
	if s.Failed > 0 { // safety, or a liveness target missed
		return errChecksFailed
	}
	passed = s.Failed == 0
	return nil
}

func modeDuration(o options) string {
	if o.negative {
		return "negative-control"
	}
	if o.smoke {
		return "smoke"
	}
	return fmt.Sprintf("%.0fs", o.duration.Seconds())
}

// healAll deletes any network fault (nf may be nil), resumes paused
// nodes, starts stopped ones and waits until every node is ready.
func healAll(ctx context.Context, c *cluster.Cluster, nf *netfault.Net) error {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), nemesis.HealTimeout)
	defer cancel()
	var errs []error
	if nf != nil {
		errs = append(errs, nf.Heal(hctx))
	}
	for _, n := range c.Nodes() {
		if n.Paused() {
			errs = append(errs, n.Resume())
		}
		if n.Running() {
			errs = append(errs, n.WaitReady(hctx))
		} else {
			errs = append(errs, n.Start(hctx))
		}
	}
	return errors.Join(errs...)
}

// terminateAll stops every node with SIGTERM (G13: clean, ≤ 30 s).
func terminateAll(c *cluster.Cluster) []string {
	var out []string
	for _, n := range c.Nodes() {
		if !n.Running() {
			continue
		}
		if took, err := n.Terminate(); err != nil {
			out = append(out, fmt.Sprintf("final SIGTERM after %v: %v", took.Round(time.Millisecond), err))
		}
	}
	return out
}

func problemsOf(c *cluster.Cluster, extra []string) []string {
	for _, p := range c.Problems(50) {
		extra = append(extra, p.String())
	}
	return extra
}

func errStrings(err error) []string {
	if err == nil {
		return nil
	}
	return []string{err.Error()}
}

// harnessResult is a check the harness itself answers: each finding fails it.
func harnessResult(name string, findings []string) check.Result {
	r := check.Result{Name: name, Severity: check.Safety, Count: len(findings), Passed: len(findings) == 0}
	for _, f := range findings[:min(len(findings), 8)] {
		if len(f) > 400 {
			f = f[:400] + "…"
		}
		r.Examples = append(r.Examples, f)
	}
	return r
}

// errNotChosen: a fault left out by --faults.
var errNotChosen = errors.New("not in --faults")

// onlyFaults makes every fault not named in only unavailable (only empty:
// faults unchanged).
func onlyFaults(faults []nemesis.Fault, only []string) []nemesis.Fault {
	if len(only) == 0 {
		return faults
	}
	out := append([]nemesis.Fault(nil), faults...)
	for i, f := range out {
		if !slices.Contains(only, f.Name) {
			out[i].Available = func() error { return errNotChosen }
		}
	}
	return out
}

// appendUnusable adds the catalog's unusable faults not already named.
func appendUnusable(skipped []string, faults []nemesis.Fault) []string {
	seen := map[string]bool{}
	for _, s := range skipped {
		name, _, _ := strings.Cut(s, ":")
		seen[name] = true
	}
	for _, f := range faults {
		if !f.Usable() && !seen[f.Name] {
			skipped = append(skipped, fmt.Sprintf("%s: %v", f.Name, f.Available()))
		}
	}
	return skipped
}

func sleepUntil(ctx context.Context, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
	}
}

func readHistory(path string) ([]history.Op, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return history.ReadAll(f)
}
