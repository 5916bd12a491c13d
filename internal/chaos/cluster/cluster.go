package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/petrel-streaming/petrel/internal/failpoint"
)

// Errors with identity.
var (
	// ErrNotRunning: the node has no process (never started, or stopped).
	ErrNotRunning = errors.New("cluster: node not running")
	// ErrRunning: Start on a node whose process still runs.
	ErrRunning = errors.New("cluster: node already running")
	// ErrExitedOnItsOwn: the process was gone before the harness signalled it.
	ErrExitedOnItsOwn = errors.New("cluster: node exited on its own")
	// ErrTerminateTimeout: SIGTERM did not stop the process in time (G13).
	ErrTerminateTimeout = errors.New("cluster: no exit within the terminate timeout after SIGTERM")
	// ErrUncleanExit: the process exited with a non-zero status after SIGTERM.
	ErrUncleanExit = errors.New("cluster: unclean exit after SIGTERM")
	// ErrNotReady: /v1/status/ready did not answer 200 in time.
	ErrNotReady = errors.New("cluster: node not ready in time")
)

// BadLogPatterns are the log substrings that fail the broker-crash check.
var BadLogPatterns = []string{"panic:", "fatal error:", "DATA RACE"}

// Config describes the processes to run.
type Config struct {
	Binary string // the petrel binary
	Dir    string // run directory: node-<i>/data, node-<i>/petrel.log
	// Nodes: 1 (the default) runs a single-node cluster without --seeds;
	// more form one cluster, every node started with --seeds listing every
	// node's RPC address.
	Nodes int
	// DataDirs, if set, overrides node i's data directory (the crash test
	// keeps its own).
	DataDirs []string
	Shards   int   // --shards (default 2)
	Memory   int64 // --memory bytes (default 512 MiB)
	// Hosts, if set, gives node i its own host Hosts[i]: its Kafka, admin
	// and RPC listeners bind it (and are advertised as such), so that
	// network faults can tell nodes apart by address (netfault puts node
	// i on 127.0.0.(11+i)). Default: every node on 127.0.0.1.
	Hosts []string
	// GIDs, if set, runs node i with primary group GIDs[i] (user and
	// capabilities unchanged): netfault.Sources tells node i's sockets
	// apart by it and gives its connections node i's host as source.
	GIDs []uint32
	// JournalBytes is --journal-bytes (0: not passed, the broker's default).
	JournalBytes int64
	// LogLevel is --log-level (default info; debug logs Raft's elections).
	LogLevel string
	// Env is added to every start's environment, e.g. PETRELFP_<NAME>=spec
	// to arm failpoints of a broker built with -tags failpoints.
	Env []string
	// ReadyTimeout bounds a start (default 60 s); TerminateTimeout a SIGTERM
	// (default 30 s, the G13 limit).
	ReadyTimeout     time.Duration
	TerminateTimeout time.Duration
	Logger           *slog.Logger // nil: discard
}

func (c *Config) setDefaults() error {
	if c.Nodes == 0 {
		c.Nodes = 1
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.Binary == "" || c.Dir == "" {
		return errors.New("cluster: Config.Binary and Config.Dir are required")
	}
	if c.Shards == 0 {
		c.Shards = 2
	}
	if c.Memory == 0 {
		c.Memory = 512 << 20
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 60 * time.Second
	}
	if c.TerminateTimeout == 0 {
		c.TerminateTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if len(c.Hosts) != 0 && len(c.Hosts) != c.Nodes || len(c.GIDs) != 0 && len(c.GIDs) != c.Nodes {
		return fmt.Errorf("cluster: %d nodes but %d Hosts and %d GIDs (give one per node, or none)", c.Nodes, len(c.Hosts), len(c.GIDs))
	}
	return nil
}

// Exit is one process exit.
type Exit struct {
	Node     int       `json:"node"`
	Start    int       `json:"start"` // which start of the node (1, 2, …)
	At       time.Time `json:"at"`
	Err      string    `json:"err,omitempty"` // the wait status, "" for exit 0
	Expected bool      `json:"expected"`      // caused by Kill, Terminate or Close
}

// Cluster is the set of nodes of one run. Safe for use by any goroutine.
type Cluster struct {
	cfg   Config
	nodes []*Node

	mu    sync.Mutex
	exits []Exit
}

// New lays out the nodes (directories, free ports); it starts nothing.
func New(cfg Config) (*Cluster, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg}
	for i := range cfg.Nodes {
		host := "127.0.0.1"
		if len(cfg.Hosts) > 0 {
			host = cfg.Hosts[i]
		}
		addrs, err := freeAddrs(host, 3)
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(cfg.Dir, fmt.Sprintf("node-%d", i))
		n := &Node{ID: i, c: c, Dir: dir, DataDir: filepath.Join(dir, "data"), LogPath: filepath.Join(dir, "petrel.log")}
		if i < len(cfg.DataDirs) {
			n.DataDir = cfg.DataDirs[i]
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		n.KafkaAddr, n.AdminAddr, n.RPCAddr = addrs[0], addrs[1], addrs[2]
		c.nodes = append(c.nodes, n)
	}
	return c, nil
}

// Nodes is every node, by ID.
func (c *Cluster) Nodes() []*Node { return c.nodes }

// Node is node i.
func (c *Cluster) Node(i int) *Node { return c.nodes[i] }

// rpcSeeds is the --seeds of a multi-node cluster: every node's RPC
// address.
func (c *Cluster) rpcSeeds() string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.RPCAddr
	}
	return strings.Join(out, ",")
}

// Seeds is every node's Kafka address.
func (c *Cluster) Seeds() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.KafkaAddr
	}
	return out
}

// Exits is every process exit so far.
func (c *Cluster) Exits() []Exit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Exit(nil), c.exits...)
}

func (c *Cluster) recordExit(e Exit) {
	c.mu.Lock()
	c.exits = append(c.exits, e)
	c.mu.Unlock()
	if !e.Expected {
		c.cfg.Logger.Error("broker exited on its own", "node", e.Node, "start", e.Start, "err", e.Err)
	}
}

// Close kills (SIGKILL, by PID) every process still running and waits for
// it. It is safe to call more than once.
func (c *Cluster) Close() error {
	var errs []error
	for _, n := range c.nodes {
		if err := n.Kill(); err != nil && !errors.Is(err, ErrNotRunning) && !errors.Is(err, ErrExitedOnItsOwn) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Problem is one finding of the broker-crash check.
type Problem struct {
	Node int    `json:"node"`
	What string `json:"what"` // "unexpected exit" or the log pattern
	Text string `json:"text"` // the exit status or the log line
}

func (p Problem) String() string { return fmt.Sprintf("node %d: %s: %s", p.Node, p.What, p.Text) }

// Problems lists unexpected exits and log lines matching BadLogPatterns
// (at most max of them; 0 means 100).
func (c *Cluster) Problems(max int) []Problem {
	if max <= 0 {
		max = 100
	}
	var out []Problem
	for _, e := range c.Exits() {
		if !e.Expected && len(out) < max {
			out = append(out, Problem{Node: e.Node, What: "unexpected exit", Text: fmt.Sprintf("start %d: %s", e.Start, e.Err)})
		}
	}
	for _, n := range c.nodes {
		out = append(out, ScanLog(n.ID, n.LogPath, max-len(out))...)
	}
	return out
}

// ScanLog returns up to max lines of the log at path holding one of
// BadLogPatterns. A missing log is no finding; an unreadable one is.
func ScanLog(node int, path string, max int) []Problem {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) || max <= 0 {
		return nil
	}
	if err != nil {
		return []Problem{{Node: node, What: "log unreadable", Text: err.Error()}}
	}
	defer f.Close()
	var out []Problem
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() && len(out) < max {
		line := sc.Text()
		if failpoint.IsCrashLine(line) {
			continue // a crash the harness injected (see Node.ExpectExit)
		}
		for _, pat := range BadLogPatterns {
			if strings.Contains(line, pat) {
				out = append(out, Problem{Node: node, What: pat, Text: truncate(line, 300)})
				break
			}
		}
	}
	if err := sc.Err(); err != nil && len(out) < max {
		out = append(out, Problem{Node: node, What: "log unreadable", Text: err.Error()})
	}
	return out
}

// LogTail is the last 8 KiB of a log, for error messages.
func LogTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	from := max(st.Size()-8<<10, 0)
	b := make([]byte, st.Size()-from)
	n, _ := f.ReadAt(b, from)
	return string(b[:n])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Ports are picked below the kernel's usual ephemeral range (32768 and
// up), so an outgoing connection cannot take a stopped node's port before
// it restarts.
const (
	portLow  = 20000
	portHigh = 32768
)

// FreeAddr returns a 127.0.0.1 address whose port, below the ephemeral
// range, was free a moment ago.
func FreeAddr() (string, error) {
	a, err := freeAddrs("127.0.0.1", 1)
	if err != nil {
		return "", err
	}
	return a[0], nil
}

// freeAddrs returns n distinct free addresses on host (see FreeAddr).
func freeAddrs(host string, n int) ([]string, error) {
	out := make([]string, 0, n)
	seen := map[int]bool{}
	for try := 0; len(out) < n; try++ {
		if try == 100*n {
			return nil, fmt.Errorf("cluster: no %d free ports on %s in [%d, %d)", n, host, portLow, portHigh)
		}
		port := portLow + rand.IntN(portHigh-portLow)
		if seen[port] {
			continue
		}
		seen[port] = true
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		out = append(out, addr)
	}
	return out, nil
}

// Start starts every stopped node, then waits until each is ready: the
// nodes of a new multi-node cluster become ready only once every seed
// answers, so all processes must run before any wait.
func (c *Cluster) Start(ctx context.Context) error {
	type started struct {
		n *Node
		p *proc
	}
	var waits []started
	for _, n := range c.nodes {
		p, err := n.launch()
		if errors.Is(err, ErrRunning) {
			continue
		}
		if err != nil {
			return err
		}
		waits = append(waits, started{n, p})
	}
	for _, w := range waits {
		if err := w.n.waitReady(ctx, w.p); err != nil {
			return err
		}
	}
	return nil
}

// KillAll sends SIGKILL to every running node at once (one goroutine each,
// so the kills land within milliseconds) and waits for the exits.
func (c *Cluster) KillAll() error {
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() { errs[i] = n.Kill() })
	}
	wg.Wait()
	return errors.Join(errs...)
}
