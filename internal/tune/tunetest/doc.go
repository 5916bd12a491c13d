// Package tunetest builds a fake host tree (/proc, /sys) in a directory,
// for tests of internal/tune and its commands: no test touches the real
// machine's settings.
//
// The fake host: 4 online CPUs with cpufreq (powersave); the data dir
// /data on partition nvme0n1p2 (259:2, xfs) of NVMe disk nvme0n1 (PCI
// 0000:00:04.0, MSI IRQs 40-42) with scheduler mq-deadline, nomerges 0,
// write back; eth0 on PCI 0000:00:03.0 (IRQs 50-51) and lo; IRQ affinity
// 0-3 everywhere; swappiness 60, aio-max-nr 65536, somaxconn 4096 (ok),
// tcp_max_syn_backlog 512, netdev_max_backlog 1000, core_pattern "core",
// THP madvise with max_ptes_none 511, clock source hpet (tsc available),
// 16 GiB of memory, vendor "Dell Inc.".
package tunetest
