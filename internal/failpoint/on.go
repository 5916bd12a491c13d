//go:build failpoints

package failpoint

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Enabled reports whether failpoints are compiled in.
const Enabled = true

// point is one failpoint's state.
type point struct {
	decl Point
	mu   sync.Mutex
	spec string
	left []Term // the terms still to run; left[0].Count counts down
	hits uint64
}

// registry is the process-wide set of failpoints (doc.go, "State"): the
// map is built once at init and only read after, each point locks itself.
var registry = struct {
	armed  atomic.Int32 // points with a spec other than off
	points map[string]*point
}{points: map[string]*point{}}

func init() {
	for _, d := range Points {
		registry.points[d.Name] = &point{decl: d, spec: "off"}
	}
	if err := LoadEnv(os.Environ()); err != nil {
		fmt.Fprintln(os.Stderr, "petrel:", err)
		os.Exit(2)
	}
}

// Inject evaluates failpoint name: panic and sleep happen here; on, skip,
// error and clock-offset are returned for the call site to carry out.
// Any goroutine.
func Inject(name string) Action {
	if registry.armed.Load() == 0 {
		return Action{}
	}
	p := registry.points[name]
	if p == nil {
		panic("failpoint: Inject of undeclared failpoint " + name)
	}
	a := p.next()
	switch a.Kind {
	case Panic:
		if a.Arg > 0 {
			time.Sleep(time.Duration(a.Arg) * time.Millisecond)
		}
		panic(Crash{Name: name})
	case Sleep:
		time.Sleep(time.Duration(a.Arg) * time.Millisecond)
		return Action{}
	}
	a.name = name
	return a
}

// next takes the action of this call and advances the terms.
func (p *point) next() Action {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.left) == 0 {
		return Action{}
	}
	p.hits++
	t := &p.left[0]
	a := t.Action
	if t.Count > 0 {
		if t.Count--; t.Count == 0 {
			p.left = p.left[1:]
		}
	}
	return a
}

// CallEarly is the ack-before-commit helper: when name is on it calls
// done(v) now and returns a function that swallows the later completion;
// otherwise it returns done.
func CallEarly[T any](name string, done func(T), v T) func(T) {
	if !Inject(name).On() {
		return done
	}
	done(v)
	return func(T) {}
}

// Set arms failpoint name with spec ("off" disarms). Any goroutine.
func Set(name, spec string) error {
	p := registry.points[name]
	if p == nil {
		return fmt.Errorf("%w %q", ErrUnknown, name)
	}
	terms, err := Parse(spec)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	was := p.spec != "off"
	p.spec, p.left = FormatTerms(terms), terms
	switch now := p.spec != "off"; {
	case now && !was:
		registry.armed.Add(1)
	case !now && was:
		registry.armed.Add(-1)
	}
	return nil
}

// Get is failpoint name's status.
func Get(name string) (Status, error) {
	p := registry.points[name]
	if p == nil {
		return Status{}, fmt.Errorf("%w %q", ErrUnknown, name)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Status{Name: name, Spec: p.spec, Hits: p.hits, Site: p.decl.Site}
	if p.spec != "off" {
		st.Left = FormatTerms(p.left)
	}
	return st, nil
}

// List is every failpoint's status, by name.
func List() []Status {
	out := make([]Status, 0, len(registry.points))
	for name := range registry.points {
		st, _ := Get(name)
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LoadEnv arms the failpoints named by PETRELFP_<NAME>=spec variables of
// env ("NAME=value" strings, as os.Environ returns). An unknown variable
// with the prefix or a bad spec is an error naming it.
func LoadEnv(env []string) error {
	byEnv := map[string]string{}
	for _, p := range Points {
		byEnv[EnvName(p.Name)] = p.Name
	}
	for _, kv := range env {
		key, spec, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(key, EnvPrefix) {
			continue
		}
		name, ok := byEnv[key]
		if !ok {
			known := make([]string, 0, len(byEnv))
			for k := range byEnv {
				known = append(known, k)
			}
			sort.Strings(known)
			return fmt.Errorf("env %s: %w (known: %s)", key, ErrUnknown, strings.Join(known, ", "))
		}
		if err := Set(name, spec); err != nil {
			return fmt.Errorf("env %s: %w", key, err)
		}
	}
	return nil
}
