package nemesis_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
	"github.com/petrel-streaming/petrel/internal/chaos/nemesis"
)

// TestDiskFaultsNeedLayers: without FUSE layers the disk faults are in the
// catalog, unusable, with the reason given; the smoke leaves power-fail out
// and says why.
func TestDiskFaultsNeedLayers(t *testing.T) {
	c, err := cluster.New(cluster.Config{Binary: "/nonexistent/petrel", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	why := errors.New("no /dev/fuse here")
	faults := nemesis.Catalog(c, rand.New(rand.NewPCG(1, 2)), nemesis.NewLog(&bytes.Buffer{}, time.Now()), nemesis.Disks{Why: why})
	seen := map[string]bool{}
	for _, f := range faults {
		switch f.Name {
		case "power-fail", "power-fail-all", "slow-disk", "eio-fsync":
			seen[f.Name] = true
			err := f.Available()
			if f.Usable() || !errors.Is(err, nemesis.ErrNeedsFUSE) || !strings.Contains(err.Error(), why.Error()) {
				t.Errorf("%s without layers: usable=%v, %v", f.Name, f.Usable(), err)
			}
		}
	}
	if len(seen) != 4 {
		t.Fatalf("disk faults in the catalog: %v", seen)
	}
	_, skipped := nemesis.Smoke(faults)
	if !strings.Contains(strings.Join(skipped, "\n"), "power-fail: needs the FUSE disk layer of internal/chaos/diskfault: no /dev/fuse here") {
		t.Fatalf("smoke skipped %q", skipped)
	}
}
