package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"path"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/storage"
	"github.com/petrel-streaming/petrel/internal/storage/journal"
	"github.com/petrel-streaming/petrel/internal/storage/kv"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// Options configure an Engine. Zero values take the defaults noted.
type Options struct {
	FS     vfs.FS
	Dir    string
	Logger *slog.Logger
	// Direct asks for O_DIRECT on the journal and segments (with fallback
	// to buffered I/O where the file system refuses it).
	Direct bool
	// Now is the clock for segment ages and retention (default time.Now).
	Now func() time.Time
	// JournalFileBytes and JournalFiles size the journal ring
	// (defaults: package journal's).
	JournalFileBytes int64
	JournalFiles     int
	// Log is the template for every partition's log options; the engine
	// fills in Logger, Direct, Now and the shared caches.
	Log storage.Options
	// HandleCacheFiles bounds the open segment files of the shard (4096):
	// every partition being written keeps its active segment open, so it
	// should exceed the partitions a shard writes at once.
	HandleCacheFiles int
	// BatchCacheBytes bounds the shard's tail cache (64 MiB).
	BatchCacheBytes int64
	// DirectMinBytes and DirectMaxBytes bound the adaptive threshold above
	// which a partition's pending bytes take the direct path (64 KiB, 1 MiB).
	DirectMinBytes, DirectMaxBytes int
	// FlushFraction starts a write-behind flush once the journal is this
	// full (0.25).
	FlushFraction float64
	// SeedSyncLatency and SeedBytesPerSec seed the latency model that picks
	// the path of a partition's writes (a small write+fdatasync's latency
	// and sequential write bandwidth, as `petrel iotune` measures them);
	// zero means built-in seeds. Rounds refine the model as they run.
	SeedSyncLatency time.Duration
	SeedBytesPerSec float64
	// MaxRoundsInFlight bounds the rounds started and not yet finished (2):
	// the next round's writes go out while the last one's fdatasync runs.
	MaxRoundsInFlight int
	// PipelineMinBytes is the size of the round in flight from which
	// CanStart lets the next one start beside it (256 KiB; negative: any
	// size). Measured on the broker (1 partition, three alternating runs):
	// produce 335/308/306 MB/s and p50 ack latency at 10 MB/s 1.53/1.72/1.56
	// ms, against 333/283/304 and 1.34/1.80/1.82 with any size and
	// 286/244/250 and 1.81/1.73/1.83 with one round at a time.
	PipelineMinBytes int64
}

func (o *Options) fill() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HandleCacheFiles == 0 {
		o.HandleCacheFiles = 4096
	}
	if o.BatchCacheBytes == 0 {
		o.BatchCacheBytes = 64 << 20
	}
	if o.DirectMinBytes == 0 {
		o.DirectMinBytes = 64 << 10
	}
	if o.DirectMaxBytes == 0 {
		o.DirectMaxBytes = 1 << 20
	}
	if o.FlushFraction == 0 {
		o.FlushFraction = 0.25
	}
	if o.MaxRoundsInFlight <= 0 {
		o.MaxRoundsInFlight = 2
	}
	switch {
	case o.PipelineMinBytes == 0:
		o.PipelineMinBytes = 256 << 10
	case o.PipelineMinBytes < 0:
		o.PipelineMinBytes = 0
	}
}

// Journal record kinds (see doc.go).
const (
	kindEntries  uint8 = 1
	kindTruncate uint8 = 2
	kindBarrier  uint8 = 3
	kindKV       uint8 = 4
	kindRemove   uint8 = 5
)

// Errors with identity.
var (
	// ErrRoundInFlight is returned by StartRound while MaxRoundsInFlight
	// rounds are running, and by Flush while any is.
	ErrRoundInFlight = errors.New("engine: rounds in flight")
	// ErrUnknownPartition is returned for a partition the engine does not hold.
	ErrUnknownPartition = errors.New("engine: unknown partition")
	// ErrFailed marks an engine stopped by an earlier I/O error; reopen it.
	ErrFailed = errors.New("engine: failed by an earlier I/O error")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("engine: closed")
)

// Engine is the storage of one shard. It lives on its shard: every method is
// called by the shard's goroutine, except Round.Wait.
type Engine struct {
	opts    Options
	j       *journal.Journal
	kv      *kv.Store
	handles *storage.HandleCache
	cache   *storage.BatchCache
	parts   map[model.PartitionKey]*part

	staged  []*part  // partitions with staged work, in staging order
	kvOps   []kv.Op  // metadata staged for the next round
	rounds  []*Round // the rounds in flight, oldest first
	flush   *flushJob
	blocked bool // the journal refused work for lack of space
	lat     latency
	failed  error
	closed  bool
	scratch []byte // reused encoding space for small records
}

// part is the engine's state of one partition.
type part struct {
	key          model.PartitionKey
	dir          string
	log          *storage.Log
	staged       []byte      // encoded entries for the next round (reused)
	rest         []byte      // staged entries beyond a round's record limit (StartRound only)
	stagedLast   model.Index // last index in staged
	startPending model.Index // staged new logical start, in no round yet (0: none)
	startFlight  model.Index // the highest start carried by a round in flight (0: none)
	commit       model.Index // the highest commit index given to SetHardState or durable
	truncFrom    model.Index // pending suffix truncation (0: none)
	hs           *HardState  // pending hard state
	removing     bool
	reset        *resetOp    // pending log reset (Reset), not yet in a round
	floor        model.Index // the last reset's next index: no append below it
	inflight     int         // rounds in flight that will truncate or reset, then append (deferredWrite)
	inflightLast model.Index // the last index once the newest has
	queued       bool        // in Engine.staged
	rounds       int         // rounds in flight that carry work of this partition
	directIn     bool        // one of them writes it on the direct path
	live         uint64      // newest journal seq holding this partition's records, 0 if none live
	dirty        bool        // segment bytes written behind and not yet synced
	durable      model.Index // last index durable on any path
}

// Open opens (creating if needed) the engine in opts.Dir and recovers it:
// every partition's log tail is checked, the journal is replayed from the
// last checkpoint, and hard states are checked against the logs.
func Open(opts Options) (*Engine, error) {
	opts.fill()
	fs := opts.FS
	if err := mkdirDurable(fs, opts.Dir, journalDir(opts.Dir), kvDir(opts.Dir), partitionsDir(opts.Dir)); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	store, ckpt, err := kv.Load(fs, kvDir(opts.Dir))
	if err != nil {
		return nil, fmt.Errorf("engine: metadata snapshot: %w", err)
	}
	j, err := journal.Open(fs, journalDir(opts.Dir), journal.Options{
		FileSize: opts.JournalFileBytes, MaxFiles: opts.JournalFiles, Direct: opts.Direct, Logger: opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	e := &Engine{
		opts:    opts,
		j:       j,
		kv:      store,
		handles: storage.NewHandleCache(opts.HandleCacheFiles),
		cache:   storage.NewBatchCache(opts.BatchCacheBytes),
		parts:   make(map[model.PartitionKey]*part),
	}
	e.lat.init(opts.DirectMinBytes, opts.DirectMaxBytes, opts.SeedSyncLatency, opts.SeedBytesPerSec)
	if err := e.recover(ckpt); err != nil {
		_ = e.closeFiles()
		return nil, err
	}
	return e, nil
}

// mkdirDurable creates the directories and syncs every parent on their
// paths, so that none of them can vanish in a crash.
func mkdirDurable(fs vfs.FS, dirs ...string) error {
	synced := map[string]bool{}
	for _, d := range dirs {
		if err := fs.MkdirAll(d); err != nil {
			return err
		}
		for p := path.Dir(d); !synced[p]; p = path.Dir(p) {
			synced[p] = true
			if err := fs.SyncDir(p); err != nil {
				return err
			}
			if p == "." || p == "/" {
				break
			}
		}
	}
	return nil
}

func journalDir(dir string) string    { return path.Join(dir, "journal") }
func kvDir(dir string) string         { return path.Join(dir, "kv") }
func partitionsDir(dir string) string { return path.Join(dir, "partitions") }

// logOptions are the options of one partition's log.
func (e *Engine) logOptions(key model.PartitionKey) storage.Options {
	o := e.opts.Log
	o.Logger = e.opts.Logger.With("partition", key.String())
	o.Direct = e.opts.Direct
	o.Now = e.opts.Now
	o.Handles = e.handles
	o.Cache = e.cache
	ls := e.logStart(key)
	o.StartIndex, o.StartOffset = ls.index, ls.offset
	return o
}

// Partition returns the log of a partition, creating it if it is new. The
// log is for reading; writes go through Append and Truncate.
func (e *Engine) Partition(key model.PartitionKey) (*storage.Log, error) {
	if err := e.usable(); err != nil {
		return nil, err
	}
	p, err := e.open(key)
	if err != nil {
		return nil, err
	}
	return p.log, nil
}

func (e *Engine) open(key model.PartitionKey) (*part, error) {
	if p, ok := e.parts[key]; ok {
		return p, nil
	}
	dir := path.Join(partitionsDir(e.opts.Dir), key.String())
	if err := e.opts.FS.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	// The new directory must survive a crash before any of its files can.
	if err := e.opts.FS.SyncDir(partitionsDir(e.opts.Dir)); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	lg, err := storage.Open(e.opts.FS, dir, e.logOptions(key))
	if err != nil {
		return nil, fmt.Errorf("engine: partition %s: %w", key, err)
	}
	p := &part{key: key, dir: dir, log: lg, durable: lg.LastIndex(), floor: e.lastReset(key).index}
	if hs, ok, err := e.HardState(key); err == nil && ok {
		p.commit = hs.Commit
	}
	e.parts[key] = p
	return p, nil
}

func (e *Engine) usable() error {
	switch {
	case e.closed:
		return ErrClosed
	case e.failed != nil:
		return fmt.Errorf("%w: %w", ErrFailed, e.failed)
	}
	return nil
}

// fail makes err sticky: the engine refuses work until reopened, as a
// storage error leaves the on-disk state unknown until recovery reads it.
func (e *Engine) fail(err error) error {
	if e.failed == nil {
		e.failed = err
		e.opts.Logger.Error("storage engine failed; reopen to recover", "err", err)
	}
	return err
}

// Partitions lists the partitions the engine holds.
func (e *Engine) Partitions() []model.PartitionKey {
	out := make([]model.PartitionKey, 0, len(e.parts))
	for k := range e.parts {
		out = append(out, k)
	}
	return out
}

// DurableIndex is the last index of the partition that is durable (through
// the journal or its own segment).
func (e *Engine) DurableIndex(key model.PartitionKey) model.Index {
	if p, ok := e.parts[key]; ok {
		return p.durable
	}
	return 0
}

// Close waits for the rounds in flight, flushes every partition so the
// journal is empty, and closes all files.
func (e *Engine) Close() error {
	if e.closed {
		return nil
	}
	var err error
	for len(e.rounds) > 0 {
		r := e.rounds[0]
		err = errors.Join(err, r.Wait())
		e.FinishRound(r)
	}
	if e.failed == nil {
		err = errors.Join(err, e.Flush())
	}
	err = errors.Join(err, e.closeFiles())
	e.closed = true
	return err
}

func (e *Engine) closeFiles() error {
	var err error
	if e.flush != nil {
		<-e.flush.done
		e.flush = nil
	}
	for _, p := range e.parts {
		err = errors.Join(err, p.log.Close())
	}
	return errors.Join(err, e.j.Close())
}

// Pending reports whether work is staged for a round.
func (e *Engine) Pending() bool { return len(e.staged) > 0 || len(e.kvOps) > 0 }

// CanStart reports whether StartRound would take some staged work now:
// a round may start, and metadata or a partition not held back by a round
// in flight (see StartRound) is staged. With no round in flight it is
// Pending.
//
// A round starts beside one in flight only when that one is large
// (Options.PipelineMinBytes): overlapping rounds pays when the disk is busy with
// bandwidth, while two small rounds' fdatasyncs mostly queue behind each
// other's cache flush, and the latency of light load is better served by
// one round at a time.
func (e *Engine) CanStart() bool {
	if len(e.rounds) >= e.opts.MaxRoundsInFlight || e.usable() != nil {
		return false
	}
	if n := len(e.rounds); n > 0 && e.rounds[n-1].bytes < e.opts.PipelineMinBytes {
		return false
	}
	if len(e.kvOps) > 0 {
		return true
	}
	for _, p := range e.staged {
		if !p.heldBack() {
			return true
		}
	}
	return false
}

// InFlight is the number of rounds started and not yet finished.
func (e *Engine) InFlight() int { return len(e.rounds) }

// MaxRoundsInFlight is the bound on InFlight (Options.MaxRoundsInFlight).
func (e *Engine) MaxRoundsInFlight() int { return e.opts.MaxRoundsInFlight }

// Err is the I/O error that failed the engine, if any.
func (e *Engine) Err() error { return e.failed }

// Staged reports whether a partition has work staged for a later round.
func (e *Engine) Staged(key model.PartitionKey) bool {
	p := e.parts[key]
	return p != nil && p.queued
}

// Settled reports whether a partition has no work staged or in flight: its
// log holds all it was given.
func (e *Engine) Settled(key model.PartitionKey) bool {
	p := e.parts[key]
	return p == nil || (!p.queued && p.rounds == 0)
}

// Blocked reports whether the last StartRound left work staged for lack
// of journal space (a flush is freeing it).
func (e *Engine) Blocked() bool { return e.blocked }
