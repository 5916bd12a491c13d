package tune

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Mount is one line of /proc/self/mountinfo.
type Mount struct {
	Major, Minor uint32
	Point        string   // mount point
	Options      []string // per-mount options (rw, ro, noatime, …)
	FSType       string
	Source       string
}

// ReadOnly reports whether the mount is read-only.
func (m Mount) ReadOnly() bool { return slices.Contains(m.Options, "ro") }

// ErrParse marks a kernel file whose content could not be understood.
var ErrParse = errors.New("cannot parse")

// parseMountinfo reads /proc/self/mountinfo's format:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//	id parent maj:min root point options [optional…] - fstype source super-options
func parseMountinfo(s string) ([]Mount, error) {
	var out []Mount
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		sep := slices.Index(f, "-")
		if sep < 6 || len(f) < sep+3 {
			return nil, fmt.Errorf("mountinfo line %q: %w", strings.TrimSpace(line), ErrParse)
		}
		maj, min, ok := strings.Cut(f[2], ":")
		ma, err1 := strconv.ParseUint(maj, 10, 32)
		mi, err2 := strconv.ParseUint(min, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("mountinfo device %q: %w", f[2], ErrParse)
		}
		out = append(out, Mount{Major: uint32(ma), Minor: uint32(mi), Point: unescapeMount(f[4]),
			Options: strings.Split(f[5], ","), FSType: f[sep+1], Source: f[sep+2]})
	}
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountOf returns the mount holding p: the longest mount point that is p
// or an ancestor of p, the last one listed when several are stacked.
func mountOf(mounts []Mount, p string) (Mount, bool) {
	p = path.Clean(p)
	best, found := Mount{}, false
	for _, m := range mounts {
		if !within(p, m.Point) {
			continue
		}
		if !found || len(m.Point) >= len(best.Point) {
			best, found = m, true
		}
	}
	return best, found
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return dir == "/" || p == dir || strings.HasPrefix(p, dir+"/")
}

// parseChoice reads a sysfs multiple-choice file ("none [mq-deadline]
// kyber", "[always] madvise never"): the selected entry and all entries.
// A file with no brackets holds just the selected value.
func parseChoice(s string) (selected string, all []string) {
	for _, f := range strings.Fields(s) {
		if strings.HasPrefix(f, "[") && strings.HasSuffix(f, "]") {
			f = f[1 : len(f)-1]
			selected = f
		}
		all = append(all, f)
	}
	if selected == "" && len(all) == 1 {
		selected = all[0]
	}
	return selected, all
}

// parseCPUList reads a kernel CPU list ("0-3,8,10-11").
func parseCPUList(s string) ([]int, error) {
	var out []int
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("cpu list %q: %w", s, ErrParse)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("cpu list %q: %w", s, ErrParse)
			}
		}
		if b-a > 1<<16 {
			return nil, fmt.Errorf("cpu list %q too long: %w", s, ErrParse)
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out, nil
}

// formatCPUList writes cpus (sorted, distinct) in the kernel's list form.
func formatCPUList(cpus []int) string {
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if j > i {
			b.WriteString("-" + strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return b.String()
}

// ErrNoBlockDevice is returned when the data dir's file system has no
// block device under /sys/block (tmpfs, overlay, network file systems).
var ErrNoBlockDevice = errors.New("no block device")

// diskOf returns the /sys/block names of the whole disks under the block
// device maj:min: a partition gives its disk, a device-mapper or md
// device gives the disks it is built on.
func diskOf(r Root, maj, min uint32) ([]string, error) {
	real, err := r.Resolve(fmt.Sprintf("/sys/dev/block/%d:%d", maj, min))
	if err != nil {
		return nil, fmt.Errorf("block device %d:%d: %w", maj, min, ErrNoBlockDevice)
	}
	return wholeDisks(r, real, 0)
}

func wholeDisks(r Root, dev string, depth int) ([]string, error) {
	if depth > 8 {
		return nil, fmt.Errorf("%s: stacked devices too deep: %w", dev, ErrParse)
	}
	if r.Exists(dev + "/partition") {
		dev = path.Dir(dev)
	}
	slaves, _ := r.List(dev + "/slaves")
	if len(slaves) == 0 {
		return []string{path.Base(dev)}, nil
	}
	var out []string
	for _, s := range slaves {
		real, err := r.Resolve(dev + "/slaves/" + s)
		if err != nil {
			return nil, err
		}
		d, err := wholeDisks(r, real, depth+1)
		if err != nil {
			return nil, err
		}
		for _, x := range d {
			if !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
	}
	return out, nil
}

// irqsOf returns the IRQ numbers of the device whose sysfs directory is
// dev (a link such as /sys/block/vda/device is followed): the MSI vectors
// of the nearest device up the tree that has them, else its legacy irq.
func irqsOf(r Root, dev string) ([]int, error) {
	real, err := r.Resolve(dev)
	if err != nil {
		return nil, err
	}
	for d := real; strings.HasPrefix(d, "/sys/devices/"); d = path.Dir(d) {
		if names, err := r.List(d + "/msi_irqs"); err == nil && len(names) > 0 {
			var irqs []int
			for _, n := range names {
				if i, err := strconv.Atoi(n); err == nil {
					irqs = append(irqs, i)
				}
			}
			slices.Sort(irqs)
			return irqs, nil
		}
		if s, err := r.Read(d + "/irq"); err == nil {
			if i, err := strconv.Atoi(s); err == nil && i > 0 {
				return []int{i}, nil
			}
		}
	}
	return nil, nil
}
