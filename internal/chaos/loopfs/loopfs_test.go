package loopfs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestFillGivesENOSPCAndFreeingHeals(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	tmp := t.TempDir()
	fs, err := Mount(context.Background(), filepath.Join(tmp, "img"), filepath.Join(tmp, "mnt"), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Unmount()
	filler := filepath.Join(fs.Dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	var werr error
	for i := 0; i < 64 && werr == nil; i++ { // 64 MiB > 8 MiB image
		_, werr = f.Write(buf)
	}
	_ = f.Close()
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("filling an 8 MiB image: %v, want ENOSPC", werr)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fs.Dir, "after"), buf, 0o644); err != nil {
		t.Fatalf("write after freeing space: %v", err)
	}
	if err := fs.Unmount(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fs.Image); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("image left behind: %v", err)
	}
}
