package diskfault

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Errors with identity.
var (
	// ErrNoFUSE: the layer cannot mount here (not root, no /dev/fuse).
	ErrNoFUSE = errors.New("diskfault: FUSE layer unavailable")
	// ErrNotMounted: PowerFail or Unmount on a layer that is not mounted.
	ErrNotMounted = errors.New("diskfault: layer not mounted")
	// ErrBusy: the mount is still in use (a process has files open on it);
	// PowerFail needs every user of the mount killed first.
	ErrBusy = errors.New("diskfault: mount busy (kill its users first)")
)

// Supported reports whether a Layer can be mounted here: nil, or why not
// (wrapping ErrNoFUSE). It needs root (DirectMount, no fusermount) and a
// /dev/fuse that opens.
func Supported() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root (direct mount, euid %d)", ErrNoFUSE, os.Geteuid())
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoFUSE, err)
	}
	f.Close()
	return nil
}

// Mode is how the layer treats writes and syncs. The zero Mode is pass.
type Mode struct {
	// Lazy keeps, until the next fsync/fdatasync of a file (or fsync of a
	// directory), what PowerFail needs to drop the writes and directory
	// changes made since.
	Lazy bool
	// Delay is added to every write and every fsync (slow disk).
	Delay time.Duration
	// EIO makes every fsync fail with EIO; once one has failed, every
	// write fails with EIO too (a dying disk). Clearing EIO heals both.
	EIO bool
}

func (m Mode) String() string {
	var parts []string
	if m.Lazy {
		parts = append(parts, "lazy")
	}
	if m.Delay > 0 {
		parts = append(parts, fmt.Sprintf("slow(%v)", m.Delay))
	}
	if m.EIO {
		parts = append(parts, "eio")
	}
	if len(parts) == 0 {
		return "pass"
	}
	return strings.Join(parts, "+")
}

// Config places a layer.
type Config struct {
	// Dir holds the layer's own state: Dir/backing (the real files) and
	// Dir/attic (what PowerFail may need to bring back). Created if absent.
	Dir string
	// Mountpoint is where the files appear (the node's data directory).
	Mountpoint string
	Mode       Mode
	// AllowOther lets processes of other users or groups use the mount
	// (FUSE refuses them by default, and the kernel compares the group
	// too): set it when the node runs with a group of its own
	// (cluster.Config.GIDs, netns mode).
	AllowOther bool
	Logger     *slog.Logger // nil: discard
}

// Loss says what a PowerFail dropped.
type Loss struct {
	Files        int   `json:"files"`          // files whose unsynced data was dropped
	PagesRestore int   `json:"pages_restored"` // pages rewritten to their synced bytes
	BytesCut     int64 `json:"bytes_cut"`      // bytes past a synced size cut off
	EntriesGone  int   `json:"entries_gone"`   // unsynced directory entries removed
	EntriesBack  int   `json:"entries_back"`   // synced entries brought back
}

func (l Loss) String() string {
	return fmt.Sprintf("files=%d pages_restored=%d bytes_cut=%d entries_gone=%d entries_back=%d",
		l.Files, l.PagesRestore, l.BytesCut, l.EntriesGone, l.EntriesBack)
}

// Dropped reports whether the power failure lost anything.
func (l Loss) Dropped() bool {
	return l.PagesRestore+l.EntriesGone+l.EntriesBack > 0 || l.BytesCut > 0
}

// Layer is one FUSE pass-through mount. Any goroutine: the FUSE server's
// goroutines and the harness call it; mu guards the mode and the lazy
// state, server is only touched by Mount, PowerFail and Unmount, which the
// harness calls one at a time.
type Layer struct {
	cfg     Config
	backing string
	log     *slog.Logger

	mu     sync.Mutex
	mode   Mode
	broken bool // an fsync failed under EIO: writes fail too
	tr     *tracker

	server *fuse.Server
}

// Mount creates the layer's directories and mounts it.
func Mount(cfg Config) (*Layer, error) {
	if err := Supported(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Layer{cfg: cfg, backing: filepath.Join(cfg.Dir, "backing"), log: cfg.Logger, mode: cfg.Mode}
	for _, d := range []string{l.backing, cfg.Mountpoint} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	tr, err := newTracker(filepath.Join(cfg.Dir, "attic"))
	if err != nil {
		return nil, err
	}
	l.tr = tr
	if err := l.mount(); err != nil {
		return nil, err
	}
	return l, nil
}

// Backing is the directory holding the real files.
func (l *Layer) Backing() string { return l.backing }

// Mountpoint is where the files appear.
func (l *Layer) Mountpoint() string { return l.cfg.Mountpoint }

func (l *Layer) mount() error {
	var st syscall.Stat_t
	if err := syscall.Stat(l.backing, &st); err != nil {
		return err
	}
	root := &fs.LoopbackRoot{Path: l.backing, Dev: uint64(st.Dev)}
	root.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, l: l}
	}
	root.RootNode = root.NewNode(root, nil, "", &st)
	srv, err := fs.Mount(l.cfg.Mountpoint, root.RootNode, &fs.Options{
		MountOptions: fuse.MountOptions{
			DirectMountStrict: true,
			FsName:            l.backing,
			Name:              "petrel-diskfault",
			DisableXAttrs:     true,
			AllowOther:        l.cfg.AllowOther,
		},
	})
	if err != nil {
		return fmt.Errorf("diskfault: mount %s: %w", l.cfg.Mountpoint, err)
	}
	l.server = srv
	l.log.Info("diskfault: mounted", "mountpoint", l.cfg.Mountpoint, "backing", l.backing, "mode", l.Mode())
	return nil
}

// Mode is the current mode.
func (l *Layer) Mode() Mode {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mode
}

// SetMode switches the mode at run time. Turning Lazy off makes every
// write so far durable (nothing is left to drop); turning EIO off heals
// the failed-fsync state.
func (l *Layer) SetMode(m Mode) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mode.Lazy && !m.Lazy {
		if err := l.tr.commit(); err != nil {
			l.log.Error("diskfault: commit on leaving lazy mode", "err", err)
		}
	}
	if !m.EIO {
		l.broken = false
	}
	l.mode = m
	l.log.Info("diskfault: mode", "mountpoint", l.cfg.Mountpoint, "mode", m)
}

// PowerFail simulates a power loss of the disk: the mount goes away (every
// process using it must be dead: ErrBusy otherwise), every write and
// directory change not made durable by an fsync is dropped from the
// backing files (see the package doc), and the layer is mounted again in
// the same mode, with the failed-fsync state cleared.
func (l *Layer) PowerFail() (Loss, error) {
	if err := l.unmount(); err != nil {
		return Loss{}, err
	}
	l.mu.Lock()
	loss, err := l.tr.revert(l.backing)
	l.broken = false
	l.mu.Unlock()
	if err != nil {
		return loss, fmt.Errorf("diskfault: power-fail revert of %s: %w", l.backing, err)
	}
	l.log.Info("diskfault: power failure", "mountpoint", l.cfg.Mountpoint, "loss", loss.String())
	return loss, l.mount()
}

// Unmount unmounts the layer (its users must be gone); what was written
// stays in the backing files as it is. Safe to call twice.
func (l *Layer) Unmount() error {
	err := l.unmount()
	if errors.Is(err, ErrNotMounted) {
		return nil
	}
	return err
}

func (l *Layer) unmount() error {
	if l.server == nil {
		return ErrNotMounted
	}
	if err := l.server.Unmount(); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBusy, l.cfg.Mountpoint, err)
	}
	l.server.Wait()
	l.server = nil
	return nil
}

// ForceUnmount detaches the mount even if busy (MNT_DETACH), for cleanup
// after a failure: no stale mount is left behind.
func (l *Layer) ForceUnmount() error {
	if l.server == nil {
		return nil
	}
	if err := l.server.Unmount(); err == nil {
		l.server.Wait()
		l.server = nil
		return nil
	}
	err := unix.Unmount(l.cfg.Mountpoint, unix.MNT_DETACH)
	l.server = nil
	return err
}

// Mounted lists the mount points in /proc/mounts at or below dir (tests
// check that nothing is left behind).
func Mounted(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return nil, err
	}
	dir = filepath.Clean(dir)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		mp := strings.ReplaceAll(f[1], `\040`, " ")
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out, nil
}

// gate applies the mode before a write (sync false) or an fsync (sync
// true): the delay, then EIO if due.
func (l *Layer) gate(sync bool) syscall.Errno {
	l.mu.Lock()
	m := l.mode
	l.mu.Unlock()
	if m.Delay > 0 {
		time.Sleep(m.Delay) // the injected latency itself
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case sync && l.mode.EIO:
		l.broken = true
		return syscall.EIO
	case !sync && l.mode.EIO && l.broken:
		return syscall.EIO
	}
	return 0
}

// lazy runs fn on the tracker under mu when the layer is lazy.
func (l *Layer) lazy(fn func(tr *tracker) error) syscall.Errno {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.mode.Lazy {
		return 0
	}
	if err := fn(l.tr); err != nil {
		l.log.Error("diskfault: lazy bookkeeping", "err", err)
		return fs.ToErrno(err)
	}
	return 0
}
