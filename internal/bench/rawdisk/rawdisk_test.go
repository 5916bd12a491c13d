package rawdisk

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/vfs"
)

func TestMeasure(t *testing.T) {
	fs := vfs.NewOS()
	dir := t.TempDir()
	name := filepath.Join(dir, "raw")
	res, err := Measure(fs, name, 4<<10, 1<<20, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Samples == 0 || res.MBps <= 0 || res.P50 <= 0 || res.P99 < res.P50 || res.BlockBytes != 4<<10 {
		t.Fatalf("implausible result %+v", res)
	}
	if _, err := fs.Stat(name); err == nil {
		t.Fatalf("%s left behind", name)
	}
	if _, err := Measure(fs, name, 2<<20, 1<<20, time.Millisecond); err == nil {
		t.Fatal("a block larger than the file was accepted")
	}
	if _, err := Measure(fs, filepath.Join(dir, "missing", "raw"), 4<<10, 1<<20, time.Millisecond); err == nil {
		t.Fatal("a file in a missing directory was accepted")
	}
}

func TestPercentiles(t *testing.T) {
	var lats []time.Duration
	for i := 100; i >= 1; i-- {
		lats = append(lats, time.Duration(i))
	}
	if p50, p99 := Percentiles(lats); p50 != 51 || p99 != 99 {
		t.Fatalf("p50 %v p99 %v, want 51 99", p50, p99)
	}
	if p50, p99 := Percentiles(nil); p50 != 0 || p99 != 0 {
		t.Fatal("empty input")
	}
}
