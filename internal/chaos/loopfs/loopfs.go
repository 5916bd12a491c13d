package loopfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
)

// Reasons Available gives; errors.Is-able.
var (
	ErrNotRoot     = errors.New("loopfs: loop mounts need root")
	ErrMissingTool = errors.New("loopfs: missing tool")
)

var tools = []string{"fallocate", "mkfs.ext4", "mount", "umount"}

// Available says why loop-mounted ext4 cannot be made here, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("%w: %s (apt-get install e2fsprogs util-linux)", ErrMissingTool, t)
		}
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return fmt.Errorf("%w: /dev/loop-control: %v", ErrMissingTool, err)
	}
	return nil
}

// FS is one mounted image.
type FS struct {
	Image, Dir string
	mounted    bool
}

func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("loopfs: %s %v: %w: %s", name, args, err, out)
	}
	return nil
}

// Mount creates image (size bytes), formats it ext4 and mounts it on dir
// (created if missing).
func Mount(ctx context.Context, image, dir string, size int64) (fs *FS, err error) {
	if err := Available(); err != nil {
		return nil, err
	}
	fs = &FS{Image: image, Dir: dir}
	defer func() {
		if err != nil {
			_ = fs.Unmount()
			fs = nil
		}
	}()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fs, err
	}
	if err := run(ctx, "fallocate", "-l", strconv.FormatInt(size, 10), image); err != nil {
		return fs, err
	}
	// No reserved blocks: the node sees every byte of the image.
	if err := run(ctx, "mkfs.ext4", "-F", "-q", "-m", "0", image); err != nil {
		return fs, err
	}
	if err := run(ctx, "mount", "-o", "loop", image, dir); err != nil {
		return fs, err
	}
	fs.mounted = true
	return fs, nil
}

// Unmount unmounts (if mounted) and deletes the image.
func (fs *FS) Unmount() error {
	var err error
	if fs.mounted {
		if err = run(context.Background(), "umount", fs.Dir); err == nil {
			fs.mounted = false
		}
	}
	if rerr := os.Remove(fs.Image); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}
