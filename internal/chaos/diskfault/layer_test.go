package diskfault_test

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/petrel-streaming/petrel/internal/chaos/diskfault"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// mountLayer mounts a layer in a temporary directory; cleanup unmounts it
// (forcibly if need be) and fails the test if a mount is left behind.
func mountLayer(t *testing.T, mode diskfault.Mode) (*diskfault.Layer, string) {
	t.Helper()
	if err := diskfault.Supported(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	l, err := diskfault.Mount(diskfault.Config{Dir: filepath.Join(dir, "disk"), Mountpoint: mnt, Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.ForceUnmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
		if left, err := diskfault.Mounted(dir); err != nil || len(left) > 0 {
			t.Errorf("mounts left behind: %v %v", left, err)
		}
	})
	return l, mnt
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeFile creates name with data; sync says whether to fdatasync it.
func writeFile(t *testing.T, fsys vfs.FS, name, data string, sync bool) {
	t.Helper()
	f, err := fsys.Create(name, vfs.OpenOptions{})
	must(t, err)
	_, err = f.WriteAt([]byte(data), 0)
	must(t, err)
	if sync {
		must(t, f.Datasync())
	}
	must(t, f.Close())
}

func content(t *testing.T, name string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return "", false
	}
	must(t, err)
	return string(b), true
}

// TestPowerFail: the crash semantics, case by case (each must lose what
// was not synced and keep what was).
func TestPowerFail(t *testing.T) {
	osfs := vfs.NewOS()
	type want struct {
		name, data string
		exists     bool
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, m string) // durable state
		act   func(t *testing.T, m string) // then this, then the power fails
		want  []want
	}{
		{name: "unsynced write lost",
			setup: func(t *testing.T, m string) { writeFile(t, osfs, m+"/f", "", true); must(t, osfs.SyncDir(m)) },
			act: func(t *testing.T, m string) {
				f, err := osfs.Open(m+"/f", vfs.OpenOptions{})
				must(t, err)
				_, err = f.WriteAt([]byte("abc"), 0)
				must(t, err)
				must(t, f.Close())
			},
			want: []want{{"f", "", true}}},
		{name: "fdatasync keeps",
			setup: func(t *testing.T, m string) {},
			act:   func(t *testing.T, m string) { writeFile(t, osfs, m+"/f", "abc", true); must(t, osfs.SyncDir(m)) },
			want:  []want{{"f", "abc", true}}},
		{name: "create without dir fsync gone",
			setup: func(t *testing.T, m string) {},
			act:   func(t *testing.T, m string) { writeFile(t, osfs, m+"/f", "abc", true) },
			want:  []want{{"f", "", false}}},
		{name: "overwrite and append after sync reverted",
			setup: func(t *testing.T, m string) {
				writeFile(t, osfs, m+"/f", strings.Repeat("h", 5000)+"hello", true)
				must(t, osfs.SyncDir(m))
			},
			act: func(t *testing.T, m string) {
				f, err := osfs.Open(m+"/f", vfs.OpenOptions{})
				must(t, err)
				_, err = f.WriteAt([]byte("XY"), 5001)
				must(t, err)
				_, err = f.WriteAt([]byte("ZZ"), 5005)
				must(t, err)
				must(t, f.Close())
			},
			want: []want{{"f", strings.Repeat("h", 5000) + "hello", true}}},
		{name: "truncate reverted",
			setup: func(t *testing.T, m string) { writeFile(t, osfs, m+"/f", "abcdef", true); must(t, osfs.SyncDir(m)) },
			act: func(t *testing.T, m string) {
				f, err := osfs.Open(m+"/f", vfs.OpenOptions{})
				must(t, err)
				must(t, f.Truncate(2))
				_, err = f.WriteAt([]byte("ZZ"), 4)
				must(t, err)
				must(t, f.Close())
			},
			want: []want{{"f", "abcdef", true}}},
		{name: "unsynced rename reverted",
			setup: func(t *testing.T, m string) { writeFile(t, osfs, m+"/kv", "old", true); must(t, osfs.SyncDir(m)) },
			act: func(t *testing.T, m string) {
				writeFile(t, osfs, m+"/kv.tmp", "new", true)
				must(t, osfs.Rename(m+"/kv.tmp", m+"/kv"))
			},
			want: []want{{"kv", "old", true}, {"kv.tmp", "", false}}},
		{name: "synced rename kept",
			setup: func(t *testing.T, m string) { writeFile(t, osfs, m+"/kv", "old", true); must(t, osfs.SyncDir(m)) },
			act: func(t *testing.T, m string) {
				writeFile(t, osfs, m+"/kv.tmp", "new", true)
				must(t, osfs.Rename(m+"/kv.tmp", m+"/kv"))
				must(t, osfs.SyncDir(m))
			},
			want: []want{{"kv", "new", true}, {"kv.tmp", "", false}}},
		{name: "unsynced remove comes back",
			setup: func(t *testing.T, m string) {
				must(t, osfs.MkdirAll(m+"/d"))
				writeFile(t, osfs, m+"/d/f", "keep", true)
				must(t, osfs.SyncDir(m+"/d"))
				must(t, osfs.SyncDir(m))
			},
			act:  func(t *testing.T, m string) { must(t, osfs.RemoveAll(m+"/d")) },
			want: []want{{"d/f", "keep", true}}},
		{name: "unsynced mkdir gone",
			setup: func(t *testing.T, m string) {},
			act: func(t *testing.T, m string) {
				must(t, osfs.MkdirAll(m+"/d/e"))
				writeFile(t, osfs, m+"/d/e/f", "x", true)
				must(t, osfs.SyncDir(m+"/d/e"))
				must(t, osfs.SyncDir(m+"/d"))
			},
			want: []want{{"d", "", false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, m := mountLayer(t, diskfault.Mode{Lazy: true})
			tc.setup(t, m)
			tc.act(t, m)
			loss, err := l.PowerFail()
			must(t, err)
			t.Logf("loss: %v", loss)
			for _, w := range tc.want {
				got, ok := content(t, filepath.Join(m, w.name))
				if ok != w.exists || got != w.data {
					t.Errorf("%s: exists=%v %q, want exists=%v %q", w.name, ok, got, w.exists, w.data)
				}
			}
			if tc.name != "fdatasync keeps" && tc.name != "synced rename kept" && !loss.Dropped() {
				t.Errorf("loss %v: nothing dropped", loss)
			}
		})
	}
}

// TestPassKeepsEverything: without Lazy a power failure drops nothing.
func TestPassKeepsEverything(t *testing.T) {
	l, m := mountLayer(t, diskfault.Mode{})
	writeFile(t, vfs.NewOS(), m+"/f", "abc", false)
	loss, err := l.PowerFail()
	must(t, err)
	if got, _ := content(t, m+"/f"); got != "abc" || loss.Dropped() {
		t.Fatalf("%q, loss %v", got, loss)
	}
}

// TestPowerFailBusy: a power failure needs the mount's users gone.
func TestPowerFailBusy(t *testing.T) {
	l, m := mountLayer(t, diskfault.Mode{Lazy: true})
	f, err := os.Create(m + "/f")
	must(t, err)
	defer f.Close()
	if _, err := l.PowerFail(); !errors.Is(err, diskfault.ErrBusy) {
		t.Fatalf("PowerFail with an open file: %v", err)
	}
}

// TestEIO: fsync fails with EIO, then writes do; healing the mode lets
// both work again.
func TestEIO(t *testing.T) {
	l, m := mountLayer(t, diskfault.Mode{Lazy: true})
	f, err := os.Create(m + "/f")
	must(t, err)
	defer f.Close()
	_, err = f.WriteAt([]byte("a"), 0)
	must(t, err)
	l.SetMode(diskfault.Mode{Lazy: true, EIO: true})
	if _, err := f.WriteAt([]byte("b"), 1); err != nil {
		t.Fatalf("write before any failed fsync: %v", err)
	}
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("fsync under eio: %v", err)
	}
	if _, err := f.WriteAt([]byte("c"), 2); !errors.Is(err, syscall.EIO) {
		t.Fatalf("write after a failed fsync: %v", err)
	}
	if err := syscall.Fsync(mustOpenDir(t, m)); !errors.Is(err, syscall.EIO) {
		t.Fatalf("dir fsync under eio: %v", err)
	}
	l.SetMode(diskfault.Mode{Lazy: true})
	_, err = f.WriteAt([]byte("d"), 2)
	must(t, err)
	must(t, f.Sync())
}

func mustOpenDir(t *testing.T, dir string) int {
	t.Helper()
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	must(t, err)
	t.Cleanup(func() { syscall.Close(fd) })
	return fd
}

// TestSlow: every fsync takes at least the delay.
func TestSlow(t *testing.T) {
	const delay = 30 * time.Millisecond
	_, m := mountLayer(t, diskfault.Mode{Delay: delay})
	f, err := os.Create(m + "/f")
	must(t, err)
	defer f.Close()
	for i := range 3 {
		start := time.Now()
		must(t, f.Sync())
		if took := time.Since(start); took < delay {
			t.Fatalf("fsync %d took %v, under the %v delay", i, took, delay)
		}
	}
}

// TestCrashCloneModel: random operations through the mount and on a
// vfs.MemFS side by side; at random points the layer's PowerFail must
// leave exactly the tree MemFS.CrashClone does (pebble's crash semantics).
func TestCrashCloneModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	l, mnt := mountLayer(t, diskfault.Mode{Lazy: true})
	real, mem := vfs.NewOS(), vfs.NewMem()
	ops, crashes := 1500, 15
	if testing.Short() {
		ops, crashes = 500, 6
	}
	dirs := []string{"", "a", "a/b", "c"}
	names := []string{"x", "y", "z.tmp", "w"}
	var trace []string
	for i := range ops {
		d := dirs[rng.IntN(len(dirs))]
		name := path.Join(d, names[rng.IntN(len(names))])
		other := path.Join(dirs[rng.IntN(len(dirs))], names[rng.IntN(len(names))])
		op := rng.IntN(10)
		off := int64(rng.IntN(3 * vfs.Alignment))
		data := []byte(strings.Repeat(string(rune('A'+rng.IntN(26))), 1+rng.IntN(2*vfs.Alignment)))
		size := int64(rng.IntN(3 * vfs.Alignment))
		trace = append(trace, fmt.Sprintf("%d op%d %s %s off=%d len=%d size=%d", i, op, name, other, off, len(data), size))
		for _, side := range []struct {
			fsys vfs.FS
			root string
		}{{real, mnt}, {mem, "/"}} {
			p := func(n string) string { return path.Join(side.root, n) }
			var err error
			switch op {
			case 0: // create
				var f vfs.File
				if f, err = side.fsys.Create(p(name), vfs.OpenOptions{}); err == nil {
					err = f.Close()
				}
			case 1, 2: // write
				err = withFile(side.fsys, p(name), func(f vfs.File) error { _, err := f.WriteAt(data, off); return err })
			case 3: // datasync
				err = withFile(side.fsys, p(name), vfs.File.Datasync)
			case 4:
				err = withFile(side.fsys, p(name), func(f vfs.File) error { return f.Truncate(size) })
			case 5:
				err = side.fsys.Rename(p(name), p(other))
			case 6:
				err = side.fsys.Remove(p(name))
			case 7, 8:
				err = side.fsys.SyncDir(p(d))
			case 9:
				err = side.fsys.MkdirAll(p(d))
			}
			_ = err // both sides fail alike (missing dirs/files); the trees are compared
		}
		if rng.IntN(ops/crashes) == 0 || i == ops-1 {
			loss, err := l.PowerFail()
			if err != nil {
				t.Fatalf("seed %d op %d: %v", seed, i, err)
			}
			mem = mem.CrashClone()
			got, want := tree(t, real, mnt), tree(t, mem, "/")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("seed %d: after op %d (loss %v) the mount differs from the crash clone (-clone +mount):\n%s\nlast ops:\n%s",
					seed, i, loss, diff, strings.Join(trace[max(0, len(trace)-30):], "\n"))
			}
		}
	}
}

func withFile(fsys vfs.FS, name string, fn func(vfs.File) error) error {
	f, err := fsys.Open(name, vfs.OpenOptions{})
	if err != nil {
		return err
	}
	return errors.Join(fn(f), f.Close())
}

// tree maps every path under root to its content ("/" for directories).
func tree(t *testing.T, fsys vfs.FS, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(rel string)
	walk = func(rel string) {
		names, err := fsys.List(path.Join(root, rel))
		must(t, err)
		slices.Sort(names)
		for _, n := range names {
			r := path.Join(rel, n)
			st, err := fsys.Stat(path.Join(root, r))
			must(t, err)
			if st.IsDir {
				out[r] = "/"
				walk(r)
				continue
			}
			f, err := fsys.OpenReadOnly(path.Join(root, r))
			must(t, err)
			b := make([]byte, st.Size)
			_, err = f.ReadAt(b, 0)
			must(t, errors.Join(ignoreEOF(err), f.Close()))
			out[r] = string(b)
		}
	}
	walk("")
	return out
}

func ignoreEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}
