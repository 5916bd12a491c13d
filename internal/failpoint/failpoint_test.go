package failpoint_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/failpoint"
)

// TestParse: every action and the chain syntax, the canonical form, and
// the refusals.
func TestParse(t *testing.T) {
	for _, c := range []struct{ in, canon string }{
		{"", "off"},
		{"off", "off"},
		{"on", "on"},
		{" skip ", "skip"},
		{"error", "error"},
		{"panic", "panic"},
		{"panic(300)", "panic(300)"},
		{"panic(0)", "panic"},
		{"sleep(25)", "sleep(25)"},
		{"clock-offset(-300)", "clock-offset(-300)"},
		{"20*off->panic", "20*off->panic"},
		{"10 * off -> 1*panic(300)", "10*off->1*panic(300)"},
		{"3*sleep(50)", "3*sleep(50)"},
		{"1*on->2*skip->error", "1*on->2*skip->error"},
	} {
		terms, err := failpoint.Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got := failpoint.FormatTerms(terms); got != c.canon {
			t.Errorf("Parse(%q) = %s, want %s", c.in, got, c.canon)
		}
		again, err := failpoint.Parse(c.canon)
		if err != nil || failpoint.FormatTerms(again) != c.canon {
			t.Errorf("canonical %q does not round-trip: %v", c.canon, err)
		}
	}
	for _, bad := range []string{
		"bogus", "panic(", "sleep", "sleep()", "sleep(-1)", "sleep(x)", "on(1)", "skip(2)",
		"0*on", "-1*on", "x*on", "on->off", "panic->1*on", "sleep(3600001)", "clock-offset(86401)",
		"clock-offset", "1*", "->", strings.Repeat("1*on->", 64) + "on",
	} {
		if _, err := failpoint.Parse(bad); !errors.Is(err, failpoint.ErrSpec) {
			t.Errorf("Parse(%q) = %v, want ErrSpec", bad, err)
		}
	}
	terms, _ := failpoint.Parse("2*sleep(7)->clock-offset(-5)")
	if terms[0].Count != 2 || terms[0].Action.Kind != failpoint.Sleep || terms[0].Action.Arg != 7 ||
		terms[1].Count != 0 || terms[1].Action.ClockOffset() != -5*time.Second {
		t.Fatalf("terms %+v", terms)
	}
}

// TestAction: what each kind answers at a call site; the zero Action is off.
func TestAction(t *testing.T) {
	var zero failpoint.Action
	if zero.On() || zero.Skip() || zero.Err() != nil || zero.ClockOffset() != 0 || zero.Kind != failpoint.Off {
		t.Fatalf("zero action not off: %+v", zero)
	}
	if a := (failpoint.Action{Kind: failpoint.Error}); !errors.Is(a.Err(), failpoint.ErrInjected) || a.On() {
		t.Fatalf("error action: %v", a.Err())
	}
	if a := (failpoint.Action{Kind: failpoint.Skip}); !a.Skip() || a.On() || a.Err() != nil {
		t.Fatal("skip action")
	}
	if a := (failpoint.Action{Kind: failpoint.On}); !a.On() || a.Skip() {
		t.Fatal("on action")
	}
}

// TestCrashLine: the runtime's report of a Crash is recognised, a real
// panic is not.
func TestCrashLine(t *testing.T) {
	c := failpoint.Crash{Name: "raft/before-hardstate"}
	for line, want := range map[string]bool{
		"panic: " + c.Error():                           true,
		"panic: " + c.Error() + " [recovered]":          true,
		"time=… panic: " + c.Error():                    true,
		"panic: runtime error: index out of range [3]":  false,
		"panic: failpoint raft/before-hardstate: other": false,
		"fatal error: concurrent map writes":            false,
		"failpoint x: injected crash":                   false,
	} {
		if got := failpoint.IsCrashLine(line); got != want {
			t.Errorf("IsCrashLine(%q) = %v", line, got)
		}
	}
}

func TestEnvName(t *testing.T) {
	if got := failpoint.EnvName("kafka/ack-before-commit"); got != "PETRELFP_KAFKA_ACK_BEFORE_COMMIT" {
		t.Fatal(got)
	}
	seen := map[string]string{}
	for _, p := range failpoint.Points {
		e := failpoint.EnvName(p.Name)
		if o, dup := seen[e]; dup {
			t.Errorf("%s and %s share the variable %s", o, p.Name, e)
		}
		seen[e] = p.Name
	}
}

// callSite matches a failpoint use in the module's code.
var callSite = regexp.MustCompile(`failpoint\.(?:Inject|CallEarly)\("([^"]+)"`)

// TestCallSitesDeclared: every name used at a call site is declared in
// Points and every declared point has a call site, so the table (and the
// admin API, and the environment) cannot drift from the code.
func TestCallSitesDeclared(t *testing.T) {
	root := filepath.Join("..", "..")
	used := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
			strings.Contains(filepath.ToSlash(path), "internal/failpoint/") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range callSite.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = append(used[m[1]], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, paths := range used {
		if !failpoint.Known(name) {
			t.Errorf("%s uses undeclared failpoint %q", paths[0], name)
		}
	}
	for _, p := range failpoint.Points {
		if len(used[p.Name]) == 0 {
			t.Errorf("declared failpoint %q has no call site", p.Name)
		}
	}
	if failpoint.Known("no/such") {
		t.Fatal("Known accepts anything")
	}
}
