package tune

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/petrel-streaming/petrel/internal/tune/tunetest"
)

// fakeEnv builds the fake host of tunetest in a temp dir; edit changes
// files (path → content; "" removes the file or directory) before use.
func fakeEnv(t *testing.T, edit map[string]string) *Env {
	t.Helper()
	dir := t.TempDir()
	if err := tunetest.Build(dir); err != nil {
		t.Fatal(err)
	}
	for p, v := range edit {
		var err error
		if v == "" {
			err = os.RemoveAll(filepath.Join(dir, p))
		} else {
			err = tunetest.WriteFile(dir, p, v)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return &Env{Host: fakeHost(dir), DataDir: "/data", BallastBytes: 1 << 20}
}

func fakeHost(dir string) Host {
	return Host{
		Root:   NewRoot(dir),
		Statfs: func(string) (Space, error) { return Space{TotalBytes: 100 << 30, FreeBytes: 60 << 30}, nil },
		NoFile: func() (uint64, uint64, error) { return 1024, 1 << 20, nil },
	}
}

// snapshot reads every regular file of the tree (path → content; the
// selected value of a choice file).
func snapshot(t *testing.T, e *Env) map[string]string {
	t.Helper()
	out := map[string]string{}
	root := e.Root.Path("/")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		b, err := os.ReadFile(p)
		v := string(b)
		if strings.HasSuffix(p, "/scheduler") || strings.HasSuffix(p, "/transparent_hugepage/enabled") {
			// The kernel shows a choice file's options around the
			// selected one; a fake file holds what was written.
			v, _ = parseChoice(v)
			v += "\n"
		}
		out[strings.TrimPrefix(p, root)] = v
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func statuses(rs []Result) map[string]string {
	m := map[string]string{}
	for _, r := range rs {
		m[r.Tuner] = r.Status.String()
	}
	return m
}

func TestCheckFakeHost(t *testing.T) {
	e := fakeEnv(t, nil)
	disks, err := e.DataDisks()
	if err != nil || !slices.Equal(disks, []string{"nvme0n1"}) {
		t.Fatalf("data disks %v %v", disks, err)
	}
	rs := CheckAll(e, Tuners())
	want := map[string]string{
		"cpu_governor": "needs-change", "net_irq": "needs-change", "disk_irq": "needs-change",
		"disk_scheduler": "needs-change", "disk_nomerges": "needs-change", "disk_write_cache": "unsupported",
		"aio_max_nr": "needs-change", "swappiness": "needs-change", "transparent_hugepages": "needs-change",
		"clocksource": "needs-change", "coredump": "needs-change", "ballast_file": "needs-change",
		"net_backlog": "needs-change", "somaxconn": "ok",
	}
	if diff := cmp.Diff(want, statuses(rs)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s\n%+v", diff, rs)
	}
	byName := map[string]Result{}
	for _, r := range rs {
		byName[r.Tuner] = r
	}
	sched := byName["disk_scheduler"].Writes
	if len(sched) != 1 || sched[0].Path != "/sys/block/nvme0n1/queue/scheduler" || sched[0].Value != "none" || sched[0].Previous != "mq-deadline" {
		t.Errorf("scheduler writes %+v", sched)
	}
	var irqs []string
	for _, w := range byName["disk_irq"].Writes {
		irqs = append(irqs, w.Path+"="+w.Value)
	}
	wantIRQ := []string{"/proc/irq/40/smp_affinity_list=0", "/proc/irq/41/smp_affinity_list=1", "/proc/irq/42/smp_affinity_list=2"}
	if !slices.Equal(irqs, wantIRQ) {
		t.Errorf("disk irq writes %v, want %v", irqs, wantIRQ)
	}
	if w := byName["net_irq"].Writes; len(w) != 2 || w[1].Path != "/proc/irq/51/smp_affinity_list" {
		t.Errorf("net irq writes %+v", w)
	}
	if w := byName["cpu_governor"].Writes; len(w) != 4 || w[3].Value != "performance" {
		t.Errorf("governor writes %+v", w)
	}
}

func TestApplyRestore(t *testing.T) {
	e := fakeEnv(t, nil)
	before := snapshot(t, e)
	dry, err := Apply(e, Tuners(), true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, snapshot(t, e)); diff != "" {
		t.Fatalf("dry run changed the tree:\n%s", diff)
	}
	applied, err := Apply(e, Tuners(), false)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range applied {
		want := OutcomeApplied
		switch a.Tuner {
		case "somaxconn":
			want = OutcomeOK
		case "disk_write_cache":
			want = OutcomeUnsupported
		}
		if a.Outcome != want {
			t.Errorf("%s: %s (%s), want %s", a.Tuner, a.Outcome, a.Reason, want)
		}
		if want == OutcomeApplied && !cmp.Equal(a.Writes, dry[i].Writes) {
			t.Errorf("%s wrote %+v, dry run said %+v", a.Tuner, a.Writes, dry[i].Writes)
		}
	}
	after := snapshot(t, e)
	for p, v := range map[string]string{
		"/proc/sys/vm/swappiness": "1\n", "/proc/sys/fs/aio-max-nr": "1048576\n",
		"/sys/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/queue/scheduler": "none\n",
		"/proc/irq/42/smp_affinity_list":                                          "2\n", "/proc/irq/51/smp_affinity_list": "1\n",
		"/sys/devices/system/cpu/cpu3/cpufreq/scaling_governor":            "performance\n",
		"/sys/devices/system/clocksource/clocksource0/current_clocksource": "tsc\n",
		"/proc/sys/kernel/core_pattern":                                    DefaultCoreDumpDir + "/core.%e.%p.%t\n",
		"/sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_none":     "0\n",
		"/proc/sys/net/ipv4/tcp_max_syn_backlog":                           "4096\n",
	} {
		if after[p] != v {
			t.Errorf("%s = %q after apply, want %q", p, after[p], v)
		}
	}
	if st, err := e.Root.Stat("/data/ballast"); err != nil || st.Size() != 1<<20 {
		t.Errorf("ballast: %v %v", st, err)
	}
	if rs := CheckAll(e, Tuners()); statuses(rs)["swappiness"] != "ok" || statuses(rs)["ballast_file"] != "ok" {
		t.Errorf("check after apply: %v", statuses(rs))
	}
	rf, err := loadRestore(e)
	if err != nil || len(rf.Entries) != 24 {
		t.Fatalf("restore file: %d entries, %v", len(rf.Entries), err)
	}
	// A second apply changes nothing and keeps the original values.
	again, err := Apply(e, Tuners(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range again {
		if a.Outcome != OutcomeOK && a.Outcome != OutcomeUnsupported {
			t.Errorf("second apply of %s: %s", a.Tuner, a.Outcome)
		}
	}
	// Restoring one tuner undoes only its writes.
	rs, err := Restore(e, []string{"swappiness"}, false)
	if err != nil || len(rs) != 1 || rs[0].Error != "" {
		t.Fatalf("restore swappiness: %+v %v", rs, err)
	}
	if v, _ := e.Root.Read("/proc/sys/vm/swappiness"); v != "60" {
		t.Errorf("swappiness after restore %q", v)
	}
	if v, _ := e.Root.Read("/proc/sys/fs/aio-max-nr"); v != "1048576" {
		t.Errorf("aio-max-nr restored by a restore of swappiness: %q", v)
	}
	if _, err := Restore(e, nil, false); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, snapshot(t, e)); diff != "" {
		t.Errorf("tree after restore differs from before apply (-before +after):\n%s", diff)
	}
	if e.Root.Exists("/var") {
		t.Errorf("restore left the core dump dir and its parents")
	}
}

func TestUnsupported(t *testing.T) {
	const cpu = "/sys/devices/system/cpu/"
	const mi = "/proc/self/mountinfo"
	base := tunetest.Files()[mi]
	cases := []struct {
		name, tuner string
		edit        map[string]string
		status      Status
		reason      string
	}{
		{"no cpufreq", "cpu_governor", map[string]string{cpu + "cpu0/cpufreq": "", cpu + "cpu1/cpufreq": "", cpu + "cpu2/cpufreq": "", cpu + "cpu3/cpufreq": ""},
			StatusUnsupported, "no cpufreq"},
		{"no performance governor", "cpu_governor", map[string]string{cpu + "cpu2/cpufreq/scaling_available_governors": "powersave schedutil"},
			StatusUnsupported, "cpu2 offers no performance governor"},
		{"read-only sysfs", "disk_scheduler", map[string]string{mi: strings.Replace(base, "/sys rw,nosuid", "/sys ro,nosuid", 1)},
			StatusUnsupported, "/sys is mounted read-only"},
		{"data dir on tmpfs", "disk_nomerges", map[string]string{mi: strings.Replace(base, "259:2 / /data", "0:30 / /data", 1)},
			StatusUnsupported, "no block device"},
		{"disk irq of tmpfs", "disk_irq", map[string]string{mi: strings.Replace(base, "259:2 / /data", "0:30 / /data", 1)},
			StatusUnsupported, "no block device"},
		{"no nic", "net_irq", map[string]string{"/sys/class/net/eth0": ""}, StatusUnsupported, "no network interface with device interrupts (lo)"},
		{"no affinity files", "disk_irq", map[string]string{"/proc/irq/40": "", "/proc/irq/41": "", "/proc/irq/42": ""}, StatusUnsupported, "have no /proc/irq"},
		{"gcp nvme", "disk_write_cache", map[string]string{"/sys/class/dmi/id/sys_vendor": "Google"}, StatusNeedsChange, ""},
		{"no tsc", "clocksource", map[string]string{"/sys/devices/system/clocksource/clocksource0/available_clocksource": "xen hpet",
			"/sys/devices/system/clocksource/clocksource0/current_clocksource": "xen"}, StatusUnsupported, "tsc is not available"},
		{"kvm clock", "clocksource", map[string]string{"/sys/devices/system/clocksource/clocksource0/current_clocksource": "kvm-clock"}, StatusOK, ""},
		{"no thp", "transparent_hugepages", map[string]string{"/sys/kernel/mm/transparent_hugepage": ""}, StatusUnsupported, "without THP"},
		{"no scheduler choice", "disk_scheduler", map[string]string{"/sys/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/queue/scheduler": "[bfq] kyber"},
			StatusUnsupported, "offers none of none, noop"},
		{"rotational nvme", "disk_scheduler", map[string]string{"/sys/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/queue/rotational": "1"}, StatusNeedsChange, ""},
		{"missing sysctl", "swappiness", map[string]string{"/proc/sys/vm/swappiness": ""}, StatusUnsupported, "does not exist"},
		{"unparsable sysctl", "swappiness", map[string]string{"/proc/sys/vm/swappiness": "lots"}, StatusFailed, "cannot parse"},
		{"crash handler", "coredump", map[string]string{"/proc/sys/kernel/core_pattern": "|/usr/lib/systemd/systemd-coredump %P"}, StatusOK, "crash handler"},
		{"no data dir", "ballast_file", map[string]string{"/data": ""}, StatusUnsupported, "does not exist yet"},
		{"one cpu", "net_irq", map[string]string{cpu + "online": "0"}, StatusOK, "one CPU"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := fakeEnv(t, c.edit)
			ts, err := Select([]string{c.tuner})
			if err != nil {
				t.Fatal(err)
			}
			r := ts[0].Check(e)
			if r.Status != c.status || !strings.Contains(r.Reason, c.reason) {
				t.Errorf("%s: %s, want %s with %q", c.tuner, r.Summary(), c.status, c.reason)
			}
			if r.Status == StatusUnsupported && len(r.Writes) > 0 {
				t.Errorf("unsupported with writes %+v", r.Writes)
			}
			before := snapshot(t, e)
			a, err := Apply(e, ts, false)
			if err != nil {
				t.Fatal(err)
			}
			if c.status == StatusUnsupported {
				if a[0].Outcome != OutcomeUnsupported || len(a[0].Writes) > 0 {
					t.Errorf("apply of an unsupported tuner: %+v", a[0])
				}
				if diff := cmp.Diff(before, snapshot(t, e)); diff != "" {
					t.Errorf("apply of an unsupported tuner changed the tree:\n%s", diff)
				}
			}
		})
	}
}

func TestBallastNoRoom(t *testing.T) {
	e := fakeEnv(t, nil)
	e.Statfs = func(string) (Space, error) { return Space{TotalBytes: 4 << 20, FreeBytes: 1 << 20}, nil }
	if r := ballastFile.Check(e); r.Status != StatusUnsupported || !strings.Contains(r.Reason, "bytes free") {
		t.Errorf("ballast without room: %s", r.Summary())
	}
}

func TestClassify(t *testing.T) {
	w := Write{Op: OpWrite, Path: "/proc/irq/36/smp_affinity_list", Value: "1"}
	for _, c := range []struct {
		err  error
		want Outcome
	}{
		{&fs.PathError{Op: "write", Path: "x", Err: syscall.EIO}, OutcomeUnsupported},
		{&fs.PathError{Op: "write", Path: "x", Err: syscall.EINVAL}, OutcomeUnsupported},
		{&fs.PathError{Op: "open", Path: "x", Err: syscall.EACCES}, OutcomeFailed},
		{errors.New("other"), OutcomeFailed},
	} {
		if got, reason := classify(w, c.err); got != c.want || reason == "" {
			t.Errorf("classify(%v) = %s %q, want %s", c.err, got, reason, c.want)
		}
	}
}

func TestSelect(t *testing.T) {
	ts, err := Select([]string{"somaxconn", "swappiness", "somaxconn"})
	if err != nil || len(ts) != 2 || ts[0].Name != "swappiness" || ts[1].Name != "somaxconn" {
		t.Errorf("select: %v %v", ts, err)
	}
	if _, err := Select([]string{"turbo"}); !errors.Is(err, ErrUnknownTuner) || !strings.Contains(err.Error(), "disk_scheduler") {
		t.Errorf("unknown tuner: %v", err)
	}
}

func TestRestoreFileCorrupt(t *testing.T) {
	e := fakeEnv(t, nil)
	if err := os.WriteFile(e.Root.Path("/data/"+RestoreName), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(e, nil, false); !errors.Is(err, ErrParse) {
		t.Errorf("restore of a corrupt file: %v", err)
	}
	if _, err := Apply(e, []Tuner{swappiness}, false); !errors.Is(err, ErrParse) {
		t.Errorf("apply with a corrupt restore file: %v", err)
	}
	if v, _ := e.Root.Read("/proc/sys/vm/swappiness"); v != "60" {
		t.Errorf("apply wrote without a restore file: %s", v)
	}
}
