package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/petrel-streaming/petrel/internal/cli"
	"github.com/petrel-streaming/petrel/internal/tune"
	"github.com/petrel-streaming/petrel/internal/tune/tunetest"
)

// hostSession runs `petrel tune|iotune|check` against a fake host tree
// (internal/tune/tunetest) with its data dir /data, and records a
// transcript; the real machine is never looked at.
type hostSession struct {
	t   *testing.T
	dir string
	tty bool
	log bytes.Buffer
}

func newHostSession(t *testing.T) *hostSession {
	dir := t.TempDir()
	if err := tunetest.Build(dir); err != nil {
		t.Fatal(err)
	}
	return &hostSession{t: t, dir: dir}
}

func (s *hostSession) run(args ...string) result {
	var out, errb bytes.Buffer
	d := cli.TuneDeps{
		Deps: cli.Deps{Stdout: &out, Stderr: &errb, StderrTerminal: s.tty},
		Host: tune.Host{
			Root:     tune.NewRoot(s.dir),
			Statfs:   func(string) (tune.Space, error) { return tune.Space{TotalBytes: 100 << 30, FreeBytes: 60 << 30}, nil },
			NoFile:   func() (uint64, uint64, error) { return 1024, 1 << 20, nil },
			DirectIO: func(string) (bool, error) { return true, nil },
		},
	}
	root := &cobra.Command{Use: "petrel", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(cli.NewTuneCommands(d)...)
	root.SetArgs(append(append([]string{}, args...), "--data-dir", "/data"))
	root.SetOut(&out)
	root.SetErr(&errb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return result{stdout: out.String(), stderr: errb.String(), err: err}
}

func (s *hostSession) step(wantErr bool, args ...string) result {
	s.t.Helper()
	r := s.run(args...)
	fmt.Fprintf(&s.log, "$ petrel %s\n%s", quoteArgs(args), r.stdout)
	if r.err != nil {
		fmt.Fprintf(&s.log, "error: %v\n", r.err)
	}
	s.log.WriteString("\n")
	if (r.err != nil) != wantErr {
		s.t.Errorf("petrel %s: error %v, want error: %v\nstdout:\n%s", quoteArgs(args), r.err, wantErr, r.stdout)
	}
	return r
}

func (s *hostSession) ok(args ...string) result   { s.t.Helper(); return s.step(false, args...) }
func (s *hostSession) fail(args ...string) result { s.t.Helper(); return s.step(true, args...) }

func (s *hostSession) read(p string) string {
	b, _ := os.ReadFile(filepath.Join(s.dir, p))
	return strings.TrimSpace(string(b))
}

// golden compares the transcript with testdata/<test>.golden.
func (s *hostSession) golden() {
	s.t.Helper()
	compareGolden(s.t, s.log.String())
}

func TestTuneList(t *testing.T) {
	s := newHostSession(t)
	s.ok("tune", "list")
	r := s.ok("tune", "list", "--format", "json")
	var rows []struct{ Name string }
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != len(tune.Tuners()) {
		t.Errorf("tune list json: %d rows, %v", len(rows), err)
	}
	s.golden()
}

func TestTuneCheck(t *testing.T) {
	s := newHostSession(t)
	s.ok("tune", "check")
	s.ok("tune", "check", "swappiness", "disk_scheduler", "--format", "json")
	r := s.fail("tune", "check", "turbo")
	if !errors.Is(r.err, tune.ErrUnknownTuner) {
		t.Errorf("unknown tuner: %v", r.err)
	}
	s.golden()
}

// TestTuneApply: dry run, apply, check, restore of one tuner, restore of
// the rest; the values on the fake tree are checked at each step.
func TestTuneApply(t *testing.T) {
	s := newHostSession(t)
	const sched = "/sys/block/nvme0n1/queue/scheduler"
	s.ok("tune", "apply", "--dry-run", "--ballast-bytes", "1048576")
	if v := s.read("/proc/sys/vm/swappiness"); v != "60" {
		t.Fatalf("dry run wrote swappiness %s", v)
	}
	s.ok("tune", "apply", "--ballast-bytes", "1048576")
	for p, want := range map[string]string{"/proc/sys/vm/swappiness": "1", sched: "none", "/proc/irq/41/smp_affinity_list": "1"} {
		if v := s.read(p); v != want {
			t.Errorf("%s = %q after apply, want %q", p, v, want)
		}
	}
	var rf struct{ Entries []json.RawMessage }
	if err := json.Unmarshal([]byte(s.read("/data/"+tune.RestoreName)), &rf); err != nil || len(rf.Entries) != 24 {
		t.Errorf("restore file: %d entries, %v", len(rf.Entries), err)
	}
	s.ok("tune", "check")
	s.ok("tune", "restore", "swappiness", "--dry-run")
	s.ok("tune", "restore", "swappiness")
	if v := s.read("/proc/sys/vm/swappiness"); v != "60" {
		t.Errorf("swappiness after restore %q", v)
	}
	s.ok("tune", "restore")
	for p, want := range map[string]string{"/proc/sys/kernel/core_pattern": "core", sched: "mq-deadline", "/proc/irq/41/smp_affinity_list": "0-3"} {
		if v := s.read(p); v != want {
			t.Errorf("%s = %q after restore, want %q", p, v, want)
		}
	}
	if _, err := os.Stat(filepath.Join(s.dir, "data", tune.RestoreName)); !os.IsNotExist(err) {
		t.Errorf("restore file after a full restore: %v", err)
	}
	s.ok("tune", "restore")
	s.golden()
}

func TestCheck(t *testing.T) {
	s := newHostSession(t)
	s.ok("check")
	r := s.ok("check", "--format", "json")
	var items []tune.Item
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil || len(items) != 6+len(tune.Tuners()) {
		t.Errorf("check json: %d items, %v", len(items), err)
	}
	// A data dir on tmpfs fails the check: exit code non-zero.
	mi := tunetest.Files()["/proc/self/mountinfo"]
	if err := tunetest.WriteFile(s.dir, "/proc/self/mountinfo", strings.Replace(mi, "259:2 / /data rw,noatime - xfs", "0:40 / /data rw - tmpfs", 1)); err != nil {
		t.Fatal(err)
	}
	r = s.fail("check")
	if !errors.Is(r.err, cli.ErrFailed) || !strings.Contains(r.stdout, "in memory") {
		t.Errorf("check of a tmpfs data dir: %v\n%s", r.err, r.stdout)
	}
	s.golden()
}

func TestIOTune(t *testing.T) {
	s := newHostSession(t)
	s.tty = true
	r := s.run("iotune", "--duration", "1s", "--file-bytes", "8388608")
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, h := range []string{"SEQUENTIAL WRITE", "WRITE+FDATASYNC", "RANDOM READ 4 KiB", "nvme0n1", "xfs"} {
		if !strings.Contains(r.stdout, h) {
			t.Errorf("iotune output lacks %q:\n%s", h, r.stdout)
		}
	}
	if !strings.HasPrefix(r.stderr, "\riotune: ") || !strings.HasSuffix(r.stderr, "wrote /data/"+tune.IOPropertiesName+"\n") {
		t.Errorf("status line %q", r.stderr)
	}
	p, err := tune.ReadIOProperties(filepath.Join(s.dir, "data", tune.IOPropertiesName))
	if err != nil {
		t.Fatal(err)
	}
	if p.DataDir != "/data" || p.Device != "nvme0n1" || p.SequentialWrite.BufferedBytesPerSec <= 0 ||
		p.SyncWrite[0].P50Micros <= 0 || p.RandomRead.MaxIOPS <= 0 {
		t.Errorf("io properties %+v", p)
	}
	s.tty = false
	if r := s.run("iotune", "--duration", "300ms", "--file-bytes", "8388608", "--format", "json"); r.err != nil || r.stderr != "" || !json.Valid([]byte(r.stdout)) {
		t.Errorf("iotune json: %v stderr %q", r.err, r.stderr)
	}
	if err := os.RemoveAll(filepath.Join(s.dir, "data")); err != nil {
		t.Fatal(err)
	}
	if r := s.run("iotune", "--duration", "1s"); r.err == nil || !strings.Contains(r.err.Error(), "petrel serve") {
		t.Errorf("iotune without a data dir: %v", r.err)
	}
}
