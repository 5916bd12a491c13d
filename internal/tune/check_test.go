package tune

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/petrel-streaming/petrel/internal/tune/tunetest"
)

func levels(items []Item) map[string]string {
	m := map[string]string{}
	for _, it := range items {
		m[it.Check] = it.Level.String()
	}
	return m
}

func TestCheckNode(t *testing.T) {
	e := fakeEnv(t, nil)
	e.DirectIO = func(string) (bool, error) { return true, nil }
	got := levels(CheckNode(e))
	want := map[string]string{"data dir": "OK", "filesystem": "OK", "direct I/O": "OK", "free space": "OK",
		"open files limit": "OK", "memory": "OK", "tuner somaxconn": "OK", "tuner disk_write_cache": "SKIP"}
	for _, tu := range Tuners() {
		if _, ok := want["tuner "+tu.Name]; !ok {
			want["tuner "+tu.Name] = "WARN"
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("levels (-want +got):\n%s", diff)
	}
}

func TestCheckNodeBad(t *testing.T) {
	mi := tunetest.Files()["/proc/self/mountinfo"]
	e := fakeEnv(t, map[string]string{
		"/proc/self/mountinfo": strings.Replace(mi, "259:2 / /data rw,noatime - xfs", "0:40 / /data rw - tmpfs", 1),
		"/proc/meminfo":        "MemTotal: 262144 kB\n",
		"/data":                "",
	})
	e.DirectIO = func(string) (bool, error) { return false, nil }
	e.Statfs = func(string) (Space, error) { return Space{TotalBytes: 2 << 30, FreeBytes: 100 << 20}, nil }
	e.NoFile = func() (uint64, uint64, error) { return 1024, 2048, nil }
	items := CheckNode(e)
	got := levels(items)
	for check, want := range map[string]string{"data dir": "WARN", "filesystem": "FAIL", "direct I/O": "WARN",
		"free space": "FAIL", "open files limit": "FAIL", "memory": "FAIL", "tuner disk_scheduler": "SKIP", "tuner ballast_file": "SKIP"} {
		if got[check] != want {
			t.Errorf("%s: %s, want %s (%+v)", check, got[check], want, items)
		}
	}
	e.NoFile = func() (uint64, uint64, error) { return 1024, 8192, nil }
	if it := checkNoFile(e); it.Level != LevelWarn {
		t.Errorf("nofile 8192: %+v", it)
	}
}

func TestParsers(t *testing.T) {
	ms, err := parseMountinfo("36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n" +
		"37 35 98:1 / / ro - xfs /dev/sda1 rw\n")
	if err != nil || len(ms) != 2 || ms[0].Point != "/mnt two" || ms[0].Major != 98 || !ms[1].ReadOnly() || ms[0].FSType != "ext3" {
		t.Fatalf("mountinfo %+v %v", ms, err)
	}
	if m, _ := mountOf(ms, "/mnt two/x"); m.Point != "/mnt two" {
		t.Errorf("mountOf: %+v", m)
	}
	if m, _ := mountOf(ms, "/mnt twox"); m.Point != "/" {
		t.Errorf("mountOf prefix: %+v", m)
	}
	if _, err := parseMountinfo("1 2 3\n"); err == nil {
		t.Error("short mountinfo line accepted")
	}
	cpus, err := parseCPUList("0-3,8,10-11")
	if err != nil || formatCPUList(cpus) != "0-3,8,10-11" || len(cpus) != 7 {
		t.Errorf("cpu list %v %v", cpus, err)
	}
	for _, bad := range []string{"x", "3-1", "0-99999999"} {
		if _, err := parseCPUList(bad); err == nil {
			t.Errorf("cpu list %q accepted", bad)
		}
	}
	if sel, all := parseChoice("none [mq-deadline] kyber"); sel != "mq-deadline" || len(all) != 3 {
		t.Errorf("choice %q %v", sel, all)
	}
	if w := (Write{Op: OpWrite, Path: "/p", Value: "write through", Previous: "write back"}).String(); w != "echo 'write through' > /p  # was write back" {
		t.Errorf("write string %q", w)
	}
}
