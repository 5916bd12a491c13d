package tune

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Space is a file system's size and room.
type Space struct {
	TotalBytes, FreeBytes uint64 // FreeBytes: available to an unprivileged user
}

// Host is the machine the commands look at: its file tree and the few
// facts that are not files. Tests fill it with a fake tree and fixed
// answers; OSHost is the real one.
type Host struct {
	Root Root
	// Statfs measures the file system of a host path.
	Statfs func(hostPath string) (Space, error)
	// NoFile returns the open-file limit (soft, hard) of this process.
	NoFile func() (soft, hard uint64, err error)
	// DirectIO reports whether files in a host directory open with
	// O_DIRECT.
	DirectIO func(hostDir string) (bool, error)
}

// OSHost is this machine: root "/", statfs(2), getrlimit(2), an O_DIRECT probe.
func OSHost() Host {
	return Host{Root: NewRoot("/"), Statfs: statfs, NoFile: nofile, DirectIO: directIO}
}

func statfs(p string) (Space, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return Space{}, fmt.Errorf("statfs %s: %w", p, err)
	}
	return Space{TotalBytes: st.Blocks * uint64(st.Bsize), FreeBytes: st.Bavail * uint64(st.Bsize)}, nil
}

func nofile() (uint64, uint64, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, fmt.Errorf("getrlimit: %w", err)
	}
	return rl.Cur, rl.Max, nil
}

// create makes a new file of size bytes at p (inside the root), with its
// blocks allocated: fallocate, or zeros where the file system has none.
func (r Root) create(p string, size int64) (err error) {
	f, err := os.OpenFile(r.Path(p), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(r.Path(p))
		}
	}()
	err = unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		zeros := make([]byte, 1<<20)
		for left := size; left > 0 && err == nil; left -= int64(len(zeros)) {
			_, err = f.Write(zeros[:min(left, int64(len(zeros)))])
		}
	}
	if err != nil {
		return err
	}
	return f.Sync()
}
