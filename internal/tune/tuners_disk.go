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

// dataDisks returns the data dir's disks, or the result that says why
// the disk tuners do not apply.
func dataDisks(e *Env) ([]string, *Result) {
	disks, err := e.DataDisks()
	if errors.Is(err, ErrNoBlockDevice) {
		r := unsupported("%v", err)
		return nil, &r
	}
	if err != nil {
		r := failed(err)
		return nil, &r
	}
	return disks, nil
}

// perDisk runs fn on each data disk and merges the results: any
// unsupported or failed disk decides, the writes add up.
func perDisk(e *Env, fn func(disk string) Result) Result {
	disks, bad := dataDisks(e)
	if bad != nil {
		return *bad
	}
	var cur, rec []string
	var writes []Write
	var reasons []string
	for _, d := range disks {
		r := fn(d)
		if r.Status == StatusUnsupported || r.Status == StatusFailed {
			return r
		}
		cur = append(cur, d+":"+r.Current)
		rec = append(rec, r.Recommended)
		if r.Reason != "" {
			reasons = append(reasons, d+": "+r.Reason)
		}
		writes = append(writes, r.Writes...)
	}
	slices.Sort(rec)
	res := Result{Current: strings.Join(cur, " "), Recommended: strings.Join(slices.Compact(rec), " "),
		Reason: strings.Join(reasons, "; "), Writes: writes}
	if len(writes) > 0 {
		res.Status = StatusNeedsChange
	}
	return res
}

var diskScheduler = Tuner{
	Name:        "disk_scheduler",
	Description: "I/O scheduler none (noop on old kernels) on the data dir's disks: NVMe and virtio queue and order requests themselves",
	check: func(e *Env) Result {
		return perDisk(e, func(d string) Result {
			q := "/sys/block/" + d + "/queue"
			if rot, _ := e.Root.Read(q + "/rotational"); rot == "1" && !paravirtual(e.Root, d) {
				sel, _ := e.Root.Read(q + "/scheduler")
				s, _ := parseChoice(sel)
				return okResult(s, s, "rotational: the kernel's scheduler is kept")
			}
			cur, w, r := choiceWrite(e, q+"/scheduler", "none", "noop")
			if r != nil {
				return *r
			}
			if w == nil {
				return okResult(cur, "none", "")
			}
			return change(cur, "none", *w)
		})
	},
}

// paravirtual reports whether disk d is NVMe or a hypervisor's disk
// (virtio, Xen), which may say rotational but queue requests themselves.
func paravirtual(r Root, d string) bool {
	if strings.HasPrefix(d, "nvme") || strings.HasPrefix(d, "xvd") {
		return true
	}
	real, err := r.Resolve("/sys/block/" + d + "/device")
	return err == nil && strings.Contains(real, "/virtio")
}

var diskNomerges = Tuner{
	Name:        "disk_nomerges",
	Description: "nomerges 2 on the data dir's disks: no CPU spent merging requests the device handles as well",
	check: func(e *Env) Result {
		return perDisk(e, func(d string) Result {
			p := "/sys/block/" + d + "/queue/nomerges"
			v, err := e.Root.Read(p)
			if errors.Is(err, fs.ErrNotExist) {
				return unsupported("%s does not exist", p)
			}
			if err != nil {
				return failed(err)
			}
			if v == "2" {
				return okResult(v, "2", "")
			}
			return change(v, "2", Write{Op: OpWrite, Path: p, Value: "2", Previous: v})
		})
	},
}

var diskWriteCache = Tuner{
	Name: "disk_write_cache",
	Description: "write_cache \"write through\" only on GCP local NVMe SSDs, whose cache survives power loss: " +
		"the kernel then skips the flushes; anywhere else a volatile cache needs them and is left alone",
	check: func(e *Env) Result {
		vendor, _ := e.Root.Read("/sys/class/dmi/id/sys_vendor")
		gcp := strings.Contains(vendor, "Google")
		return perDisk(e, func(d string) Result {
			p := "/sys/block/" + d + "/queue/write_cache"
			v, err := e.Root.Read(p)
			if errors.Is(err, fs.ErrNotExist) {
				return unsupported("%s does not exist", p)
			}
			if err != nil {
				return failed(err)
			}
			if v == "write through" {
				return okResult(v, "write through", "")
			}
			if !gcp || !strings.HasPrefix(d, "nvme") {
				return unsupported("%s has a volatile write cache (%s): its flushes are needed; only GCP local NVMe SSDs are known to be safe without", d, v)
			}
			return change(v, "write through", Write{Op: OpWrite, Path: p, Value: "write through", Previous: v})
		})
	},
}

var diskIRQ = Tuner{
	Name:        "disk_irq",
	Description: "the data dir's disk interrupts spread one per CPU round-robin (/proc/irq/N/smp_affinity_list)",
	check: func(e *Env) Result {
		disks, bad := dataDisks(e)
		if bad != nil {
			return *bad
		}
		var irqs []int
		for _, d := range disks {
			dev := "/sys/block/" + d + "/device"
			if !e.Root.Exists(dev) {
				return unsupported("%s has no device (a virtual block device has no interrupts)", d)
			}
			found, err := irqsOf(e.Root, dev)
			if err != nil {
				return failed(err)
			}
			irqs = append(irqs, found...)
		}
		if len(irqs) == 0 {
			return unsupported("no interrupts found for %s (no msi_irqs or irq in sysfs)", strings.Join(disks, ","))
		}
		return spreadIRQs(e, irqs)
	},
}

var netIRQ = Tuner{
	Name:        "net_irq",
	Description: "network interface interrupts spread one per CPU round-robin (/proc/irq/N/smp_affinity_list), the IRQ affinity tuner",
	check: func(e *Env) Result {
		ifaces, err := e.Root.List("/sys/class/net")
		if err != nil {
			return unsupported("/sys/class/net: %v", err)
		}
		var irqs []int
		for _, n := range ifaces {
			dev := "/sys/class/net/" + n + "/device"
			if !e.Root.Exists(dev) {
				continue // virtual: lo, bridges, tunnels
			}
			found, err := irqsOf(e.Root, dev)
			if err != nil {
				return failed(err)
			}
			irqs = append(irqs, found...)
		}
		if len(irqs) == 0 {
			return unsupported("no network interface with device interrupts (%s)", strings.Join(ifaces, ", "))
		}
		return spreadIRQs(e, irqs)
	},
}

// spreadIRQs places the k-th IRQ (in number order) on the k-th online CPU
// round-robin. IRQs without an smp_affinity_list are left out.
func spreadIRQs(e *Env, irqs []int) Result {
	cpus, err := e.CPUs()
	if err != nil {
		return failed(err)
	}
	slices.Sort(irqs)
	irqs = slices.Compact(irqs)
	if len(cpus) < 2 {
		return okResult(formatCPUList(cpus), formatCPUList(cpus), "one CPU: nothing to spread")
	}
	var cur, rec []string
	var writes []Write
	k := 0
	for _, irq := range irqs {
		p := fmt.Sprintf("/proc/irq/%d/smp_affinity_list", irq)
		v, err := e.Root.Read(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return failed(err)
		}
		want := strconv.Itoa(cpus[k%len(cpus)])
		k++
		cur = append(cur, fmt.Sprintf("%d:%s", irq, v))
		rec = append(rec, fmt.Sprintf("%d:%s", irq, want))
		if got, err := parseCPUList(v); err != nil || formatCPUList(got) != want {
			writes = append(writes, Write{Op: OpWrite, Path: p, Value: want, Previous: v})
		}
	}
	if k == 0 {
		return unsupported("IRQs %v have no /proc/irq/N/smp_affinity_list", irqs)
	}
	c, r := abbreviate(cur), abbreviate(rec)
	if len(writes) == 0 {
		return okResult(c, r, "")
	}
	return change(c, r, writes...)
}

// abbreviate joins at most 6 items and counts the rest.
func abbreviate(items []string) string {
	const show = 6
	if len(items) <= show {
		return strings.Join(items, " ")
	}
	return strings.Join(items[:show], " ") + fmt.Sprintf(" …(+%d)", len(items)-show)
}

// BallastName is the ballast file's name in the data dir.
const BallastName = "ballast"

var ballastFile = Tuner{
	Name: "ballast_file",
	Description: "a preallocated ballast file in the data dir (1 GiB by default): when the disk fills, delete it " +
		"to give the broker room to start and trim",
	check: func(e *Env) Result {
		p := path.Join(e.DataDir, BallastName)
		want := e.ballastBytes()
		if st, err := e.Root.Stat(e.DataDir); err != nil || !st.IsDir() {
			return unsupported("data dir %s does not exist yet (run petrel serve once, or create it)", e.DataDir)
		}
		if st, err := e.Root.Stat(p); err == nil {
			return okResult(bytesIEC(uint64(st.Size())), "present", "")
		}
		sp, err := e.Statfs(e.Root.Path(e.DataDir))
		if err != nil {
			return failed(err)
		}
		if sp.FreeBytes < 2*uint64(want) {
			return unsupported("only %d bytes free under %s: a %d-byte ballast would take too much", sp.FreeBytes, e.DataDir, want)
		}
		return change("absent", bytesIEC(uint64(want)), Write{Op: OpCreate, Path: p, Size: want})
	},
}
