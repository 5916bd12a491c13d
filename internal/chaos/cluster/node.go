package cluster

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Node is one broker: its directories, its fixed addresses and, while it
// runs, its process. Safe for use by any goroutine (one operation at a
// time: a mutex orders Start, Kill, Terminate, Pause and Resume).
type Node struct {
	ID                            int
	Dir, DataDir, LogPath         string
	KafkaAddr, AdminAddr, RPCAddr string

	c      *Cluster
	mu     sync.Mutex
	proc   *proc // nil while stopped
	starts int
	paused bool
}

// proc is one started process.
type proc struct {
	cmd      *exec.Cmd
	start    int
	exited   chan struct{} // closed once Wait returned
	waitErr  error         // valid after exited
	expected atomic.Bool   // the harness signalled it
}

func (p *proc) done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// args is the command line of a start: the same at every start of the
// node (a restart rejoins with the flags it formed with).
func (n *Node) args() []string {
	cfg := &n.c.cfg
	args := []string{"serve", "--data-dir", n.DataDir, "--kafka-addr", n.KafkaAddr,
		"--admin-addr", n.AdminAddr, "--rpc-addr", n.RPCAddr, "--node-id", strconv.Itoa(n.ID),
		"--shards", strconv.Itoa(cfg.Shards), "--memory", strconv.FormatInt(cfg.Memory, 10),
		"--log-level", cfg.LogLevel}
	if cfg.JournalBytes > 0 {
		args = append(args, "--journal-bytes", strconv.FormatInt(cfg.JournalBytes, 10))
	}
	if len(n.c.nodes) > 1 {
		args = append(args, "--seeds", n.c.rpcSeeds())
	}
	return args
}

// Pid is the running process's PID, 0 when stopped.
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil || n.proc.done() {
		return 0
	}
	return n.proc.cmd.Process.Pid
}

// Exited is closed once the current process exits (already closed when
// the node is stopped).
func (n *Node) Exited() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return n.proc.exited
}

// Running reports whether the node has a live process.
func (n *Node) Running() bool { return n.Pid() != 0 }

// Start starts the process and waits until it is ready (ctx and
// Config.ReadyTimeout bound the wait). A process that dies before it is
// ready is an error carrying its log tail. A node of a multi-node cluster
// restarts alone, but the first start of a new cluster must start every
// node before waiting: use Cluster.Start.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, err := n.launchLocked()
	if err != nil {
		return err
	}
	return n.waitReady(ctx, p)
}

// launch starts the process without waiting for it to be ready.
func (n *Node) launch() (*proc, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.launchLocked()
}

func (n *Node) launchLocked() (*proc, error) {
	if n.proc != nil && !n.proc.done() {
		return nil, fmt.Errorf("node %d: %w", n.ID, ErrRunning)
	}
	if err := os.MkdirAll(n.DataDir, 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	n.starts++
	fmt.Fprintf(logFile, "=== chaos: start %d of node %d at %s ===\n", n.starts, n.ID, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(n.c.cfg.Binary, n.args()...)
	cmd.Dir = n.Dir // no petrel.yaml there
	cmd.Env = append(childEnv(), n.c.cfg.Env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if gids := n.c.cfg.GIDs; len(gids) > 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(os.Getuid()), Gid: gids[n.ID]}
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("node %d: %w", n.ID, err)
	}
	p := &proc{cmd: cmd, start: n.starts, exited: make(chan struct{})}
	n.proc, n.paused = p, false
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		e := Exit{Node: n.ID, Start: p.start, At: time.Now(), Expected: p.expected.Load()}
		if p.waitErr != nil {
			e.Err = p.waitErr.Error()
		}
		n.c.recordExit(e)
		close(p.exited)
	}()
	n.c.cfg.Logger.Info("node started", "node", n.ID, "pid", cmd.Process.Pid, "start", n.starts, "kafka", n.KafkaAddr)
	return p, nil
}

// WaitReady polls /v1/status/ready until it answers 200.
func (n *Node) WaitReady(ctx context.Context) error {
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p == nil {
		return fmt.Errorf("node %d: %w", n.ID, ErrNotRunning)
	}
	return n.waitReady(ctx, p)
}

func (n *Node) waitReady(ctx context.Context, p *proc) error {
	ctx, cancel := context.WithTimeout(ctx, n.c.cfg.ReadyTimeout)
	defer cancel()
	url := "http://" + n.AdminAddr + "/v1/status/ready"
	hc := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("node %d exited before ready (%v): %w\n%s", n.ID, p.waitErr, ErrExitedOnItsOwn, LogTail(n.LogPath))
		case <-ctx.Done():
			return fmt.Errorf("node %d: %w (%v)\n%s", n.ID, ErrNotReady, ctx.Err(), LogTail(n.LogPath))
		case <-tick.C:
		}
	}
}

// stopped takes the running process for a signal: nil and an error when
// there is none or it already died.
func (n *Node) stopped() (*proc, error) {
	p := n.proc
	if p == nil {
		return nil, fmt.Errorf("node %d: %w", n.ID, ErrNotRunning)
	}
	if p.done() {
		n.proc = nil
		return nil, fmt.Errorf("node %d (%v): %w", n.ID, p.waitErr, ErrExitedOnItsOwn)
	}
	return p, nil
}

// Kill sends SIGKILL and waits (≤ 30 s) for the exit.
func (n *Node) Kill() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, err := n.stopped()
	if err != nil {
		return err
	}
	p.expected.Store(true)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !p.done() {
		return fmt.Errorf("node %d: SIGKILL %d: %w", n.ID, p.cmd.Process.Pid, err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("node %d: pid %d still running 30 s after SIGKILL", n.ID, p.cmd.Process.Pid)
	}
	n.proc, n.paused = nil, false
	return nil
}

// Terminate sends SIGTERM (after SIGCONT if paused) and waits for a clean
// exit. It returns how long the exit took; past Config.TerminateTimeout the
// process is killed and ErrTerminateTimeout returned, a non-zero status is
// ErrUncleanExit.
func (n *Node) Terminate() (time.Duration, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, err := n.stopped()
	if err != nil {
		return 0, err
	}
	p.expected.Store(true)
	if n.paused {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
	}
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !p.done() {
		return 0, fmt.Errorf("node %d: SIGTERM: %w", n.ID, err)
	}
	limit := n.c.cfg.TerminateTimeout
	select {
	case <-p.exited:
	case <-time.After(limit):
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
		n.proc, n.paused = nil, false
		return time.Since(start), fmt.Errorf("node %d: %w (%v)\n%s", n.ID, ErrTerminateTimeout, limit, LogTail(n.LogPath))
	}
	took := time.Since(start)
	n.proc, n.paused = nil, false
	if p.waitErr != nil {
		return took, fmt.Errorf("node %d: %w: %v\n%s", n.ID, ErrUncleanExit, p.waitErr, LogTail(n.LogPath))
	}
	return took, nil
}

// Pause stops the process with SIGSTOP.
func (n *Node) Pause() error { return n.stopSignal(syscall.SIGSTOP, true) }

// Resume continues a paused process with SIGCONT.
func (n *Node) Resume() error { return n.stopSignal(syscall.SIGCONT, false) }

func (n *Node) stopSignal(sig syscall.Signal, paused bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, err := n.stopped()
	if err != nil {
		return err
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("node %d: %v: %w", n.ID, sig, err)
	}
	n.paused = paused
	return nil
}

// Paused reports whether the node was paused and not resumed since.
func (n *Node) Paused() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paused
}

// childEnv is the environment without PETREL_* variables: the broker
// refuses settings it does not know.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PETREL_") {
			env = append(env, kv)
		}
	}
	return env
}
