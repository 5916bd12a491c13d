package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/petrel-streaming/petrel/internal/tune"
)

// TuneDeps are the dependencies of `tune`, `iotune` and `check`: the
// CLI's, plus the host they look at.
type TuneDeps struct {
	Deps
	// Host is the machine (zero: tune.OSHost(), this one). Tests give a
	// fake /proc and /sys tree (internal/tune/tunetest).
	Host tune.Host
}

// TuneCommands returns `tune`, `iotune` and `check` for this machine.
func TuneCommands(d Deps) []*cobra.Command { return NewTuneCommands(TuneDeps{Deps: d}) }

// NewTuneCommands returns `tune`, `iotune` and `check` over d.
func NewTuneCommands(d TuneDeps) []*cobra.Command {
	d.Deps = d.Deps.withDefaults()
	if d.Host.Root == (tune.Root{}) {
		d.Host = tune.OSHost()
	}
	return []*cobra.Command{tuneCommand(d), iotuneCommand(d), checkCommand(d)}
}

// EnvDataDir names the data dir when --data-dir is not given (the same
// variable as `petrel serve`'s data_dir); else DefaultDataDir.
const (
	EnvDataDir     = "PETREL_DATA_DIR"
	DefaultDataDir = "./petrel-data"
)

// hostFlags are the flags of the host commands.
type hostFlags struct {
	d       TuneDeps
	dataDir string
	format  string
}

func (d TuneDeps) hostCommand(use, short, long string) (*cobra.Command, *hostFlags) {
	h := &hostFlags{d: d}
	cmd := &cobra.Command{Use: use, Short: short, Long: long}
	pf := cmd.PersistentFlags()
	pf.StringVar(&h.dataDir, "data-dir", "", "the node's data directory (env "+EnvDataDir+"; default "+DefaultDataDir+")")
	pf.StringVar(&h.format, "format", "text", "output format: text, json or yaml")
	return cmd, h
}

// env builds the tuners' view of the host for this command line.
func (h *hostFlags) env() (*tune.Env, error) {
	if _, err := parseFormat(h.format); err != nil {
		return nil, err
	}
	dir := h.dataDir
	if dir == "" {
		dir = h.d.Getenv(EnvDataDir)
	}
	if dir == "" {
		dir = DefaultDataDir
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return &tune.Env{Host: h.d.Host, DataDir: abs}, nil
}

func (h *hostFlags) out(v any, tables ...table) error {
	f, _ := parseFormat(h.format)
	return render(h.d.Stdout, f, v, tables)
}

func tuneCommand(d TuneDeps) *cobra.Command {
	cmd, h := d.hostCommand("tune", "Tune this machine for Petrel: list, check, apply, restore",
		"Tuners read and write kernel settings (/proc/sys, /sys) for the data dir's disks, the network and\n"+
			"the CPUs. apply records every previous value in <data dir>/"+tune.RestoreName+"; restore puts them back.\n"+
			"A tuner that does not apply here says why (unsupported) and writes nothing.")
	cmd.Args = cobra.NoArgs
	list := &cobra.Command{Use: "list", Short: "List the tuners", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if _, err := h.env(); err != nil {
				return err
			}
			type row struct {
				Name        string `json:"name"`
				Description string `json:"description"`
			}
			var rows []row
			t := table{header: []string{"TUNER", "DESCRIPTION"}}
			for _, tu := range tune.Tuners() {
				rows = append(rows, row{tu.Name, tu.Description})
				t.add(tu.Name, tu.Description)
			}
			return h.out(rows, t)
		}}
	check := &cobra.Command{Use: "check [TUNER...]", Short: "Show each tuner's current and recommended values (read only)",
		RunE: func(_ *cobra.Command, args []string) error {
			e, ts, err := h.tuners(args)
			if err != nil {
				return err
			}
			rs := tune.CheckAll(e, ts)
			t := table{header: []string{"TUNER", "STATUS", "CURRENT", "RECOMMENDED", "REASON"}}
			bad := false
			for _, r := range rs {
				t.add(r.Tuner, r.Status.String(), r.Current, r.Recommended, r.Reason)
				bad = bad || r.Status == tune.StatusFailed
			}
			return failedIf(bad, h.out(rs, t))
		}}
	var dryRun bool
	var ballast int64
	var coreDir string
	apply := &cobra.Command{Use: "apply [TUNER...]", Short: "Apply the tuners that need a change (all by default)",
		RunE: func(_ *cobra.Command, args []string) error {
			e, ts, err := h.tuners(args)
			if err != nil {
				return err
			}
			e.BallastBytes, e.CoreDumpDir = ballast, coreDir
			as, err := tune.Apply(e, ts, dryRun)
			if err != nil {
				return err
			}
			t := table{header: []string{"TUNER", "RESULT", "REASON"}}
			title := "WRITES"
			if dryRun {
				title = "WRITES (dry run: nothing written)"
			}
			w := table{title: title}
			bad := false
			for _, a := range as {
				t.add(a.Tuner, string(a.Outcome), a.Reason)
				for _, x := range a.Writes {
					w.add(a.Tuner, x.String())
				}
				bad = bad || a.Outcome == tune.OutcomeFailed
			}
			tables := []table{t}
			if len(w.rows) > 0 {
				tables = append(tables, w)
			}
			return failedIf(bad, h.out(as, tables...))
		}}
	apply.Flags().BoolVar(&dryRun, "dry-run", false, "print the writes, make none")
	apply.Flags().Int64Var(&ballast, "ballast-bytes", tune.DefaultBallastBytes, "size of the ballast file")
	apply.Flags().StringVar(&coreDir, "coredump-dir", tune.DefaultCoreDumpDir, "where core files go when core_pattern is a bare name")
	var restoreDry bool
	restore := &cobra.Command{Use: "restore [TUNER...]", Short: "Undo what apply wrote (all tuners by default)",
		RunE: func(_ *cobra.Command, args []string) error {
			e, _, err := h.tuners(args)
			if err != nil {
				return err
			}
			rs, err := tune.Restore(e, args, restoreDry)
			if err != nil {
				return err
			}
			t := table{header: []string{"TUNER", "UNDO", "STATUS"}}
			bad := false
			for _, r := range rs {
				status := "restored"
				switch {
				case r.Error != "":
					status, bad = r.Error, true
				case restoreDry:
					status = "would restore"
				}
				t.add(r.Tuner, r.Action, status)
			}
			if len(rs) == 0 {
				t = table{title: "nothing to restore: " + filepath.Join(e.DataDir, tune.RestoreName) + " records no write of these tuners"}
			}
			return failedIf(bad, h.out(rs, t))
		}}
	restore.Flags().BoolVar(&restoreDry, "dry-run", false, "print what would be restored, change nothing")
	cmd.AddCommand(list, check, apply, restore)
	return cmd
}

// tuners resolves the command line's env and the named tuners.
func (h *hostFlags) tuners(names []string) (*tune.Env, []tune.Tuner, error) {
	e, err := h.env()
	if err != nil {
		return nil, nil, err
	}
	ts, err := tune.Select(names)
	return e, ts, err
}

// failedIf returns ErrFailed when bad and the output went out.
func failedIf(bad bool, err error) error {
	if err == nil && bad {
		return ErrFailed
	}
	return err
}

func checkCommand(d TuneDeps) *cobra.Command {
	cmd, h := d.hostCommand("check", "Check this node against best practice (exit 1 on any FAIL)",
		"Checks the data dir, its file system, direct I/O, free space, the open-file limit, memory and every\n"+
			"tuner. OK: as recommended; WARN: works, could be better; FAIL: fix it first; SKIP: does not apply.")
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(*cobra.Command, []string) error {
		e, err := h.env()
		if err != nil {
			return err
		}
		items := tune.CheckNode(e)
		t := table{header: []string{"CHECK", "LEVEL", "VALUE", "DETAIL"}}
		bad := false
		for _, it := range items {
			t.add(it.Check, it.Level.String(), it.Value, it.Detail)
			bad = bad || it.Level == tune.LevelFail
		}
		return failedIf(bad, h.out(items, t))
	}
	return cmd
}

func iotuneCommand(d TuneDeps) *cobra.Command {
	cmd, h := d.hostCommand("iotune", "Measure the data dir's disk and write "+tune.IOPropertiesName+" there",
		"Measures sequential write bandwidth (buffered and O_DIRECT), write+fdatasync latency by size and\n"+
			"random 4 KiB read IOPS by concurrency, in one temporary file, within --duration, and writes\n"+
			"<data dir>/"+tune.IOPropertiesName+" for the broker.")
	cmd.Args = cobra.NoArgs
	var dur time.Duration
	var fileBytes int64
	cmd.Flags().DurationVar(&dur, "duration", tune.DefaultProbeDuration, "time budget of the whole measurement")
	cmd.Flags().Int64Var(&fileBytes, "file-bytes", tune.DefaultProbeFileBytes, "size cap of the test file")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		e, err := h.env()
		if err != nil {
			return err
		}
		dir := e.Root.Path(e.DataDir)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("data dir %s: %w (create it, or run petrel serve once)", e.DataDir, errors.Join(err, errNotDir(st)))
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		cfg := tune.ProbeConfig{Dir: dir, Duration: dur, FileBytes: fileBytes}
		st := newStatusLine(d.Stderr, d.StderrTerminal, d.Now) // Probe calls Progress on this goroutine
		cfg.Progress = func(phase string, done float64) { st.Update("iotune: %-30s %3.0f%%", phase, 100*done) }
		p, err := tune.Probe(ctx, cfg)
		if err != nil {
			st.Clear()
			return err
		}
		p.DataDir = e.DataDir
		if m, err := e.DataMount(); err == nil {
			p.Filesystem = m.FSType
		}
		if disks, err := e.DataDisks(); err == nil {
			p.Device = strings.Join(disks, ",")
		}
		if err := tune.WriteIOProperties(dir, p); err != nil {
			st.Clear()
			return fmt.Errorf("write %s: %w", tune.IOPropertiesName, err)
		}
		st.Done("iotune: measured in %.1fs, wrote %s", p.DurationSeconds, filepath.Join(e.DataDir, tune.IOPropertiesName))
		return h.out(p, ioTables(p)...)
	}
	return cmd
}

func errNotDir(st os.FileInfo) error {
	if st != nil && !st.IsDir() {
		return errors.New("not a directory")
	}
	return nil
}

// ioTables renders a probe's figures.
func ioTables(p tune.IOProperties) []table {
	dev := table{header: []string{"DATA DIR", "DEVICE", "FILESYSTEM", "DIRECT I/O"}}
	dev.add(p.DataDir, p.Device, p.Filesystem, fmt.Sprint(p.DirectIO))
	seq := table{header: []string{"SEQUENTIAL WRITE", "BUFFERED", "DIRECT"}}
	direct := "-"
	if p.DirectIO {
		direct = rate(p.SequentialWrite.DirectBytesPerSec)
	}
	seq.add(sizeIEC(p.SequentialWrite.BlockBytes)+" blocks", rate(p.SequentialWrite.BufferedBytesPerSec), direct)
	sync := table{header: []string{"WRITE+FDATASYNC", "OPS", "P50", "P99", "MAX"}}
	for _, s := range p.SyncWrite {
		sync.add(sizeIEC(s.SizeBytes), s.Ops, micros(s.P50Micros), micros(s.P99Micros), micros(s.MaxMicros))
	}
	rr := table{header: []string{"RANDOM READ " + sizeIEC(p.RandomRead.BlockBytes), "CONCURRENCY", "IOPS"}}
	for _, l := range p.RandomRead.Levels {
		mark := ""
		if l.Concurrency == p.RandomRead.SaturationConcurrency {
			mark = "saturates"
		}
		rr.add(mark, l.Concurrency, fmt.Sprintf("%.0f", l.IOPS))
	}
	return []table{dev, seq, sync, rr}
}

func rate(bps float64) string { return fmt.Sprintf("%.0f MiB/s", bps/(1<<20)) }

func micros(us float64) string {
	if us >= 1000 {
		return fmt.Sprintf("%.2f ms", us/1000)
	}
	return fmt.Sprintf("%.0f µs", us)
}

func sizeIEC(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
