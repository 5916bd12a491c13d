package journal

import (
	"fmt"
	"testing"

	"github.com/petrel-streaming/petrel/internal/vfs"
)

// BenchmarkRound measures one sync round: Add n records of 1 KiB, write,
// fdatasync, finish, release. On "os" the fdatasync is real (the temp dir's
// device); on "mem" it measures the CPU cost alone. Steady state allocates
// nothing.
func BenchmarkRound(b *testing.B) {
	for _, fsName := range []string{"mem", "os"} {
		for _, direct := range []bool{false, true} {
			for _, n := range []int{1, 16, 256} {
				b.Run(fmt.Sprintf("%s/direct=%v/records=%d", fsName, direct, n), func(b *testing.B) {
					benchRound(b, fsName, direct, n)
				})
			}
		}
	}
}

func benchRound(b *testing.B, fsName string, direct bool, n int) {
	fsys, dir := vfs.FS(vfs.NewMem()), testDir
	if fsName == "os" {
		fsys, dir = vfs.NewOS(), b.TempDir()+"/j"
	}
	opts := smallOpts()
	opts.FileSize, opts.Direct = 8<<20, direct
	j := mustOpen(b, fsys, dir, opts)
	defer j.Close()
	replayAll(b, j, 0)
	if direct && !j.Direct() {
		b.Skip("direct I/O unsupported here")
	}
	r := Record{Kind: 1, Payload: make([]byte, 1024)}
	b.SetBytes(int64(n * len(r.Payload)))
	b.ReportAllocs()
	for b.Loop() {
		for range n {
			if _, err := j.Add(r); err != nil {
				b.Fatal(err)
			}
		}
		round(b, j)
		j.Release(j.DurableSeq() + 1)
	}
}

// TestAddAllocs checks the steady state: after warm-up, Adds and rounds
// allocate nothing.
func TestAddAllocs(t *testing.T) {
	j := mustOpen(t, vfs.NewMem(), testDir, Options{FileSize: 1 << 20, MaxFiles: 4, Logger: smallOpts().Logger})
	defer j.Close()
	replayAll(t, j, 0)
	r := Record{Kind: 1, Payload: make([]byte, 1024)}
	step := func() {
		for range 32 {
			if _, err := j.Add(r); err != nil {
				t.Fatal(err)
			}
		}
		round(t, j)
		j.Release(j.DurableSeq() + 1)
	}
	for range 200 { // several laps: every buffer size seen
		step()
	}
	if a := testing.AllocsPerRun(100, step); a != 0 {
		t.Fatalf("%.1f allocations per round of 32 adds", a)
	}
}
