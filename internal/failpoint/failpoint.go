package failpoint

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Point declares one failpoint: its name, where its call site is, and what
// the actions it honours do there.
type Point struct {
	Name    string
	Site    string
	Actions string
}

// Points is every failpoint of the broker (doc.go, "Names"). Read only.
var Points = []Point{
	{"storage/skip-fsync", "internal/vfs os file Sync, Datasync", "skip: return nil without syncing"},
	{"kafka/ack-before-commit", "internal/partition Replica.Produce", "on: acknowledge with the assigned offset right after proposing, before the commit"},
	{"storage/before-journal-sync", "internal/storage/journal SyncJob.Run", "panic, sleep: the round's bytes are written, the fdatasync not begun"},
	{"storage/after-journal-sync", "internal/storage/journal SyncJob.Run", "panic, sleep: the round's fdatasyncs returned, before the round finishes"},
	{"raft/before-hardstate", "internal/partition Replica.stageAppend", "panic, sleep: a Ready's entries are staged in memory, its hard state not yet"},
}

// Known reports whether name is declared in Points.
func Known(name string) bool {
	for _, p := range Points {
		if p.Name == name {
			return true
		}
	}
	return false
}

// Errors with identity.
var (
	// ErrUnknown: a name not declared in Points.
	ErrUnknown = errors.New("failpoint: unknown failpoint")
	// ErrSpec: a spec that does not parse.
	ErrSpec = errors.New("failpoint: bad spec")
	// ErrNotBuilt: failpoints were not compiled in (build without -tags failpoints).
	ErrNotBuilt = errors.New("failpoint: not compiled in (build with -tags failpoints)")
	// ErrInjected is what Action.Err wraps: an error the failpoint made up.
	ErrInjected = errors.New("failpoint: injected error")
)

// Kind is what an action does.
type Kind uint8

// The actions of doc.go, "Actions".
const (
	Off Kind = iota
	On
	Skip
	Error
	Panic
	Sleep
	ClockOffset
)

var kindNames = [...]string{Off: "off", On: "on", Skip: "skip", Error: "error", Panic: "panic", Sleep: "sleep", ClockOffset: "clock-offset"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Action is what one evaluation of a failpoint asks its call site to do.
// The zero Action is off.
type Action struct {
	Kind Kind
	Arg  int64 // ms for panic and sleep, seconds for clock-offset
	name string
}

// On reports whether the action is "on".
func (a Action) On() bool { return a.Kind == On }

// Skip reports whether the call site should skip its work.
func (a Action) Skip() bool { return a.Kind == Skip }

// Err is the injected error of an "error" action, nil otherwise.
func (a Action) Err() error {
	if a.Kind != Error {
		return nil
	}
	return fmt.Errorf("failpoint %s: %w", a.name, ErrInjected)
}

// ClockOffset is the wall-clock offset of a "clock-offset" action, 0 otherwise.
func (a Action) ClockOffset() time.Duration {
	if a.Kind != ClockOffset {
		return 0
	}
	return time.Duration(a.Arg) * time.Second
}

// Crash is the value a "panic" action panics with.
type Crash struct{ Name string }

func (c Crash) Error() string { return "failpoint " + c.Name + ": " + crashWord }

const crashWord = "injected crash"

// IsCrashLine reports whether a log line is the Go runtime's report of a
// Crash ("panic: failpoint <name>: injected crash"), i.e. an injected crash
// rather than a real one.
func IsCrashLine(line string) bool {
	i := strings.Index(line, "panic: failpoint ")
	return i >= 0 && strings.Contains(line[i:], ": "+crashWord)
}

// EnvPrefix starts every failpoint environment variable.
const EnvPrefix = "PETRELFP_"

// EnvName is the environment variable that arms name at start:
// PETRELFP_ and the name upper-cased, '/' and '-' turned into '_'.
func EnvName(name string) string {
	return EnvPrefix + strings.ToUpper(strings.NewReplacer("/", "_", "-", "_").Replace(name))
}

// Term is one step of a spec: Count calls (0: every call from here on)
// of an action.
type Term struct {
	Count  int64
	Action Action
}

// maxArg bounds a term's argument: an hour of sleep, a day of clock offset.
const (
	maxSleepMs       = 3_600_000
	maxOffsetSeconds = 86_400
	maxTerms         = 64
)

// Parse parses a spec (doc.go, "Actions") into its terms. "off" (or "")
// is no terms.
func Parse(spec string) ([]Term, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "off" {
		return nil, nil
	}
	parts := strings.Split(spec, "->")
	if len(parts) > maxTerms {
		return nil, fmt.Errorf("%w: %d terms (at most %d)", ErrSpec, len(parts), maxTerms)
	}
	terms := make([]Term, 0, len(parts))
	for i, p := range parts {
		t, err := parseTerm(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("%w: term %d %q: %v", ErrSpec, i+1, p, err)
		}
		if t.Count == 0 && i != len(parts)-1 {
			return nil, fmt.Errorf("%w: term %d %q has no count, so the terms after it are never reached", ErrSpec, i+1, p)
		}
		terms = append(terms, t)
	}
	return terms, nil
}

func parseTerm(s string) (Term, error) {
	var t Term
	if c, rest, ok := strings.Cut(s, "*"); ok {
		n, err := strconv.ParseInt(strings.TrimSpace(c), 10, 64)
		if err != nil || n <= 0 {
			return t, fmt.Errorf("count %q: want a positive integer", c)
		}
		t.Count, s = n, strings.TrimSpace(rest)
	}
	name, arg, hasArg := s, "", false
	if i := strings.IndexByte(s, '('); i >= 0 {
		if !strings.HasSuffix(s, ")") {
			return t, fmt.Errorf("unclosed argument")
		}
		name, arg, hasArg = s[:i], s[i+1:len(s)-1], true
	}
	kind := Off
	for k, n := range kindNames {
		if n == name {
			kind = Kind(k)
			break
		}
	}
	if kind == Off && name != "off" {
		return t, fmt.Errorf("unknown action %q (want off, on, skip, error, panic[(ms)], sleep(ms), clock-offset(s))", name)
	}
	t.Action.Kind = kind
	switch kind {
	case Sleep, ClockOffset:
		if !hasArg {
			return t, fmt.Errorf("%s needs an argument", name)
		}
	case Panic:
	default:
		if hasArg {
			return t, fmt.Errorf("%s takes no argument", name)
		}
		return t, nil
	}
	if !hasArg {
		return t, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(arg), 10, 64)
	limit := int64(maxSleepMs)
	if kind == ClockOffset {
		limit = maxOffsetSeconds
	}
	switch {
	case err != nil:
		return t, fmt.Errorf("argument %q: want an integer", arg)
	case kind != ClockOffset && n < 0, n > limit, n < -limit:
		return t, fmt.Errorf("argument %d out of range (|arg| ≤ %d, ms ≥ 0)", n, limit)
	}
	t.Action.Arg = n
	return t, nil
}

// FormatTerms writes terms back as a spec (the canonical form of Parse's
// input).
func FormatTerms(terms []Term) string {
	if len(terms) == 0 {
		return "off"
	}
	var b strings.Builder
	for i, t := range terms {
		if i > 0 {
			b.WriteString("->")
		}
		if t.Count > 0 {
			b.WriteString(strconv.FormatInt(t.Count, 10))
			b.WriteByte('*')
		}
		b.WriteString(t.Action.Kind.String())
		if t.Action.Kind == Sleep || t.Action.Kind == ClockOffset || (t.Action.Kind == Panic && t.Action.Arg != 0) {
			b.WriteString("(" + strconv.FormatInt(t.Action.Arg, 10) + ")")
		}
	}
	return b.String()
}

// Status is one failpoint as the admin API shows it.
type Status struct {
	Name string `json:"name"`
	Spec string `json:"spec"`           // what was set ("off" when disarmed)
	Left string `json:"left,omitempty"` // the terms still to run, canonical
	Hits uint64 `json:"hits"`           // evaluations while armed
	Site string `json:"site"`
}
