package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/petrel-streaming/petrel/internal/failpoint"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/producers"
	"github.com/petrel-streaming/petrel/internal/storage"
	"github.com/petrel-streaming/petrel/internal/storage/engine"
)

// Kind says what a group's normal entries hold.
type Kind uint8

const (
	// KindData: a Kafka partition; normal entries are record batches.
	KindData Kind = iota
	// KindMeta: a metadata group (the controller); entries are opaque
	// commands handed to Config.Apply once committed.
	KindMeta
)

// Errors with identity; the wire edge maps them to Kafka codes.
var (
	// ErrNotLeader: this replica cannot take proposals (Kafka
	// NOT_LEADER_OR_FOLLOWER), or lost leadership before a proposal
	// committed (the client retries).
	ErrNotLeader = errors.New("partition: not the leader")
	// ErrStorage: the shard's storage failed; the node must restart.
	ErrStorage = errors.New("partition: storage failed")
	// ErrRemoved: the partition was deleted while the request waited.
	ErrRemoved = errors.New("partition: removed")
	// ErrOverloaded: too many uncommitted bytes (retriable backpressure).
	ErrOverloaded = errors.New("partition: too many uncommitted bytes")
	// ErrOffsetOutOfRange: DeleteRecords past the high watermark.
	ErrOffsetOutOfRange = errors.New("partition: offset out of range")
)

// Config describes one replica.
type Config struct {
	Key model.PartitionKey
	// Group names the Raft group across the cluster (the transport's
	// group id); 0 is the controller.
	Group uint64
	Node  model.NodeID
	// Peers are the group's first voters; a group of one lists only Node.
	// A configuration stored by the group (after a change) overrides it.
	Peers []model.NodeID
	// Join: this replica is being added to a running group; it starts
	// with no configuration and learns it from the leader's log.
	Join bool
	Kind Kind
	// Apply receives the committed entries of a KindMeta group in order,
	// on the shard. Data entries of a KindData group never reach it.
	Apply func(index model.Index, data []byte)
	// Snapshot encodes a KindMeta group's state machine as of the last
	// entry Apply received; Restore replaces it with a snapshot's (on a
	// restart, and when the leader sends one). With Snapshot set and
	// SnapshotEvery > 0, the group snapshots after every SnapshotEvery
	// applied entries and compacts its log, keeping the SnapshotKeep
	// entries before the snapshot for members slightly behind.
	Snapshot      func() []byte
	Restore       func(index model.Index, data []byte) error
	SnapshotEvery uint64
	SnapshotKeep  uint64
	// MaxUncommittedBytes bounds proposals not yet committed (64 MiB).
	MaxUncommittedBytes uint64
	Logger              *slog.Logger
}

// ProduceResult completes a proposal of a record batch.
type ProduceResult struct {
	BaseOffset model.Offset
	Err        error
}

type dupWaiter struct {
	base, last model.Offset
	done       func(ProduceResult)
}

type waiter struct {
	base model.Offset
	term model.Term
	done func(ProduceResult)
}

// Replica is one partition replica: a Raft group member whose log is the
// partition's storage log. It lives on its partition's shard: every method
// except State is owner-only.
type Replica struct {
	cfg  Config
	m    *Manager
	log  *storage.Log
	rn   *raft.RawNode
	rs   *raftStorage
	logg *slog.Logger

	leader bool
	// ready: leader, and an entry of its term has committed (reads and
	// the published Leader wait for it).
	ready bool
	term  model.Term
	// tail is the Kafka offset after the last entry in the Raft log
	// (stable and unstable): the base offset the next proposal gets.
	tail model.Offset
	// appendLast/appendNext: the last index and next offset handed to the
	// engine (staged or written).
	appendLast model.Index
	appendNext model.Offset
	hw         model.Offset
	// start is the Kafka log start offset set by DeleteRecords (it may lie
	// inside a batch); the log's own start can only be lower.
	start model.Offset

	waiters []waiter
	// hs is the last hard state handed to the engine or, when hsLazy, held
	// back until a round writes anyway.
	hs     engine.HardState
	hsLazy bool
	// dups wait for the original of a duplicate batch to commit.
	dups []dupWaiter
	// producers is the idempotent producer state (KindData), updated when
	// a batch is proposed and rebuilt from the log on open.
	producers *producers.State
	dirty     bool
	removed   bool
	// Cluster: quiesced groups are not ticked; lead is the last leader
	// published; a leader tracks when each follower last matched its log.
	quiesced bool
	lease    *Lease      // the read lease a serving leader publishes
	applied  model.Index // the last entry applied (a metadata group's state machine is at it)
	lead     model.NodeID
	caughtUp map[model.NodeID]time.Time
	isr      []model.NodeID
	// conf is the last configuration applied (nil: the first one,
	// Config.Peers) and confIndex its entry's index.
	conf      *pb.ConfState
	confIndex model.Index
	// preferred is the replica placement wants as leader.
	preferred model.NodeID
	// campaignAt: campaign once entries up to it are applied (0: no).
	campaignAt model.Index

	state atomic.Pointer[ReadState]
}

// ReadState is what readers on any goroutine see of a partition: an
// immutable snapshot published by the owner after every change.
type ReadState struct {
	View          *storage.View
	HighWatermark model.Offset
	LogStart      model.Offset
	LogEnd        model.Offset
	LeaderEpoch   int32
	// Leader: this replica leads and an entry of its term has committed,
	// so HighWatermark covers everything acknowledged before.
	Leader bool
	// LeaderID is the group's leader as this replica knows it (itself
	// when Leader), or -1 while none is known.
	LeaderID model.NodeID
	// ISR, on a serving leader only, are the replicas in sync with it
	// (itself first): those whose log matched the leader's end within
	// the group's lag bound (Kafka's replica.lag.time.max.ms). Nil
	// elsewhere.
	ISR []model.NodeID
	// Lease, on a serving leader, says whether it may still serve reads
	// (see lease.go).
	Lease   *Lease
	changed chan struct{}
}

// Serving reports whether this replica leads and may serve reads at now:
// Leader, and its lease holds. Any goroutine.
func (s *ReadState) Serving(now time.Time) bool { return s.Leader && s.Lease.Valid(now) }

// Changed is closed when a newer ReadState replaces this one: a long poll
// waits on it.
func (s *ReadState) Changed() <-chan struct{} { return s.changed }

func newReplica(m *Manager, cfg Config) (*Replica, error) {
	if cfg.Logger == nil {
		cfg.Logger = m.logger
	}
	if len(cfg.Peers) == 0 && !cfg.Join {
		cfg.Peers = []model.NodeID{cfg.Node}
	}
	if cfg.MaxUncommittedBytes == 0 {
		cfg.MaxUncommittedBytes = 64 << 20
	}
	l, err := m.eng.Partition(cfg.Key)
	if err != nil {
		return nil, err
	}
	r := &Replica{cfg: cfg, m: m, log: l, logg: cfg.Logger.With("partition", cfg.Key.String()), quiesced: true, lead: -1,
		preferred: cfg.Node, lease: newLease(m, cfg.Node)}
	r.lease.quiesced.Store(true)
	if len(cfg.Peers) > 0 {
		r.preferred = cfg.Peers[0]
	}
	r.rs = &raftStorage{key: cfg.Key, eng: m.eng, log: l, kind: cfg.Kind, peers: cfg.Peers, r: r}
	if r.rs.snap, err = m.storedSnap(cfg.Key); err != nil {
		return nil, err
	}
	hs, hsKnown, err := m.eng.HardState(cfg.Key)
	if err != nil {
		return nil, err
	}
	r.hs = hs
	applied := uint64(hs.Commit)
	ci, cs, ok, err := m.storedConf(cfg.Key)
	if err != nil {
		return nil, err
	}
	if ok {
		r.conf, r.confIndex = cs, ci
		r.cfg.Peers = members(cs)
		r.rs.peers, r.rs.conf = r.cfg.Peers, cs
	}
	// A new group's first members write its configuration as its first
	// entries (raft's Bootstrap), so that a replica added later learns
	// every member from the log; a joining replica starts with none.
	fresh := !ok && !hsKnown && l.LastIndex() == 0
	if fresh || (cfg.Join && !ok) {
		r.rs.conf = &pb.ConfState{}
	}
	if last := m.lastConfAppended(cfg.Key); last > ci && uint64(last) <= applied {
		// A configuration entry may have committed without its
		// configuration stored: apply again from the stored one.
		applied = uint64(max(ci, l.FirstIndex()-1))
	}
	if cfg.Kind == KindMeta {
		// A metadata group rebuilds its state machine from its last
		// snapshot, if any, and replays the log after it: raft hands
		// every committed entry after the snapshot to Apply again.
		applied = 0
		if snap := r.rs.snap; snap != nil && cfg.Restore != nil {
			if err := cfg.Restore(snap.index, snap.data); err != nil {
				return nil, fmt.Errorf("partition %s: restoring snapshot at %d: %w", cfg.Key, snap.index, err)
			}
			// Never past the commit raft restarts with (entries up to
			// it are applied again and refused by the state as old).
			applied = min(uint64(snap.index), uint64(hs.Commit))
		}
	}
	if applied > 0 && applied < uint64(l.FirstIndex()) {
		// Retention removed everything up to the commit index (or a
		// snapshot installed replaced the log up to it).
		applied = uint64(l.FirstIndex()) - 1
		r.hw = l.StartOffset()
	} else if applied > 0 {
		h, err := r.header(model.Index(applied))
		if err != nil {
			return nil, fmt.Errorf("partition %s: high watermark at commit %d: %w", cfg.Key, applied, err)
		}
		r.hw = h.NextOffset()
	} else {
		r.hw = l.StartOffset()
	}
	rn, err := raft.NewRawNode(&raft.Config{
		ID:                        raftID(cfg.Node),
		ElectionTick:              ElectionTicks,
		HeartbeatTick:             1,
		Storage:                   r.rs,
		Applied:                   applied,
		AsyncStorageWrites:        true,
		MaxSizePerMsg:             1 << 20,
		MaxCommittedSizePerReady:  16 << 20,
		MaxUncommittedEntriesSize: cfg.MaxUncommittedBytes,
		MaxInflightMsgs:           256,
		CheckQuorum:               len(r.cfg.Peers) > 1 || cfg.Join,
		PreVote:                   true,
		StepDownOnRemoval:         true,
		// A data group never forwards a proposal: a batch is stamped with
		// its offset and epoch by the leader that proposes it, and one
		// that lost the lead in the same loop pass (before its role was
		// updated) would otherwise forward its stamped batch to the new
		// leader, which appends it with a stale base offset (chaos seed
		// 7: "entry 786 base offset 783, log expects 790"). Dropped, the
		// proposal fails with ErrNotLeader and the client retries.
		// Controller commands are opaque and may be forwarded.
		DisableProposalForwarding: cfg.Kind == KindData,
		Logger:                    raftLogger{r.logg},
	})
	if err != nil {
		return nil, fmt.Errorf("partition %s: raft: %w", cfg.Key, err)
	}
	r.rn = rn
	r.applied = model.Index(applied)
	if fresh && !cfg.Join {
		peers := make([]raft.Peer, 0, len(r.cfg.Peers))
		for _, p := range r.cfg.Peers {
			peers = append(peers, raft.Peer{ID: raftID(p)})
		}
		if err := rn.Bootstrap(peers); err != nil {
			return nil, fmt.Errorf("partition %s: bootstrap: %w", cfg.Key, err)
		}
	}
	if cfg.Kind == KindData {
		if err := r.loadProducers(); err != nil {
			return nil, fmt.Errorf("partition %s: producer state: %w", cfg.Key, err)
		}
	}
	if v, ok := m.eng.Get(startKey(cfg.Key)); ok && len(v) == 8 {
		r.start = model.Offset(binary.BigEndian.Uint64(v))
	}
	r.tail = l.NextOffset()
	r.appendLast, r.appendNext = l.LastIndex(), l.NextOffset()
	r.publish()
	peers := r.cfg.Peers
	if !cfg.Join && (len(peers) == 1 && peers[0] == cfg.Node || !hsKnown && peers[0] == cfg.Node) {
		// A group of one elects itself; a new group's first (preferred)
		// replica campaigns at once rather than after an election
		// timeout (campaigning is always safe). Raft refuses while
		// configuration entries are unapplied (a new group's first
		// ones): then it campaigns once they are (handleReady).
		r.campaignAt = max(model.Index(len(peers)), hs.Commit, 1)
		if !fresh {
			r.campaignAt = max(hs.Commit, 1)
		}
	}
	r.wake() // a group with peers ticks until it has a leader and goes idle
	r.markDirty()
	return r, nil
}

// header reads the header of entry i of the log.
func (r *Replica) header(i model.Index) (storage.EntryHeader, error) {
	es, err := r.log.Entries(i, i+1, 1)
	if err != nil {
		return storage.EntryHeader{}, err
	}
	if len(es) != 1 {
		return storage.EntryHeader{}, fmt.Errorf("entry %d missing: %w", i, model.ErrCorrupt)
	}
	return es[0].EntryHeader, nil
}

// Key is the partition's key. Any goroutine.
func (r *Replica) Key() model.PartitionKey { return r.cfg.Key }

// State returns the latest published read state. Any goroutine.
func (r *Replica) State() *ReadState { return r.state.Load() }

// Produce proposes one validated record batch (magic 2, CRC checked) of
// a KindData group. The leader stamps its base offset and leader epoch in
// place; done runs on the shard once the batch is committed (its offsets
// are below the high watermark) or lost. The batch must stay untouched
// by the caller until done runs.
func (r *Replica) Produce(batch []byte, done func(ProduceResult)) {
	if err := r.usable(); err != nil {
		done(ProduceResult{Err: err})
		return
	}
	b, rest, err := model.ParseBatch(batch)
	if err != nil || len(rest) != 0 || b.LastOffsetDelta() < 0 {
		done(ProduceResult{Err: fmt.Errorf("partition %s: not one batch: %w", r.cfg.Key, model.ErrCorrupt)})
		return
	}
	pid, count := b.ProducerID(), b.LastOffsetDelta()+1
	if pid >= 0 {
		d, err := r.producers.Check(pid, b.ProducerEpoch(), b.BaseSequence(), count)
		if err != nil {
			done(ProduceResult{Err: err})
			return
		}
		if d.Kind == producers.Duplicate {
			// A retry of a batch already appended: answer with its
			// original offsets once that batch is committed.
			o := d.Original
			if o.LastOffset < r.hw {
				done(ProduceResult{BaseOffset: o.FirstOffset})
			} else {
				r.dups = append(r.dups, dupWaiter{base: o.FirstOffset, last: o.LastOffset, done: done})
			}
			return
		}
	}
	r.wake()
	base := r.tail
	b.SetBaseOffset(base)
	b.SetLeaderEpoch(r.term.LeaderEpoch())
	if err := r.rn.Propose(batch); err != nil {
		done(ProduceResult{Err: r.proposeErr(err)})
		return
	}
	r.tail = base + model.Offset(count)
	if pid >= 0 {
		r.producers.Append(pid, b.ProducerEpoch(), b.BaseSequence(), producers.NextSeq(b.BaseSequence(), count-1),
			base, r.tail-1, b.MaxTimestamp())
	}
	done = failpoint.CallEarly("kafka/ack-before-commit", done, ProduceResult{BaseOffset: base}) // failpoint: ack before the commit (negative control)
	r.waiters = append(r.waiters, waiter{base: base, term: r.term, done: done})
	r.markDirty()
}

// Propose proposes an opaque command of a KindMeta group; Config.Apply
// sees it once committed (commands carry their own ids to match).
//
// A follower forwards the command to its leader (raft's proposal
// forwarding); it can be lost on the way, so the proposer waits with a
// deadline and retries.
func (r *Replica) Propose(data []byte) error {
	if err := r.usable(); err != nil && !(errors.Is(err, ErrNotLeader) && r.cfg.Kind == KindMeta) {
		return err
	}
	r.wake()
	if err := r.rn.Propose(data); err != nil {
		return r.proposeErr(err)
	}
	r.markDirty()
	return nil
}

func (r *Replica) usable() error {
	switch {
	case r.removed:
		return ErrRemoved
	case r.m.err != nil:
		return fmt.Errorf("%w: %v", ErrStorage, r.m.err)
	case !r.leader:
		return ErrNotLeader
	}
	return nil
}

func (r *Replica) proposeErr(err error) error {
	if errors.Is(err, raft.ErrProposalDropped) {
		if r.rn.BasicStatus().RaftState != raft.StateLeader {
			return ErrNotLeader
		}
		return ErrOverloaded
	}
	return err
}

func (r *Replica) markDirty() {
	if !r.dirty {
		r.dirty = true
		r.m.dirty = append(r.m.dirty, r)
	}
}

// handleReady takes the replica's Ready: appends go to the engine (their
// responses wait for the round), committed entries are applied now.
func (r *Replica) handleReady() error {
	rd := r.rn.Ready()
	if rd.SoftState != nil {
		r.setRole(rd.SoftState.RaftState == raft.StateLeader)
		if lead := r.leaderID(); lead != r.lead {
			r.lead = lead
			r.publish()
		}
	}
	for _, m := range rd.Messages {
		switch m.GetTo() {
		case raft.LocalAppendThread:
			if err := r.stageAppend(m); err != nil {
				return err
			}
		case raft.LocalApplyThread:
			r.apply(m.Entries)
			for _, resp := range m.Responses {
				r.deliver(resp)
			}
		default:
			r.m.queue(r, m)
		}
	}
	return r.maybeCampaign()
}

// maybeCampaign campaigns once the entries up to campaignAt are applied
// (raft refuses while committed configuration entries are not).
func (r *Replica) maybeCampaign() error {
	if r.campaignAt == 0 || r.rn.BasicStatus().Applied < uint64(r.campaignAt) {
		return nil
	}
	r.campaignAt = 0
	if err := r.rn.Campaign(); err != nil {
		return fmt.Errorf("campaign: %w", err)
	}
	r.markDirty()
	return nil
}

func (r *Replica) setRole(leader bool) {
	if leader == r.leader {
		return
	}
	r.leader, r.ready = leader, false
	r.isr, r.caughtUp = nil, nil
	if leader {
		r.term = model.Term(r.rn.BasicStatus().GetTerm())
		r.logg.Debug("leader", "term", r.term)
		r.lease.reset(time.Now())
		r.leaseVoters()
		// The next offset follows the whole log this replica holds (its
		// entries, staged or written, are the group's from now on).
		r.tail = r.appendNext
		if r.cfg.Kind == KindData && r.multi() {
			// Followers do not track producers: rebuild from the log,
			// which holds every batch the new leader will commit.
			if err := r.loadProducers(); err != nil {
				r.logg.Error("rebuilding producer state as new leader", "err", err)
			}
		}
	} else {
		r.failWaiters(ErrNotLeader)
	}
	r.publish()
}

func (r *Replica) stageAppend(m *pb.Message) error {
	if m.Snapshot != nil && m.Snapshot.Metadata != nil && m.Snapshot.Metadata.GetIndex() > 0 {
		if err := r.installSnap(m.Snapshot); err != nil {
			return err
		}
	}
	if len(m.Entries) > 0 {
		first := model.Index(m.Entries[0].GetIndex())
		next := r.appendNext
		if first <= r.appendLast {
			// A new leader's entries replace the end of the log.
			var err error
			if next, err = r.offsetAfter(first - 1); err != nil {
				return err
			}
		}
		buf, end, err := appendStorage(r.m.scratch[:0], r.cfg.Kind, m.Entries, next)
		r.m.scratch = buf[:0]
		if err != nil {
			return err
		}
		if err := r.m.eng.Append(r.cfg.Key, buf); err != nil {
			return err
		}
		if err := r.noteConfEntries(m.Entries); err != nil {
			return err
		}
		failpoint.Inject("raft/before-hardstate") // crash point: entries staged in memory, hard state not yet
		r.rs.remember(m.Entries)
		r.appendLast = model.Index(m.Entries[len(m.Entries)-1].GetIndex())
		r.appendNext = end
		if !r.leader {
			r.tail = end
		}
	}
	if m.Term != nil {
		hs := engine.HardState{Term: model.Term(m.GetTerm()), Vote: model.NodeID(m.GetVote()), Commit: model.Index(m.GetCommit())}
		if len(m.Entries) == 0 && hs.Term == r.hs.Term && hs.Vote == r.hs.Vote {
			// Only the commit index moved. Raft does not need it durable
			// (it is recomputed after a restart, and the engine caps it
			// anyway), so it does not start a sync round of its own: it
			// rides with the next round that writes something.
			r.hs = hs
			if !r.hsLazy {
				r.hsLazy = true
				r.m.lazy = append(r.m.lazy, r)
			}
		} else {
			if err := r.m.eng.SetHardState(r.cfg.Key, hs); err != nil {
				return err
			}
			r.hs, r.hsLazy = hs, false
		}
	}
	if len(m.Responses) > 0 {
		r.m.held = append(r.m.held, held{r: r, msgs: m.Responses})
	}
	return nil
}

// apply runs committed entries: a data group's high watermark moves and
// its waiters complete; a meta group hands commands to Config.Apply.
func (r *Replica) apply(ents []*pb.Entry) {
	type committed struct {
		base model.Offset
		term model.Term
	}
	var done []committed
	moved := false
	for _, e := range ents {
		if r.leader && !r.ready && model.Term(e.GetTerm()) == r.term {
			// An entry of our own term committed: every entry before it
			// is committed too, so the high watermark is complete and
			// reads may be served (a new leader's commit index, and a
			// restarted node's, can lag what was acknowledged).
			r.ready = true
			moved = true
		}
		if t := e.GetType(); t == pb.EntryConfChange || t == pb.EntryConfChangeV2 {
			if err := r.applyConf(e); err != nil {
				r.m.fail(fmt.Errorf("partition %s: %w", r.cfg.Key, err))
				return
			}
			continue
		}
		if e.GetType() != pb.EntryNormal || len(e.Data) == 0 {
			continue
		}
		if r.cfg.Kind == KindMeta {
			if r.cfg.Apply != nil {
				r.cfg.Apply(model.Index(e.GetIndex()), e.Data)
			}
			continue
		}
		if before, ok := parseStartEntry(e.Data); ok {
			if err := r.applyStart(before); err != nil {
				r.m.fail(fmt.Errorf("partition %s: log start: %w", r.cfg.Key, err))
				return
			}
			moved = true
			continue
		}
		b, _, err := model.ParseBatch(e.Data)
		if err != nil {
			r.logg.Error("committed entry is not a batch", "index", e.GetIndex(), "err", err)
			continue
		}
		base, end := b.BaseOffset(), b.BaseOffset()+model.Offset(b.LastOffsetDelta())+1
		if end > r.hw {
			r.hw = end
			moved = true
		}
		done = append(done, committed{base, model.Term(e.GetTerm())})
	}
	if len(ents) > 0 {
		last := ents[len(ents)-1]
		r.applied = model.Index(last.GetIndex())
		r.rs.forget(last.GetIndex())
		if err := r.maybeSnapshot(model.Index(last.GetIndex()), model.Term(last.GetTerm())); err != nil {
			r.m.fail(fmt.Errorf("partition %s: snapshot: %w", r.cfg.Key, err))
			return
		}
	}
	if r.leader && r.multi() && len(ents) > 0 {
		r.updateISR()
	}
	if !moved && len(done) == 0 {
		return
	}
	// Publish first: a client that hears its batch is committed must see
	// the new high watermark in its next request.
	r.publish()
	for _, c := range done {
		r.complete(c.base, c.term)
	}
	r.completeDups()
}

// complete finishes the waiters up to the committed batch at base: an
// earlier waiter's batch was lost (a leader change replaced it).
func (r *Replica) complete(base model.Offset, term model.Term) {
	n := 0
	for _, w := range r.waiters {
		if w.base > base {
			break
		}
		n++
		if w.base == base && w.term == term {
			w.done(ProduceResult{BaseOffset: base})
		} else {
			w.done(ProduceResult{Err: ErrNotLeader})
		}
	}
	if n > 0 {
		r.waiters = append(r.waiters[:0], r.waiters[n:]...)
	}
}

func (r *Replica) failWaiters(err error) {
	ws, ds := r.waiters, r.dups
	r.waiters, r.dups = nil, nil
	for _, w := range ws {
		w.done(ProduceResult{Err: err})
	}
	for _, d := range ds {
		d.done(ProduceResult{Err: err})
	}
}

func (r *Replica) deliver(m *pb.Message) {
	if m.GetTo() != raftID(r.cfg.Node) {
		// A response for a peer (an append or vote acknowledgement) that
		// could go only once the write was durable.
		r.m.queue(r, m)
		return
	}
	if err := r.rn.Step(m); err != nil {
		r.logg.Debug("step", "type", m.GetType().String(), "err", err)
	}
	r.markDirty()
}

// publish replaces the read state; readers waiting on the old one wake.
func (r *Replica) publish() {
	v := r.log.View()
	epoch := r.term.LeaderEpoch()
	if !r.leader && r.lead >= 0 {
		// A follower's term is its leader's.
		epoch = model.Term(r.rn.BasicStatus().GetTerm()).LeaderEpoch()
	}
	st := &ReadState{
		View:          v,
		HighWatermark: r.hw,
		LogStart:      v.StartOffset(),
		LogEnd:        v.NextOffset(),
		LeaderEpoch:   epoch,
		Leader:        r.leader && r.ready,
		LeaderID:      r.lead,
		changed:       make(chan struct{}),
	}
	if st.Leader {
		st.LeaderID = r.cfg.Node
		st.Lease = r.lease
		st.ISR = r.isr
		if !r.multi() {
			st.ISR = []model.NodeID{r.cfg.Node}
		}
	}
	if r.start > st.LogStart {
		st.LogStart = r.start
	}
	if st.HighWatermark < st.LogStart {
		st.HighWatermark = st.LogStart
	}
	old := r.state.Swap(st)
	if old != nil {
		close(old.changed)
	}
}

// completeDups answers the retried batches whose originals are now
// committed.
func (r *Replica) completeDups() {
	n := 0
	for _, d := range r.dups {
		if d.last < r.hw {
			d.done(ProduceResult{BaseOffset: d.base})
			continue
		}
		r.dups[n] = d
		n++
	}
	r.dups = r.dups[:n]
}
