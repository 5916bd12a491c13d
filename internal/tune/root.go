package tune

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Root is the file tree the tuners read and write: "/" on a host, a
// temporary directory holding a fake /sys and /proc in tests. Every path
// the package handles is absolute inside the root ("/sys/block/vda"), and
// is shown that way; Path maps it to the host. Any goroutine.
type Root struct{ dir string }

// NewRoot returns the tree rooted at dir ("/" for the host).
func NewRoot(dir string) Root { return Root{dir: filepath.Clean(dir)} }

// Path is p's path on the host.
func (r Root) Path(p string) string {
	if r.dir == "/" || r.dir == "" {
		return filepath.Clean("/" + p)
	}
	return filepath.Join(r.dir, filepath.Clean("/"+p))
}

// Read returns p's content with surrounding white space trimmed.
func (r Root) Read(p string) (string, error) {
	b, err := os.ReadFile(r.Path(p))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// Exists reports whether p exists (following links).
func (r Root) Exists(p string) bool {
	_, err := os.Stat(r.Path(p))
	return err == nil
}

// Write replaces the content of the existing file p with v and a newline,
// as `echo v > p` does; it never creates p (sysfs and procfs files exist or
// the setting does not).
func (r Root) Write(p, v string) error {
	f, err := os.OpenFile(r.Path(p), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(v + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// List returns the names in directory p, sorted.
func (r Root) List(p string) ([]string, error) {
	ents, err := os.ReadDir(r.Path(p))
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

// ErrOutsideRoot is returned when a symbolic link leads out of the root.
var ErrOutsideRoot = errors.New("link leads outside the root")

// Resolve follows the symbolic links of p and returns the real path,
// inside the root.
func (r Root) Resolve(p string) (string, error) {
	host, err := filepath.EvalSymlinks(r.Path(p))
	if err != nil {
		return "", err
	}
	if r.dir == "/" || r.dir == "" {
		return host, nil
	}
	rel, err := filepath.Rel(r.dir, host)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s: %w", p, ErrOutsideRoot)
	}
	return filepath.Clean("/" + rel), nil
}

// Stat describes p.
func (r Root) Stat(p string) (fs.FileInfo, error) { return os.Stat(r.Path(p)) }
