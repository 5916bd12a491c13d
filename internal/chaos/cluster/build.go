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
