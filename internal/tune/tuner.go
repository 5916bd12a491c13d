package tune

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
)

// Status is what a tuner's check found.
type Status int

const (
	// StatusOK: the setting already has the recommended value.
	StatusOK Status = iota
	// StatusNeedsChange: Apply would make the writes in Result.Writes.
	StatusNeedsChange
	// StatusUnsupported: the tuner does not apply here (no such device or
	// setting, a read-only /sys, a VM the kernel will not let tune); the
	// reason says why. Never an error, never reported as done.
	StatusUnsupported
	// StatusFailed: the check or the write failed (unreadable value,
	// permission denied); the reason has the error.
	StatusFailed
)

var statusNames = [...]string{"ok", "needs-change", "unsupported", "failed"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// MarshalText renders the status by name (JSON and YAML output).
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Op is the kind of one write.
type Op string

const (
	OpWrite  Op = "write"  // replace the content of an existing file
	OpCreate Op = "create" // create a file of Size bytes (fallocate)
	OpMkdir  Op = "mkdir"  // create a directory (its parent exists)
)

// Write is one change Apply makes, with what restore puts back.
type Write struct {
	Op       Op     `json:"op"`
	Path     string `json:"path"`               // inside the root
	Value    string `json:"value,omitempty"`    // OpWrite: the new content
	Size     int64  `json:"size,omitempty"`     // OpCreate: bytes
	Previous string `json:"previous,omitempty"` // OpWrite: the value restore writes back
}

// String is the write as the shell command that would do it.
func (w Write) String() string {
	switch w.Op {
	case OpCreate:
		return fmt.Sprintf("fallocate -l %d %s", w.Size, w.Path)
	case OpMkdir:
		return "mkdir " + w.Path
	}
	s := fmt.Sprintf("echo %s > %s", shellQuote(w.Value), w.Path)
	if w.Previous != "" {
		s += "  # was " + w.Previous
	}
	return s
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t'\"\\$|&;<>()*?%!#`") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Result is one tuner's check.
type Result struct {
	Tuner       string  `json:"tuner"`
	Status      Status  `json:"status"`
	Current     string  `json:"current,omitempty"`
	Recommended string  `json:"recommended,omitempty"`
	Reason      string  `json:"reason,omitempty"`
	Writes      []Write `json:"writes,omitempty"` // StatusNeedsChange: what Apply writes
}

// Summary is the status with its reason ("unsupported: no cpufreq").
func (r Result) Summary() string {
	if r.Reason == "" {
		return r.Status.String()
	}
	return r.Status.String() + ": " + r.Reason
}

func okResult(cur, rec, reason string) Result {
	return Result{Status: StatusOK, Current: cur, Recommended: rec, Reason: reason}
}

func unsupported(format string, args ...any) Result {
	return Result{Status: StatusUnsupported, Reason: fmt.Sprintf(format, args...)}
}

func failed(err error) Result { return Result{Status: StatusFailed, Reason: err.Error()} }

func change(cur, rec string, writes ...Write) Result {
	return Result{Status: StatusNeedsChange, Current: cur, Recommended: rec, Writes: writes}
}

// Tuner is one machine setting Petrel cares about.
type Tuner struct {
	Name        string
	Description string
	check       func(e *Env) Result
}

// Check reads the current value and says what Apply would do. A write
// whose file system is mounted read-only makes the tuner unsupported.
func (t Tuner) Check(e *Env) Result {
	r := t.check(e)
	r.Tuner = t.Name
	if r.Status != StatusNeedsChange {
		return r
	}
	mounts, err := e.Mounts()
	if err != nil {
		return Result{Tuner: t.Name, Status: StatusFailed, Reason: err.Error()}
	}
	for _, w := range r.Writes {
		if m, ok := mountOf(mounts, w.Path); ok && m.ReadOnly() {
			r.Status, r.Writes = StatusUnsupported, nil
			r.Reason = fmt.Sprintf("%s is mounted read-only (a container?)", m.Point)
			break
		}
	}
	return r
}

// Tuners returns every tuner, in the order they are checked and applied.
func Tuners() []Tuner {
	return []Tuner{
		cpuGovernor, netIRQ, diskIRQ, diskScheduler, diskNomerges, diskWriteCache,
		aioMaxNr, swappiness, transparentHugepages, clocksource, coredump, ballastFile,
		netBacklog, somaxconn,
	}
}

// ErrUnknownTuner is returned for a tuner name that does not exist.
var ErrUnknownTuner = errors.New("unknown tuner")

// Select returns the named tuners in Tuners' order (all when names is
// empty).
func Select(names []string) ([]Tuner, error) {
	all := Tuners()
	if len(names) == 0 {
		return all, nil
	}
	var out []Tuner
	for _, n := range names {
		i := slices.IndexFunc(all, func(t Tuner) bool { return t.Name == n })
		if i < 0 {
			known := make([]string, len(all))
			for j, t := range all {
				known[j] = t.Name
			}
			return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownTuner, n, strings.Join(known, ", "))
		}
		if !slices.ContainsFunc(out, func(t Tuner) bool { return t.Name == n }) {
			out = append(out, all[i])
		}
	}
	slices.SortFunc(out, func(a, b Tuner) int {
		return slices.IndexFunc(all, func(t Tuner) bool { return t.Name == a.Name }) -
			slices.IndexFunc(all, func(t Tuner) bool { return t.Name == b.Name })
	})
	return out, nil
}

// CheckAll runs the checks of ts.
func CheckAll(e *Env, ts []Tuner) []Result {
	out := make([]Result, len(ts))
	for i, t := range ts {
		out[i] = t.Check(e)
	}
	return out
}

// Env is what the tuners look at: the file tree, the data dir, and the
// host calls that are not files. One command's; one goroutine.
type Env struct {
	Host
	// DataDir is the node's data directory, absolute, inside Root.
	DataDir string
	// BallastBytes is the ballast file's size (0: DefaultBallastBytes).
	BallastBytes int64
	// CoreDumpDir is where core files go when core_pattern is a bare
	// name (empty: DefaultCoreDumpDir).
	CoreDumpDir string

	mounts    []Mount
	mountsErr error
	loaded    bool
}

// Defaults of the Env fields.
const (
	DefaultBallastBytes = 1 << 30
	DefaultCoreDumpDir  = "/var/lib/petrel/coredump"
)

// Mounts returns the root's /proc/self/mountinfo, read once.
func (e *Env) Mounts() ([]Mount, error) {
	if !e.loaded {
		e.loaded = true
		s, err := e.Root.Read("/proc/self/mountinfo")
		if err != nil {
			e.mountsErr = fmt.Errorf("mount table: %w", err)
		} else {
			e.mounts, e.mountsErr = parseMountinfo(s)
		}
	}
	return e.mounts, e.mountsErr
}

// DataMount returns the mount that holds the data dir.
func (e *Env) DataMount() (Mount, error) {
	mounts, err := e.Mounts()
	if err != nil {
		return Mount{}, err
	}
	m, ok := mountOf(mounts, e.DataDir)
	if !ok {
		return Mount{}, fmt.Errorf("no mount holds %s", e.DataDir)
	}
	return m, nil
}

// DataDisks returns the /sys/block names of the disks under the data dir.
func (e *Env) DataDisks() ([]string, error) {
	m, err := e.DataMount()
	if err != nil {
		return nil, err
	}
	if m.Major == 0 {
		return nil, fmt.Errorf("%s is on %s (%s): %w", e.DataDir, m.FSType, m.Source, ErrNoBlockDevice)
	}
	return diskOf(e.Root, m.Major, m.Minor)
}

// CPUs returns the online CPUs.
func (e *Env) CPUs() ([]int, error) {
	s, err := e.Root.Read("/sys/devices/system/cpu/online")
	if err != nil {
		return nil, err
	}
	return parseCPUList(s)
}

func (e *Env) ballastBytes() int64 {
	if e.BallastBytes > 0 {
		return e.BallastBytes
	}
	return DefaultBallastBytes
}

func (e *Env) coreDumpDir() string {
	if e.CoreDumpDir != "" {
		return path.Clean(e.CoreDumpDir)
	}
	return DefaultCoreDumpDir
}
