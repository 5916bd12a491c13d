package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
)

// BuildOptions say what Build compiles.
type BuildOptions struct {
	ModuleDir string   // the module root (where go.mod is)
	Package   string   // default "./cmd/petrel"
	Out       string   // the binary to write
	Race      bool     // build with -race
	Tags      []string // build tags, e.g. failpoints
}

// Build runs `go build -o Out Package` in ModuleDir and returns Out.
func Build(ctx context.Context, o BuildOptions) (string, error) {
	if o.Package == "" {
		o.Package = "./cmd/petrel"
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	args := []string{"build", "-o", o.Out}
	if o.Race {
		args = append(args, "-race")
	}
	if len(o.Tags) > 0 {
		args = append(args, "-tags", strings.Join(o.Tags, ","))
	}
	cmd := exec.CommandContext(ctx, goTool, append(args, o.Package)...)
	cmd.Dir = o.ModuleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", o.Package, err, out)
	}
	return o.Out, nil
}

// ModuleRoot walks up from dir to the directory holding go.mod.
func ModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cluster: no go.mod above the working directory")
		}
		dir = parent
	}
}

// RaceBuild reports whether the running binary was built with -race (a
// test then builds the broker with -race too, to catch its races).
func RaceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// TestBinary is the broker a test binary runs, built at most once (from
// the module above the working directory, with -race when the test runs
// under it) and shared by its tests. Keep one in a package variable and
// Remove it in TestMain after m.Run:
//
//	var broker cluster.TestBinary
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		broker.Remove()
//		os.Exit(code)
//	}
//
//	bin, err := broker.Path(ctx)
type TestBinary struct {
	Tags []string // build tags, e.g. failpoints

	once sync.Once
	dir  string
	path string
	err  error
}

// Path builds the binary on the first call (ctx bounds that build) and
// returns it, or the build's error, on every call.
func (b *TestBinary) Path(ctx context.Context) (string, error) {
	b.once.Do(func() {
		root, err := ModuleRoot(".")
		if err != nil {
			b.err = err
			return
		}
		if b.dir, err = os.MkdirTemp("", "petrel-test-binary-"); err != nil {
			b.err = err
			return
		}
		b.path, b.err = Build(ctx, BuildOptions{ModuleDir: root, Out: filepath.Join(b.dir, "petrel"), Race: RaceBuild(), Tags: b.Tags})
	})
	return b.path, b.err
}

// Remove deletes the built binary, if any.
func (b *TestBinary) Remove() {
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}
