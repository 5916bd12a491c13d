package shard

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/petrel-streaming/petrel/internal/model"
)

// pin locks the calling goroutine to its OS thread and binds the thread to
// the id-th CPU (modulo their count) of the process's affinity mask, so it
// respects taskset and cgroup cpusets.
func pin(id model.ShardID) error {
	runtime.LockOSThread()
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		return fmt.Errorf("shard: sched_getaffinity: %w", err)
	}
	cpus := make([]int, 0, allowed.Count())
	for c := 0; c < len(allowed)*64 && len(cpus) < cap(cpus); c++ {
		if allowed.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) == 0 {
		return fmt.Errorf("shard: empty affinity mask")
	}
	var set unix.CPUSet
	set.Set(cpus[int(id)%len(cpus)])
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("shard: sched_setaffinity: %w", err)
	}
	return nil
}

// availableRAM is physical RAM, or the cgroup (v2, then v1) limit when lower.
func availableRAM() (int64, error) {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0, fmt.Errorf("shard: sysinfo: %w", err)
	}
	ram := int64(si.Totalram) * int64(si.Unit)
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && n < ram {
			ram = n
		}
	}
	return ram, nil
}
