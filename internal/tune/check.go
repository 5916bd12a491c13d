package tune

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Level grades one node check.
type Level int

const (
	LevelOK   Level = iota
	LevelSkip       // does not apply here (an unsupported tuner)
	LevelWarn       // works, but not as well as it could
	LevelFail       // will not work well, or at all: fix before running a broker
)

var levelNames = [...]string{"OK", "SKIP", "WARN", "FAIL"}

func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// MarshalText renders the level by name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads a level by name (a `petrel check --format json`
// consumer).
func (l *Level) UnmarshalText(b []byte) error {
	for i, n := range levelNames {
		if n == string(b) {
			*l = Level(i)
			return nil
		}
	}
	return fmt.Errorf("level %q: %w", b, ErrParse)
}

// Item is one line of `petrel check`.
type Item struct {
	Check  string `json:"check"`
	Level  Level  `json:"level"`
	Value  string `json:"value,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Thresholds of the node checks.
const (
	freeFailBytes   = 1 << 30 // below: FAIL
	freeWarnPercent = 10      // below: WARN
	noFileWarn      = 65536   // hard limit below: WARN (Go raises the soft limit to it)
	noFileFail      = 4096
	memFailBytes    = 512 << 20
	memWarnPerCPU   = 1 << 30
)

// CheckNode checks the node against best practice: the data dir, its
// file system, direct I/O, free space, the open-file limit, memory, then
// every tuner (needs-change is a WARN, unsupported a SKIP).
func CheckNode(e *Env) []Item {
	items := []Item{checkDataDir(e), checkFS(e), checkDirectIO(e), checkSpace(e), checkNoFile(e), checkMemory(e)}
	for _, r := range CheckAll(e, Tuners()) {
		it := Item{Check: "tuner " + r.Tuner, Value: r.Current, Detail: r.Reason}
		switch r.Status {
		case StatusOK:
			it.Level = LevelOK
		case StatusUnsupported:
			it.Level = LevelSkip
		case StatusNeedsChange:
			it.Level = LevelWarn
			it.Detail = fmt.Sprintf("want %s: petrel tune apply %s", r.Recommended, r.Tuner)
		default:
			it.Level = LevelFail
		}
		items = append(items, it)
	}
	return items
}

// existingDir is the data dir, or its nearest existing ancestor when it
// has not been created yet.
func existingDir(e *Env) string {
	d := e.DataDir
	for d != "/" && !e.Root.Exists(d) {
		d = path.Dir(d)
	}
	return d
}

func checkDataDir(e *Env) Item {
	it := Item{Check: "data dir", Value: e.DataDir}
	st, err := e.Root.Stat(e.DataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		it.Level, it.Detail = LevelWarn, "does not exist yet (petrel serve creates it); checked "+existingDir(e)+" instead"
		return it
	case err != nil:
		it.Level, it.Detail = LevelFail, err.Error()
		return it
	case !st.IsDir():
		it.Level, it.Detail = LevelFail, "not a directory"
		return it
	}
	probe := e.Root.Path(path.Join(e.DataDir, fmt.Sprintf(".petrel-check-%d", os.Getpid())))
	f, err := os.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		it.Level, it.Detail = LevelFail, "not writable: "+err.Error()
		return it
	}
	f.Close()
	os.Remove(probe)
	it.Value += " " + st.Mode().Perm().String()
	if st.Mode().Perm()&0o002 != 0 {
		it.Level, it.Detail = LevelWarn, "world-writable: chmod o-w"
	}
	return it
}

func checkFS(e *Env) Item {
	it := Item{Check: "filesystem"}
	m, err := e.DataMount()
	if err != nil {
		return Item{Check: it.Check, Level: LevelFail, Detail: err.Error()}
	}
	it.Value = m.FSType + " on " + m.Source + " (" + m.Point + ")"
	switch m.FSType {
	case "xfs", "ext4":
	case "tmpfs", "ramfs":
		it.Level, it.Detail = LevelFail, "in memory: the data is lost at reboot"
	default:
		it.Level, it.Detail = LevelWarn, "xfs or ext4 are tested and recommended"
	}
	if m.ReadOnly() {
		it.Level, it.Detail = LevelFail, "mounted read-only"
	}
	return it
}

func checkDirectIO(e *Env) Item {
	it := Item{Check: "direct I/O"}
	dir := existingDir(e)
	ok, err := e.DirectIO(e.Root.Path(dir))
	switch {
	case err != nil:
		it.Level, it.Detail = LevelWarn, fmt.Sprintf("could not probe in %s: %v", dir, err)
	case ok:
		it.Value = "supported"
	default:
		it.Value, it.Level, it.Detail = "not supported", LevelWarn, "the file system refuses O_DIRECT: the broker uses buffered I/O"
	}
	return it
}

// directIO reports whether the file system of directory dir (a host
// path) opens files with O_DIRECT, by creating and removing a probe file.
func directIO(dir string) (bool, error) {
	p := filepath.Join(dir, fmt.Sprintf(".petrel-odirect-%d", os.Getpid()))
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_DIRECT|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.EINVAL) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	unix.Close(fd)
	return true, os.Remove(p)
}

func checkSpace(e *Env) Item {
	it := Item{Check: "free space"}
	sp, err := e.Statfs(e.Root.Path(existingDir(e)))
	if err != nil {
		return Item{Check: it.Check, Level: LevelFail, Detail: err.Error()}
	}
	it.Value = fmt.Sprintf("%s free of %s", bytesIEC(sp.FreeBytes), bytesIEC(sp.TotalBytes))
	switch {
	case sp.FreeBytes < freeFailBytes:
		it.Level, it.Detail = LevelFail, "less than 1 GiB free"
	case sp.TotalBytes > 0 && sp.FreeBytes*100/sp.TotalBytes < freeWarnPercent:
		it.Level, it.Detail = LevelWarn, fmt.Sprintf("less than %d%% free", freeWarnPercent)
	}
	return it
}

func checkNoFile(e *Env) Item {
	it := Item{Check: "open files limit"}
	soft, hard, err := e.NoFile()
	if err != nil {
		return Item{Check: it.Check, Level: LevelFail, Detail: err.Error()}
	}
	it.Value = fmt.Sprintf("soft %d, hard %d", soft, hard)
	switch {
	case hard < noFileFail:
		it.Level, it.Detail = LevelFail, fmt.Sprintf("hard limit below %d: raise LimitNOFILE (systemd) or nofile (limits.conf)", noFileFail)
	case hard < noFileWarn:
		it.Level, it.Detail = LevelWarn, fmt.Sprintf("hard limit below %d: each segment, index and connection takes a file", noFileWarn)
	}
	return it
}

func checkMemory(e *Env) Item {
	it := Item{Check: "memory"}
	s, err := e.Root.Read("/proc/meminfo")
	if err != nil {
		return Item{Check: it.Check, Level: LevelFail, Detail: err.Error()}
	}
	var total uint64
	for line := range strings.Lines(s) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return Item{Check: it.Check, Level: LevelFail, Detail: fmt.Sprintf("MemTotal %q: %v", rest, ErrParse)}
			}
			total = kb << 10
		}
	}
	cpus, _ := e.CPUs()
	n := uint64(max(len(cpus), 1))
	it.Value = fmt.Sprintf("%s for %d CPUs", bytesIEC(total), n)
	switch {
	case total < memFailBytes:
		it.Level, it.Detail = LevelFail, "less than 512 MiB"
	case total/n < memWarnPerCPU:
		it.Level, it.Detail = LevelWarn, "less than 1 GiB per CPU: the shards' memory budgets will be small"
	}
	return it
}

// bytesIEC renders n in binary units with one decimal ("1.5 GiB").
func bytesIEC(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
