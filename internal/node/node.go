package node

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/config"
	"github.com/petrel-streaming/petrel/internal/kafka"
	"github.com/petrel-streaming/petrel/internal/metrics"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
	"github.com/petrel-streaming/petrel/internal/rpc"
	"github.com/petrel-streaming/petrel/internal/shard"
	"github.com/petrel-streaming/petrel/internal/storage/engine"
	"github.com/petrel-streaming/petrel/internal/tune"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// Config is what a node needs; the command line fills it from
// internal/config, an embedding program directly.
type Config struct {
	DataDir            string
	NodeID             model.NodeID
	KafkaAddr          string // listen address; "127.0.0.1:0" picks a port
	AdvertiseKafkaAddr string // "" derives it from the listener
	AdminAddr          string // "" disables the admin HTTP API
	// RPCAddr is the node-to-node address registered with the controller
	// (the transport arrives with clusters); "" means the advertised host
	// and port 33145.
	RPCAddr string
	// Seeds are the RPC addresses of the cluster's founding nodes; none:
	// the node is a cluster of one and runs no transport.
	Seeds             []string
	Shards            int   // 0: one per core
	MemoryBytes       int64 // 0: a share of RAM
	JournalBytes      int64 // each shard's journal ring (256 MiB); fixed at data dir creation
	DirectIO          bool
	AutoCreateTopics  bool
	DefaultPartitions int32 // num.partitions (1)
	// GroupInitialRebalanceDelay delays the first rebalance of an empty
	// group (Kafka's group.initial.rebalance.delay.ms, 3s); tests use 0.
	GroupInitialRebalanceDelay time.Duration
	// RetentionCheckInterval is how often segment and retention configs
	// are applied to every partition (Kafka's
	// log.retention.check.interval.ms; default 1 minute).
	RetentionCheckInterval time.Duration
	// ControllerSnapshotEvery is how many controller entries are applied
	// between two snapshots of the controller's state, after each of which
	// its log is compacted (default 1,000; a quarter of it stays in the
	// log for members slightly behind).
	ControllerSnapshotEvery uint64
	// SetGoMemoryLimit sets the process's Go memory limit to the memory
	// setting: for `petrel serve`, not for a program embedding a broker.
	SetGoMemoryLimit bool
	// DisablePartitionMetrics drops every metric series with a partition
	// label (consumer lag is then summed per group and topic): for nodes
	// with very many partitions. Default: the series are exported.
	DisablePartitionMetrics bool
	// Settings is the resolved configuration the command line built this
	// Config from, served by /v1/cluster_config; nil: the defaults with
	// this Config's fields laid over them.
	Settings *config.Config
	// FS is the file system (default: the OS's).
	FS     vfs.FS
	Logger *slog.Logger
	// LogLevel, if set, is the level of Logger's handler: the admin API's
	// /v1/config/log_level reads and changes it at runtime.
	LogLevel *slog.LevelVar
}

// defaultMemoryMax caps the memory a node takes when none is configured.
const defaultMemoryMax = 1 << 30

// Node is a running Petrel node. Any goroutine.
type Node struct {
	cfg    Config
	log    *slog.Logger
	fs     vfs.FS
	lock   interface{ Close() error }
	meta   nodeMeta
	rt     *shard.Runtime
	shards []*partition.Manager

	kafkaLn  net.Listener
	kafkaSrv *kafka.Server
	adminLn  net.Listener
	adminSrv *http.Server
	advHost  string
	advPort  int32

	ctrl     *controller
	ctrlUp   atomic.Pointer[controller] // ctrl, for rpc handlers, once started
	replicas sync.Map                   // model.PartitionKey → *partition.Replica
	// Cluster mode: the transport, the group id → partition map for
	// routing Raft messages, the peers' addresses, the ticker's stop.
	transport   *rpc.Transport
	groups2keys sync.Map // uint64 → model.PartitionKey
	peerState
	stopTicks chan struct{}
	// failed is closed when the node stopped itself on a storage error.
	failOnce sync.Once
	failErr  error
	failing  atomic.Bool
	failed   chan struct{}
	groups   *groups
	metrics  *metrics.Metrics

	stopRetain chan struct{}

	ready  atomic.Bool
	closed atomic.Bool
	wg     sync.WaitGroup
}

// nodeMeta is the node's identity file, written once at first start.
type nodeMeta struct {
	ClusterID string `json:"cluster_id"`
	Shards    int    `json:"shards"`
	// JournalBytes is each shard's journal ring size; 0 in data dirs made
	// before it was recorded, which have the default.
	JournalBytes int64 `json:"journal_bytes,omitempty"`
	// NodeID and Voters (the controller's founding voters) are recorded
	// by a node that formed a cluster with peers.
	NodeID model.NodeID   `json:"node_id,omitempty"`
	Voters []model.NodeID `json:"controller_voters,omitempty"`
	// Joined: the node joined a formed cluster (a learner of the
	// controller group) rather than founding it.
	Joined bool `json:"joined,omitempty"`
	// Assigned: the cluster gave NodeID (nodeid.go); with no ClusterID
	// yet, the node has not finished joining.
	Assigned bool `json:"node_id_assigned,omitempty"`
}

// defaultJournalBytes is a shard's journal ring unless configured: four
// files of 64 MiB (package journal's default geometry).
const defaultJournalBytes = 256 << 20

// journalFiles is the number of files a shard's journal ring has.
const journalFiles = 4

// Start opens (or creates) the node's data directory, recovers every
// partition, and serves Kafka (and the admin API) until Close.
func Start(ctx context.Context, cfg Config) (_ *Node, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FS == nil {
		cfg.FS = vfs.NewOS()
	}
	if cfg.DataDir == "" {
		return nil, errors.New("node: no data directory")
	}
	if cfg.DefaultPartitions <= 0 {
		cfg.DefaultPartitions = 1
	}
	m := metrics.New(metrics.Options{PartitionSeries: !cfg.DisablePartitionMetrics})
	cfg.FS = m.InstrumentFS(cfg.FS) // fsync latency and bytes per sync
	n := &Node{cfg: cfg, log: cfg.Logger, fs: cfg.FS, metrics: m}
	n.peerAddrs = map[model.NodeID]string{}
	n.failed = make(chan struct{})
	defer func() {
		if err != nil {
			n.abort()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("node: data directory: %w", err)
	}
	if n.lock, err = cfg.FS.Lock(filepath.Join(cfg.DataDir, ".lock")); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if err := n.loadMeta(); err != nil {
		return nil, err
	}
	mem := cfg.MemoryBytes
	if mem == 0 {
		// A quarter of RAM, at most 1 GiB: a newcomer's laptop or a CI
		// box shares the machine; a dedicated node sets --memory.
		if mem, err = shard.MemoryFromRAM(25); err != nil {
			return nil, err
		}
		mem = min(mem, defaultMemoryMax)
	}
	if n.rt, err = shard.New(shard.Config{Shards: n.meta.Shards, MemoryBytes: mem}, cfg.Logger); err != nil {
		return nil, err
	}
	budgets := n.rt.Budgets()
	seedLatency, seedBandwidth := n.diskSeeds()
	for i := 0; i < n.meta.Shards; i++ {
		eng, err := engine.Open(engine.Options{
			FS: cfg.FS, Dir: filepath.Join(cfg.DataDir, "shards", strconv.Itoa(i)),
			Logger: cfg.Logger.With("shard", i), Direct: cfg.DirectIO,
			SeedSyncLatency: seedLatency, SeedBytesPerSec: seedBandwidth,
			JournalFileBytes: n.meta.JournalBytes / journalFiles, JournalFiles: journalFiles,
			// The tail cache is one ring allocated whole: its share of
			// the shard's memory, at most 16 MiB (a tailing consumer is
			// served from it; one further behind reads the page cache).
			BatchCacheBytes: min(16<<20, budgets.Shards[i].BatchCache.Limit()),
		})
		if err != nil {
			return nil, fmt.Errorf("node: shard %d: %w", i, err)
		}
		n.shards = append(n.shards, partition.NewManager(eng, cfg.Logger.With("shard", i)))
	}
	if err := n.rt.Start(); err != nil {
		return nil, err
	}
	for i, m := range n.shards {
		if err := n.rt.InvokeOn(ctx, model.ShardID(i), func(s *shard.Shard) { s.SetLoop(m) }); err != nil {
			return nil, err
		}
	}
	if err := n.listen(); err != nil {
		return nil, err
	}
	if err := n.settleNodeID(ctx); err != nil {
		return nil, err
	}
	if n.clusterMode() {
		if err := n.startTransport(); err != nil {
			return nil, err
		}
		if n.meta.ClusterID == "" {
			if err := n.form(ctx); err != nil {
				return nil, err
			}
		}
	}
	if n.ctrl, err = startController(ctx, n); err != nil {
		return nil, err
	}
	n.ctrlUp.Store(n.ctrl)
	if n.transport != nil {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.driveReassignments(n.stopTicks, n.ctrl.moves) }()
	}
	n.groups = newGroups(n)
	if err := n.groups.start(ctx); err != nil {
		return nil, err
	}
	if err := n.serve(); err != nil {
		return nil, err
	}
	n.stopRetain = make(chan struct{})
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.retain(n.stopRetain) }()
	if cfg.SetGoMemoryLimit {
		shard.SetGoMemoryLimit(mem)
	}
	n.waitLeaders(ctx)
	n.ready.Store(true)
	n.log.Info("petrel node serving", "kafka", n.kafkaLn.Addr().String(), "data_dir", cfg.DataDir,
		"shards", n.meta.Shards, "cluster_id", n.meta.ClusterID)
	return n, nil
}

func (n *Node) loadMeta() error {
	path := filepath.Join(n.cfg.DataDir, "node.json")
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &n.meta); err != nil || n.meta.Shards <= 0 || (n.meta.ClusterID == "" && !n.meta.Assigned) {
			return fmt.Errorf("node: %s is damaged (%v): %w", path, err, model.ErrCorrupt)
		}
		if n.cfg.Shards != 0 && n.cfg.Shards != n.meta.Shards {
			n.log.Warn("keeping the data directory's shard count: partitions live in their shard's files",
				"configured", n.cfg.Shards, "data_dir", n.meta.Shards)
		}
		if n.meta.JournalBytes == 0 {
			n.meta.JournalBytes = defaultJournalBytes
		}
		if n.cfg.JournalBytes != 0 && n.cfg.JournalBytes != n.meta.JournalBytes {
			n.log.Warn("keeping the data directory's journal size: its files hold records",
				"configured", n.cfg.JournalBytes, "data_dir", n.meta.JournalBytes)
		}
		switch {
		case !n.meta.member() && len(n.cfg.Seeds) > 0:
			return fmt.Errorf("node: data directory %s belongs to the single-node cluster %q: it cannot join the cluster of --seeds; start it without seeds, or give this node an empty data directory",
				n.cfg.DataDir, n.meta.ClusterID)
		case n.meta.member() && n.meta.NodeID != n.cfg.NodeID && n.cfg.NodeID != AutoNodeID:
			return fmt.Errorf("node: data directory %s is node %d's of cluster %q, not node %d's: start it with --node-id %d",
				n.cfg.DataDir, n.meta.NodeID, n.meta.ClusterID, n.cfg.NodeID, n.meta.NodeID)
		}
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("node: %w", err)
	}
	n.meta.Shards = n.cfg.Shards
	if n.meta.Shards <= 0 {
		n.meta.Shards = runtime.GOMAXPROCS(0)
	}
	n.meta.JournalBytes = n.cfg.JournalBytes
	if n.meta.JournalBytes <= 0 {
		n.meta.JournalBytes = defaultJournalBytes
	}
	if len(n.cfg.Seeds) > 0 {
		// A founder: the cluster id comes from forming with the other
		// seeds, and node.json is written then.
		return nil
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	n.meta.ClusterID = base64.RawURLEncoding.EncodeToString(id[:]) // Kafka's form
	return n.writeMeta()
}

// writeMeta writes node.json atomically (temp file, fsync, rename, dir
// fsync).
func (n *Node) writeMeta() error {
	path := filepath.Join(n.cfg.DataDir, "node.json")
	b, _ := json.Marshal(n.meta)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		var d *os.File
		if d, err = os.Open(n.cfg.DataDir); err == nil {
			err = d.Sync()
			d.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("node: write %s: %w", path, err)
	}
	return nil
}

func (n *Node) listen() error {
	var err error
	if n.kafkaLn, err = net.Listen("tcp", n.cfg.KafkaAddr); err != nil {
		return fmt.Errorf("node: kafka listener: %w", err)
	}
	adv := n.cfg.AdvertiseKafkaAddr
	if adv == "" {
		adv = n.kafkaLn.Addr().String()
		if h, p, err := net.SplitHostPort(adv); err == nil && (h == "::" || h == "0.0.0.0" || h == "") {
			// Bound to every interface: advertise loopback, which works
			// for clients on this machine; others set the address.
			adv = net.JoinHostPort("127.0.0.1", p)
		}
	}
	h, p, err := net.SplitHostPort(adv)
	if err != nil {
		return fmt.Errorf("node: advertised address %q: %w", adv, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return fmt.Errorf("node: advertised address %q: bad port", adv)
	}
	n.advHost, n.advPort = h, int32(port)
	if n.cfg.AdminAddr != "" {
		if n.adminLn, err = net.Listen("tcp", n.cfg.AdminAddr); err != nil {
			return fmt.Errorf("node: admin listener: %w", err)
		}
	}
	return nil
}

func (n *Node) serve() error {
	reg := kafka.NewRegistry()
	if err := kafka.RegisterBroker(reg, n, n.ctrl); err != nil {
		return err
	}
	if err := n.groups.register(reg); err != nil {
		return err
	}
	// Requests being read, decoded and served (Produce batches until they
	// commit) hold the shards' decode budgets, together.
	kcfg := kafka.DefaultConfig()
	var decode int64
	for _, sb := range n.rt.Budgets().Shards {
		decode += sb.Decode.Limit()
	}
	kcfg.DecodeBudgetBytes = max(decode, 32<<20)
	srv, err := kafka.NewServer(kcfg, reg, n.log)
	if err != nil {
		return err
	}
	srv.Observe(kafkaObserver{n})
	n.kafkaSrv = srv
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := srv.Serve(n.kafkaLn); err != nil && !errors.Is(err, kafka.ErrServerClosed) {
			n.log.Error("kafka listener stopped", "err", err)
		}
	}()
	if n.adminLn != nil {
		n.adminSrv = &http.Server{Handler: n.adminHandler(), ReadHeaderTimeout: 10 * time.Second}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := n.adminSrv.Serve(n.adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.log.Error("admin listener stopped", "err", err)
			}
		}()
	}
	return nil
}

// KafkaAddr is the address the Kafka listener is bound to.
func (n *Node) KafkaAddr() string { return n.kafkaLn.Addr().String() }

// AdminAddr is the admin API's address, or "".
func (n *Node) AdminAddr() string {
	if n.adminLn == nil {
		return ""
	}
	return n.adminLn.Addr().String()
}

// Close stops the node cleanly: no new connections, in-flight requests
// answered, shards drained, every log synced, files closed. When ctx ends
// first, connections are cut and the shards stop where they are (what was
// acknowledged is durable either way).
func (n *Node) Close(ctx context.Context) error {
	if n.closed.Swap(true) {
		return nil
	}
	n.ready.Store(false)
	n.transferLeaders(ctx)
	if n.stopRetain != nil {
		close(n.stopRetain)
	}
	var errs []error
	if n.kafkaSrv != nil {
		if err := n.kafkaSrv.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if n.adminSrv != nil {
		if err := n.adminSrv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if n.groups != nil {
		n.groups.close(ctx)
	}
	if n.ctrl != nil {
		n.ctrl.close()
	}
	if n.stopTicks != nil {
		close(n.stopTicks)
	}
	n.wg.Wait()
	errs = append(errs, n.stopShards(ctx))
	if n.transport != nil {
		errs = append(errs, n.transport.Close())
	}
	if n.lock != nil {
		errs = append(errs, n.lock.Close())
	}
	return errors.Join(errs...)
}

func (n *Node) stopShards(ctx context.Context) error {
	if n.rt == nil {
		return nil
	}
	if err := n.rt.Stop(ctx); err != nil {
		return err
	}
	var errs []error
	for _, m := range n.shards {
		errs = append(errs, m.Close())
	}
	return errors.Join(errs...)
}

// abort undoes a failed Start.
func (n *Node) abort() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n.kafkaLn != nil && n.kafkaSrv == nil {
		n.kafkaLn.Close()
	}
	if n.adminLn != nil && n.adminSrv == nil {
		n.adminLn.Close()
	}
	n.closed.Store(false)
	_ = n.Close(ctx)
}

// shardOf is the shard that owns a partition.
func (n *Node) shardOf(key model.PartitionKey) model.ShardID {
	if key == controllerKey {
		return 0 // the controller's group lives on shard 0
	}
	return n.rt.ShardFor(shard.HashPartition(key))
}

var _ kafka.Broker = (*Node)(nil)

// NodeID implements kafka.Broker.
func (n *Node) NodeID() int32 { return int32(n.cfg.NodeID) }

// ClusterID implements kafka.Broker.
func (n *Node) ClusterID() string { return n.meta.ClusterID }

// Advertised implements kafka.Broker.
func (n *Node) Advertised() (string, int32) { return n.advHost, n.advPort }

// Tables implements kafka.Broker.
func (n *Node) Tables() *cluster.Tables { return n.ctrl.tables.Load() }

// AutoCreateTopics implements kafka.Broker.
func (n *Node) AutoCreateTopics() bool { return n.cfg.AutoCreateTopics }

// Defaults implements kafka.Broker.
func (n *Node) Defaults() cluster.Defaults {
	return cluster.Defaults{Partitions: n.cfg.DefaultPartitions,
		ReplicationFactor: int16(min(3, max(1, len(n.Tables().Brokers()))))}
}

// ReadState implements kafka.Broker.
func (n *Node) ReadState(key model.PartitionKey) *partition.ReadState {
	if r, ok := n.replicas.Load(key); ok {
		return r.(*partition.Replica).State()
	}
	return nil
}

// diskSeeds reads the disk's measured properties from io-config.yaml in
// the data dir (written by `petrel iotune`) for the engines' write-path
// policy: the 4 KiB write+fdatasync p50 and the sequential write
// bandwidth. Without the file the engines start from built-in seeds and
// measure as they go; a file that does not parse is reported and ignored.
func (n *Node) diskSeeds() (time.Duration, float64) {
	path := filepath.Join(n.cfg.DataDir, tune.IOPropertiesName)
	p, err := tune.ReadIOProperties(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		lat, bw, err := quickDiskProbe(n.fs, n.cfg.DataDir)
		if err != nil {
			n.log.Warn("no disk measurements and the start-up probe failed: built-in seeds", "err", err)
			return 0, 0
		}
		n.log.Info("no io-config.yaml (petrel iotune): disk probed at start-up", "sync_p50", lat, "write_bytes_per_sec", int64(bw))
		return lat, bw
	case err != nil:
		n.log.Warn("disk measurements ignored", "err", err)
		return 0, 0
	}
	var lat time.Duration
	for _, w := range p.SyncWrite {
		if w.SizeBytes == 4<<10 && w.P50Micros > 0 {
			lat = time.Duration(w.P50Micros * float64(time.Microsecond))
		}
	}
	bw := p.SequentialWrite.BufferedBytesPerSec
	if n.cfg.DirectIO && p.SequentialWrite.DirectBytesPerSec > 0 {
		bw = p.SequentialWrite.DirectBytesPerSec
	}
	n.log.Info("disk measurements from iotune", "file", path, "sync_p50", lat, "write_bytes_per_sec", int64(bw))
	return lat, bw
}

// quickDiskProbe measures, in a few milliseconds, what the engines' write
// path policy needs when iotune has not: the p50 of 16 writes of 4 KiB,
// each followed by fdatasync, and the bandwidth of one 4 MiB
// write+fdatasync, both into a file written and synced once before (as
// the journal's files are: a first write would time block allocation).
func quickDiskProbe(fsys vfs.FS, dir string) (time.Duration, float64, error) {
	name := filepath.Join(dir, ".disk-probe")
	f, err := fsys.Create(name, vfs.OpenOptions{})
	if err != nil {
		return 0, 0, err
	}
	defer fsys.Remove(name)
	defer f.Close()
	const small, n, large = 4 << 10, 16, 4 << 20
	buf := make([]byte, large)
	if _, err := f.WriteAt(buf, 0); err != nil {
		return 0, 0, err
	}
	if err := f.Datasync(); err != nil {
		return 0, 0, err
	}
	lats := make([]time.Duration, 0, n)
	for i := range n {
		t := time.Now()
		if _, err := f.WriteAt(buf[:small], int64(i*small)); err != nil {
			return 0, 0, err
		}
		if err := f.Datasync(); err != nil {
			return 0, 0, err
		}
		lats = append(lats, time.Since(t))
	}
	slices.Sort(lats)
	t := time.Now()
	if _, err := f.WriteAt(buf, 0); err != nil {
		return 0, 0, err
	}
	if err := f.Datasync(); err != nil {
		return 0, 0, err
	}
	return lats[n/2], large / max(time.Since(t).Seconds(), 1e-6), nil
}

// leadersTimeout bounds how long start-up waits for its partitions'
// leaders before it reports ready anyway.
const leadersTimeout = 30 * time.Second

// waitLeaders waits until every partition of every topic has a leader
// that serves (after a restart each group elects itself again), so that
// /v1/status/ready means the node answers for all of them, not
// LEADER_NOT_AVAILABLE; past leadersTimeout it logs which topic is
// waiting and reports ready anyway.
func (n *Node) waitLeaders(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, leadersTimeout)
	defer cancel()
	for _, tp := range n.Tables().Topics() {
		if err := n.waitServing(ctx, tp.ID); err != nil {
			n.log.Warn("ready before every partition has a leader", "topic", tp.Name, "err", err)
			return
		}
	}
}

// Leadership implements kafka.Broker: the local replica's view of its
// group (a serving leader knows its in-sync replicas; a follower knows
// the leader and epoch and reports every replica as in sync).
func (n *Node) Leadership(key model.PartitionKey) kafka.Leadership {
	out := kafka.Leadership{Leader: -1, Epoch: -1}
	var replicas []model.NodeID
	if tp, ok := n.Tables().TopicByID(key.Topic); ok && int(key.Partition) < len(tp.Partitions) {
		replicas = tp.Partitions[key.Partition].Replicas
	}
	rs := n.ReadState(key)
	switch {
	case rs == nil:
		out.ISR = replicas
	case rs.Leader:
		out.Leader, out.Epoch, out.ISR = n.cfg.NodeID, rs.LeaderEpoch, rs.ISR
	case rs.LeaderID >= 0 && rs.LeaderID != n.cfg.NodeID:
		out.Leader, out.Epoch, out.ISR = rs.LeaderID, rs.LeaderEpoch, replicas
	default:
		out.ISR = replicas
	}
	return out
}
