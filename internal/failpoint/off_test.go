//go:build !failpoints

package failpoint_test

import (
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/petrel-streaming/petrel/internal/failpoint"
)

// TestOff: without the tag nothing can be armed and every call is off.
func TestOff(t *testing.T) {
	if failpoint.Enabled {
		t.Fatal("Enabled without the tag")
	}
	if err := failpoint.Set("storage/skip-fsync", "skip"); !errors.Is(err, failpoint.ErrNotBuilt) {
		t.Fatalf("Set: %v", err)
	}
	if _, err := failpoint.Get("storage/skip-fsync"); !errors.Is(err, failpoint.ErrNotBuilt) {
		t.Fatalf("Get: %v", err)
	}
	if err := failpoint.LoadEnv([]string{"PETRELFP_STORAGE_SKIP_FSYNC=skip", "PETRELFP_BOGUS=on"}); err != nil {
		t.Fatalf("LoadEnv: %v", err)
	}
	if a := failpoint.Inject("storage/skip-fsync"); a != (failpoint.Action{}) || len(failpoint.List()) != 0 {
		t.Fatalf("Inject = %+v", a)
	}
	calls := 0
	done := failpoint.CallEarly("kafka/ack-before-commit", func(int) { calls++ }, 7)
	if calls != 0 {
		t.Fatal("CallEarly called done without the tag")
	}
	done(1)
	if calls != 1 {
		t.Fatal("CallEarly did not return done")
	}
}

// TestNoTagInlines: the compiler's own account of the call sites in the
// production build. Every use inlines, and an inlined Inject leaves no
// trace in the code: the OS file's Sync is a bare call of os.File.Sync.
func TestNoTagInlines(t *testing.T) {
	const mod = "github.com/petrel-streaming/petrel/internal/"
	pkgs := []string{"vfs", "partition", "storage/journal"}
	args := []string{"build"}
	for _, p := range pkgs {
		args = append(args, "-gcflags="+mod+p+"=-m")
	}
	for _, p := range pkgs {
		args = append(args, "./"+filepath.Join("..", p))
	}
	cmd := exec.Command("go", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sites := regexp.MustCompile(`(?m)^(\S+\.go:\d+):\d+: inlining call to failpoint\.(Inject|CallEarly)`).FindAllStringSubmatch(string(out), -1)
	perFile := map[string]bool{}
	for _, s := range sites {
		perFile[strings.Split(s[1], ":")[0]] = true
	}
	for _, f := range []string{"os_linux.go", "replica.go", "write.go"} {
		found := false
		for p := range perFile {
			found = found || strings.HasSuffix(p, "/"+f)
		}
		if !found {
			t.Errorf("no inlined failpoint call in %s; compiler said:\n%s", f, grepFailpoint(string(out)))
		}
	}
	if len(sites) < 6 { // Sync, Datasync, 2 journal, hard state, ack
		t.Errorf("%d inlined failpoint calls, want ≥ 6:\n%s", len(sites), grepFailpoint(string(out)))
	}
	if strings.Contains(string(out), "cannot inline failpoint") {
		t.Errorf("a failpoint function does not inline:\n%s", grepFailpoint(string(out)))
	}

	asm, err := exec.Command("go", "build", "-gcflags="+mod+"vfs=-S", "./"+filepath.Join("..", "vfs")).CombinedOutput()
	if err != nil {
		t.Fatalf("go build -S: %v\n%s", err, asm)
	}
	body := funcAsm(string(asm), "vfs.(*osFile).Sync")
	if body == "" {
		t.Fatalf("no assembly for (*osFile).Sync")
	}
	if strings.Contains(body, "failpoint") || strings.Count(body, "CALL") != 2 { // os.(*File).Sync and morestack
		t.Errorf("(*osFile).Sync is more than a call of os.(*File).Sync:\n%s", body)
	}
}

func grepFailpoint(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "failpoint") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// funcAsm is the instruction lines of one function in `-S` output.
func funcAsm(asm, fn string) string {
	var b strings.Builder
	in := false
	for _, l := range strings.Split(asm, "\n") {
		if strings.Contains(l, " STEXT ") {
			in = strings.Contains(l, fn+" STEXT")
			continue
		}
		if in && strings.HasPrefix(l, "\t0x") && strings.Contains(l, "(/") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

var sink failpoint.Action

// BenchmarkInject: the production call (inlined to nothing).
func BenchmarkInject(b *testing.B) {
	for b.Loop() {
		sink = failpoint.Inject("storage/skip-fsync")
	}
}
