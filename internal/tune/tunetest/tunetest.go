package tunetest

import (
	"fmt"
	"os"
	"path/filepath"
)

const pciDisk = "/sys/devices/pci0000:00/0000:00:04.0"
const pciNet = "/sys/devices/pci0000:00/0000:00:03.0"

// Files are the fake host's files, by path inside the root.
func Files() map[string]string {
	disk := pciDisk + "/nvme/nvme0/nvme0n1"
	f := map[string]string{
		"/proc/self/mountinfo": "20 1 259:1 / / rw,relatime - ext4 /dev/nvme0n1p1 rw\n" +
			"21 20 0:20 / /proc rw,nosuid - proc proc rw\n" +
			"22 20 0:21 / /sys rw,nosuid - sysfs sysfs rw\n" +
			"23 20 0:22 / /tmp rw - tmpfs tmpfs rw\n" +
			"24 20 259:2 / /data rw,noatime - xfs /dev/nvme0n1p2 rw,attr2\n",
		"/proc/meminfo":                                                      "MemTotal:       16777216 kB\nMemFree:        8000000 kB\n",
		"/proc/sys/vm/swappiness":                                            "60",
		"/proc/sys/fs/aio-max-nr":                                            "65536",
		"/proc/sys/net/core/somaxconn":                                       "4096",
		"/proc/sys/net/ipv4/tcp_max_syn_backlog":                             "512",
		"/proc/sys/net/core/netdev_max_backlog":                              "1000",
		"/proc/sys/kernel/core_pattern":                                      "core",
		"/sys/kernel/mm/transparent_hugepage/enabled":                        "always [madvise] never",
		"/sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_none":       "511",
		"/sys/devices/system/clocksource/clocksource0/current_clocksource":   "hpet",
		"/sys/devices/system/clocksource/clocksource0/available_clocksource": "tsc hpet acpi_pm",
		"/sys/devices/system/cpu/online":                                     "0-3",
		"/sys/class/dmi/id/sys_vendor":                                       "Dell Inc.",
		disk + "/dev":                                                        "259:0",
		disk + "/queue/scheduler":                                            "[mq-deadline] kyber none",
		disk + "/queue/nomerges":                                             "0",
		disk + "/queue/write_cache":                                          "write back",
		disk + "/queue/rotational":                                           "0",
		disk + "/nvme0n1p1/partition":                                        "1",
		disk + "/nvme0n1p2/partition":                                        "2",
		pciNet + "/net/eth0/address":                                         "52:54:00:12:34:56",
		"/sys/devices/virtual/net/lo/address":                                "00:00:00:00:00:00",
	}
	for c := 0; c < 4; c++ {
		dir := fmt.Sprintf("/sys/devices/system/cpu/cpu%d/cpufreq", c)
		f[dir+"/scaling_governor"] = "powersave"
		f[dir+"/scaling_available_governors"] = "performance powersave"
	}
	for _, irq := range []int{40, 41, 42, 50, 51} {
		f[fmt.Sprintf("/proc/irq/%d/smp_affinity_list", irq)] = "0-3"
	}
	for _, irq := range []int{40, 41, 42} {
		f[fmt.Sprintf("%s/msi_irqs/%d", pciDisk, irq)] = "msix"
	}
	for _, irq := range []int{50, 51} {
		f[fmt.Sprintf("%s/msi_irqs/%d", pciNet, irq)] = "msix"
	}
	return f
}

// Links are the fake host's symbolic links: link path → relative target.
func Links() map[string]string {
	return map[string]string{
		"/sys/dev/block/259:0":                 "../../devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1",
		"/sys/dev/block/259:1":                 "../../devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/nvme0n1p1",
		"/sys/dev/block/259:2":                 "../../devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/nvme0n1p2",
		"/sys/block/nvme0n1":                   "../devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1",
		pciDisk + "/nvme/nvme0/nvme0n1/device": "../../nvme0",
		"/sys/class/net/eth0":                  "../../devices/pci0000:00/0000:00:03.0/net/eth0",
		pciNet + "/net/eth0/device":            "../../../0000:00:03.0",
		"/sys/class/net/lo":                    "../../devices/virtual/net/lo",
	}
}

// Build writes the fake host under dir, with the data dir /data (empty).
func Build(dir string) error {
	for p, content := range Files() {
		if err := WriteFile(dir, p, content); err != nil {
			return err
		}
	}
	for p, target := range Links() {
		host := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(target, host); err != nil {
			return err
		}
	}
	return os.MkdirAll(filepath.Join(dir, "data"), 0o755)
}

// WriteFile sets the content of p (inside the tree at dir) to content and
// a newline, as the kernel shows it.
func WriteFile(dir, p, content string) error {
	host := filepath.Join(dir, p)
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		return err
	}
	return os.WriteFile(host, []byte(content+"\n"), 0o644)
}
