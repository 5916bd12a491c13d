package chaos_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
)

// chaosBinaries is what an end-to-end chaos test runs: the module root, a
// temporary directory, the broker built with opts (ModuleDir and Out are
// filled in) and the petrel-chaos harness.
type chaosBinaries struct {
	root, dir, broker, harness string
}

func buildChaos(ctx context.Context, t *testing.T, brokerName string, opts cluster.BuildOptions) chaosBinaries {
	t.Helper()
	root, err := cluster.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	b := chaosBinaries{root: root, dir: t.TempDir()}
	opts.ModuleDir, opts.Out = root, filepath.Join(b.dir, brokerName)
	if b.broker, err = cluster.Build(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if b.harness, err = cluster.Build(ctx, cluster.BuildOptions{ModuleDir: root, Package: "./cmd/petrel-chaos", Out: filepath.Join(b.dir, "petrel-chaos")}); err != nil {
		t.Fatal(err)
	}
	return b
}
