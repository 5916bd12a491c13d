package tune

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// sysctl is one numeric kernel setting under /proc/sys and the bound the
// tuner wants (at least or at most want).
type sysctl struct {
	path   string
	want   int64
	atMost bool
}

// checkSysctls compares each setting with its bound; the ones out of
// bounds become writes of the bound.
func checkSysctls(e *Env, ss ...sysctl) Result {
	var cur, rec []string
	var writes []Write
	for _, s := range ss {
		name := strings.ReplaceAll(strings.TrimPrefix(s.path, "/proc/sys/"), "/", ".")
		v, err := e.Root.Read(s.path)
		if errors.Is(err, fs.ErrNotExist) {
			return unsupported("%s does not exist (kernel or namespace without it)", s.path)
		}
		if err != nil {
			return failed(err)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return failed(fmt.Errorf("%s = %q: %w", s.path, v, ErrParse))
		}
		bound := ">="
		if s.atMost {
			bound = "<="
		}
		cur = append(cur, name+"="+v)
		rec = append(rec, name+bound+strconv.FormatInt(s.want, 10))
		if (s.atMost && n > s.want) || (!s.atMost && n < s.want) {
			writes = append(writes, Write{Op: OpWrite, Path: s.path, Value: strconv.FormatInt(s.want, 10), Previous: v})
		}
	}
	c, r := strings.Join(cur, " "), strings.Join(rec, " ")
	if len(writes) == 0 {
		return okResult(c, r, "")
	}
	return change(c, r, writes...)
}

var aioMaxNr = Tuner{
	Name:        "aio_max_nr",
	Description: "fs.aio-max-nr >= 1048576: room for asynchronous I/O contexts (Redpanda's Seastar needs many; kept for co-located tools)",
	check: func(e *Env) Result {
		return checkSysctls(e, sysctl{path: "/proc/sys/fs/aio-max-nr", want: 1 << 20})
	},
}

var swappiness = Tuner{
	Name:        "swappiness",
	Description: "vm.swappiness <= 1: keep the broker's memory out of swap (a swapped-in page is a latency spike)",
	check: func(e *Env) Result {
		return checkSysctls(e, sysctl{path: "/proc/sys/vm/swappiness", want: 1, atMost: true})
	},
}

var netBacklog = Tuner{
	Name:        "net_backlog",
	Description: "net.ipv4.tcp_max_syn_backlog >= 4096, net.core.netdev_max_backlog >= 2048: no dropped connects or packets in bursts",
	check: func(e *Env) Result {
		return checkSysctls(e, sysctl{path: "/proc/sys/net/ipv4/tcp_max_syn_backlog", want: 4096},
			sysctl{path: "/proc/sys/net/core/netdev_max_backlog", want: 2048})
	},
}

var somaxconn = Tuner{
	Name:        "somaxconn",
	Description: "net.core.somaxconn >= 4096: the listen backlog of the Kafka and admin listeners",
	check: func(e *Env) Result {
		return checkSysctls(e, sysctl{path: "/proc/sys/net/core/somaxconn", want: 4096})
	},
}

// choiceWrite checks a sysfs multiple-choice file for one of want (in
// order of preference) and returns the write of the first available.
func choiceWrite(e *Env, p string, want ...string) (cur string, w *Write, r *Result) {
	s, err := e.Root.Read(p)
	if errors.Is(err, fs.ErrNotExist) {
		res := unsupported("%s does not exist", p)
		return "", nil, &res
	}
	if err != nil {
		res := failed(err)
		return "", nil, &res
	}
	sel, all := parseChoice(s)
	if slices.Contains(want, sel) {
		return sel, nil, nil
	}
	for _, v := range want {
		if slices.Contains(all, v) {
			return sel, &Write{Op: OpWrite, Path: p, Value: v, Previous: sel}, nil
		}
	}
	res := unsupported("%s offers none of %s (it offers %s)", p, strings.Join(want, ", "), strings.Join(all, ", "))
	return sel, nil, &res
}

const thpDir = "/sys/kernel/mm/transparent_hugepage"

var transparentHugepages = Tuner{
	Name: "transparent_hugepages",
	Description: "transparent huge pages always, khugepaged max_ptes_none 0: fewer TLB misses on the Go heap without " +
		"khugepaged inflating sparse memory past the memory limit (the Go GC guide's advice)",
	check: func(e *Env) Result {
		if !e.Root.Exists(thpDir + "/enabled") {
			return unsupported("%s/enabled does not exist (kernel built without THP)", thpDir)
		}
		sel, w, r := choiceWrite(e, thpDir+"/enabled", "always")
		if r != nil {
			return *r
		}
		var writes []Write
		if w != nil {
			writes = append(writes, *w)
		}
		cur, rec := "enabled="+sel, "enabled=always"
		ptes := thpDir + "/khugepaged/max_ptes_none"
		if v, err := e.Root.Read(ptes); err == nil {
			cur += " max_ptes_none=" + v
			rec += " max_ptes_none=0"
			if v != "0" {
				writes = append(writes, Write{Op: OpWrite, Path: ptes, Value: "0", Previous: v})
			}
		}
		if len(writes) == 0 {
			return okResult(cur, rec, "")
		}
		return change(cur, rec, writes...)
	},
}

const clockDir = "/sys/devices/system/clocksource/clocksource0"

// goodClocks are the clock sources the vDSO reads without a system call.
var goodClocks = []string{"tsc", "kvm-clock", "arch_sys_counter", "hyperv_clocksource_tsc_page"}

var clocksource = Tuner{
	Name:        "clocksource",
	Description: "a clock source the vDSO reads without a system call (tsc, kvm-clock, arch_sys_counter): time.Now is on every request's path",
	check: func(e *Env) Result {
		cur, err := e.Root.Read(clockDir + "/current_clocksource")
		if errors.Is(err, fs.ErrNotExist) {
			return unsupported("%s does not exist", clockDir)
		}
		if err != nil {
			return failed(err)
		}
		if slices.Contains(goodClocks, cur) {
			return okResult(cur, strings.Join(goodClocks, "|"), "")
		}
		avail, _ := e.Root.Read(clockDir + "/available_clocksource")
		if !slices.Contains(strings.Fields(avail), "tsc") {
			return unsupported("clock source %s, and tsc is not available (available: %s)", cur, avail)
		}
		return change(cur, "tsc", Write{Op: OpWrite, Path: clockDir + "/current_clocksource", Value: "tsc", Previous: cur})
	},
}

const corePattern = "/proc/sys/kernel/core_pattern"

var coredump = Tuner{
	Name: "coredump",
	Description: "kernel.core_pattern to an absolute directory (or a crash handler), so a core file (GOTRACEBACK=crash) " +
		"never lands in, and fills, the data dir",
	check: func(e *Env) Result {
		cur, err := e.Root.Read(corePattern)
		if errors.Is(err, fs.ErrNotExist) {
			return unsupported("%s does not exist", corePattern)
		}
		if err != nil {
			return failed(err)
		}
		if strings.HasPrefix(cur, "|") {
			return okResult(cur, "absolute path or crash handler", "cores go to a crash handler")
		}
		if path.IsAbs(cur) && e.Root.Exists(path.Dir(cur)) {
			return okResult(cur, "absolute path or crash handler", "")
		}
		dir := e.coreDumpDir()
		want := dir + "/core.%e.%p.%t"
		var writes []Write
		for d := dir; d != "/" && !e.Root.Exists(d); d = path.Dir(d) {
			writes = slices.Insert(writes, 0, Write{Op: OpMkdir, Path: d}) // parents first
		}
		writes = append(writes, Write{Op: OpWrite, Path: corePattern, Value: want, Previous: cur})
		return change(cur, want, writes...)
	},
}

var cpuGovernor = Tuner{
	Name:        "cpu_governor",
	Description: "CPU frequency governor performance on every online CPU: no latency spent ramping the clock up",
	check: func(e *Env) Result {
		cpus, err := e.CPUs()
		if err != nil {
			return failed(err)
		}
		if len(cpus) == 0 || !e.Root.Exists(fmt.Sprintf("/sys/devices/system/cpu/cpu%d/cpufreq", cpus[0])) {
			return unsupported("no cpufreq under /sys/devices/system/cpu (the hypervisor or firmware controls the frequency)")
		}
		var writes []Write
		var cur []string
		for _, c := range cpus {
			dir := fmt.Sprintf("/sys/devices/system/cpu/cpu%d/cpufreq", c)
			g, err := e.Root.Read(dir + "/scaling_governor")
			if errors.Is(err, fs.ErrNotExist) {
				continue // this CPU has no frequency scaling of its own
			}
			if err != nil {
				return failed(err)
			}
			if !slices.Contains(cur, g) {
				cur = append(cur, g)
			}
			if g == "performance" {
				continue
			}
			avail, _ := e.Root.Read(dir + "/scaling_available_governors")
			if !slices.Contains(strings.Fields(avail), "performance") {
				return unsupported("cpu%d offers no performance governor (available: %s)", c, avail)
			}
			writes = append(writes, Write{Op: OpWrite, Path: dir + "/scaling_governor", Value: "performance", Previous: g})
		}
		if len(cur) == 0 {
			return unsupported("no CPU has a scaling_governor")
		}
		if len(writes) == 0 {
			return okResult(strings.Join(cur, ","), "performance", "")
		}
		return change(strings.Join(cur, ","), "performance", writes...)
	},
}
