// Package tune is the autotuner behind `petrel tune`, `petrel iotune` and
// `petrel check`: tuners for the machine settings a broker's latency
// depends on, a disk prober, and the node checks. It speaks to no broker.
//
// # Tuners
//
// Each Tuner (Tuners lists them) has a Name, a Description and a Check
// that reads the current value and returns a Result: ok, needs-change
// (with the exact Writes Apply would make), unsupported (with why: no
// such device or setting, a read-only /sys, a kernel that refuses) or
// failed. The set, as Redpanda's rpk ships it:
//
//	cpu_governor           /sys/devices/system/cpu/cpuN/cpufreq/scaling_governor      performance
//	net_irq                /proc/irq/N/smp_affinity_list of NIC MSI IRQs             one CPU each, round-robin
//	disk_irq               /proc/irq/N/smp_affinity_list of the data disk's IRQs     one CPU each, round-robin
//	disk_scheduler         /sys/block/D/queue/scheduler                               none (noop)
//	disk_nomerges          /sys/block/D/queue/nomerges                                2
//	disk_write_cache       /sys/block/D/queue/write_cache                             write through, GCP local NVMe only
//	aio_max_nr             /proc/sys/fs/aio-max-nr                                    >= 1048576
//	swappiness             /proc/sys/vm/swappiness                                    <= 1
//	transparent_hugepages  /sys/kernel/mm/transparent_hugepage/{enabled,khugepaged/max_ptes_none}  always, 0
//	clocksource            /sys/devices/system/clocksource/clocksource0/current_clocksource  tsc|kvm-clock|arch_sys_counter
//	coredump               /proc/sys/kernel/core_pattern (+ mkdir of the core dir)    <dir>/core.%e.%p.%t
//	ballast_file           <data dir>/ballast                                         1 GiB, fallocated
//	net_backlog            /proc/sys/net/ipv4/tcp_max_syn_backlog, net/core/netdev_max_backlog  >= 4096, >= 2048
//	somaxconn              /proc/sys/net/core/somaxconn                               >= 4096
//
// D are the data dir's disks, found from the file system: the longest
// mount point of /proc/self/mountinfo holding the data dir gives MAJ:MIN;
// /sys/dev/block/MAJ:MIN leads to the device (a partition's parent is its
// disk; dm and md devices lead through slaves/ to theirs). A device's
// IRQs are the msi_irqs (or irq) of the nearest device up its sysfs path.
//
// # Usage
//
//	e := &tune.Env{Host: tune.OSHost(), DataDir: "/var/lib/petrel"}
//	results := tune.CheckAll(e, tune.Tuners())    // read only
//	applied, err := tune.Apply(e, ts, dryRun)     // writes, recorded first
//	restored, err := tune.Restore(e, names, false) // undoes them, newest first
//
// All file access goes through Root: "/" on a host, a temporary directory
// with a fake /proc and /sys in tests (package tunetest builds one), so no
// test touches the machine's settings. Paths are shown inside the root.
//
// # Restore file
//
// Apply records each successful write in <data dir>/tune-restore.json
// (written atomically after each write) before going on; a path is
// recorded once, with its value before the first apply, so restore gives
// back the original however often apply ran:
//
//	{"version": 1, "entries": [
//	  {"tuner": "swappiness", "op": "write", "path": "/proc/sys/vm/swappiness", "value": "1", "previous": "60"},
//	  {"tuner": "coredump", "op": "mkdir", "path": "/var/lib/petrel"},
//	  {"tuner": "ballast_file", "op": "create", "path": "/data/ballast", "size": 1073741824}]}
//
// Restore writes "previous" back, removes created files and (empty)
// directories, and drops the entries it undid; the file goes when empty.
// A write the kernel refuses (EIO, EINVAL: a managed IRQ, a hypervisor's
// setting) makes the tuner unsupported, not failed, and is not recorded.
//
// # iotune and io-config.yaml
//
// Probe measures the disk under a directory within a time budget (phase
// shares: sequential write 30%, write+fdatasync 30%, random read 40%) in
// one test file it removes, and WriteIOProperties stores the result in
// <data dir>/io-config.yaml, which the broker reads (ReadIOProperties,
// unknown keys refused):
//
//	# Measured by `petrel iotune`; the broker reads it. ...
//	version: 1
//	measured_at: 2026-11-23T10:00:00Z
//	data_dir: /var/lib/petrel
//	device: nvme0n1
//	filesystem: xfs
//	direct_io: true                 # O_DIRECT opens on this file system
//	duration_seconds: 20.01
//	sequential_write:               # 1 MiB writes, final fdatasync included
//	  block_bytes: 1048576
//	  buffered_bytes_per_sec: 1.9e+09
//	  direct_bytes_per_sec: 2.1e+09
//	sync_write:                     # one write then fdatasync, in a written file
//	  - {size_bytes: 4096, ops: 12000, p50_us: 310, p99_us: 820, max_us: 2400}
//	  - {size_bytes: 16384, ...}
//	  - {size_bytes: 65536, ...}
//	random_read:                    # 4 KiB preads (O_DIRECT when direct)
//	  block_bytes: 4096
//	  direct: true
//	  levels: [{concurrency: 1, iops: 9000}, {concurrency: 4, ...}, {concurrency: 16, ...}, {concurrency: 64, ...}]
//	  max_iops: 410000
//	  saturation_concurrency: 16    # smallest concurrency within 90% of max
//
// # Node checks
//
// CheckNode grades the node OK/WARN/FAIL (SKIP for unsupported tuners):
// data dir (exists, writable, not world-writable), file system (xfs and
// ext4 OK, tmpfs FAIL, others WARN), O_DIRECT support, free space (FAIL
// under 1 GiB, WARN under 10%), the open-file hard limit (FAIL under 4096,
// WARN under 65536), memory (FAIL under 512 MiB, WARN under 1 GiB per
// CPU), then every tuner's check (needs-change is WARN).
package tune
