package partition

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/shard"
	"github.com/petrel-streaming/petrel/internal/storage/engine"
)

// ErrExists: Open of a partition the manager already holds.
var ErrExists = errors.New("partition: already open")

// held are storage-append responses waiting for the round that makes
// their writes durable.
type held struct {
	r    *Replica
	msgs []*pb.Message
}

// round is a sync round in flight and the responses it releases.
type round struct {
	r      *engine.Round
	held   []held
	waited bool
	err    error
}

// Manager drives the Raft groups of one shard over the shard's storage
// engine: it is the shard's Loop. After every batch of inbox messages it
// takes each dirty group's Ready, stages every group's appends and hard
// states into the engine, and starts one sync round for all of them on a
// helper goroutine; the next round may start while one is in flight (the
// engine bounds them). When a round ends (rounds end in order), the
// groups it carried hear that their writes are durable, commit, and their
// waiting produce requests complete. It lives on its shard: every method is
// owner-only.
type Manager struct {
	eng      *engine.Engine
	logger   *slog.Logger
	replicas map[model.PartitionKey]*Replica
	dirty    []*Replica
	held     []held     // responses whose writes are staged, not yet in a round
	lazy     []*Replica // commit-only hard states waiting for a round
	rounds   []*round   // in flight, oldest first
	err      error
	scratch  []byte
	// Cluster: how to reach peers, the messages waiting for them, the
	// groups that need ticks (not quiesced) and their count.
	peers   Peers
	outbox  map[model.NodeID][]Outbound
	ticking map[*Replica]struct{}
	active  atomic.Int64
	// live is peers.Live for any goroutine (leases read it).
	live atomic.Pointer[func(model.NodeID) bool]
	// Rounds counts finished sync rounds (tests, stats).
	Rounds uint64
}

// NewManager returns the manager of a shard's engine.
func NewManager(eng *engine.Engine, logger *slog.Logger) *Manager {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{eng: eng, logger: logger, replicas: make(map[model.PartitionKey]*Replica)}
}

// Open creates or recovers a replica on this shard.
func (m *Manager) Open(cfg Config) (*Replica, error) {
	if m.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, m.err)
	}
	if _, ok := m.replicas[cfg.Key]; ok {
		return nil, fmt.Errorf("partition %s: %w", cfg.Key, ErrExists)
	}
	r, err := newReplica(m, cfg)
	if err != nil {
		return nil, err
	}
	m.replicas[cfg.Key] = r
	return r, nil
}

// Replica returns an open replica, or nil.
func (m *Manager) Replica(key model.PartitionKey) *Replica { return m.replicas[key] }

// Len is the number of open replicas.
func (m *Manager) Len() int { return len(m.replicas) }

// Remove deletes a partition: its waiters fail with ErrRemoved and its
// files go with the next round.
func (m *Manager) Remove(key model.PartitionKey) error {
	r := m.replicas[key]
	if r != nil {
		r.removed = true
		r.failWaiters(ErrRemoved)
		m.setQuiesced(r, true)
		delete(m.replicas, key)
	}
	for _, k := range []string{startKey(key), confKey(key), confAppendKey(key), snapKey(key)} {
		if _, ok := m.eng.Get(k); ok {
			if err := m.eng.Delete(k); err != nil {
				return err
			}
		}
	}
	return m.eng.Remove(key)
}

// Err is the storage error that stopped the shard, if any.
func (m *Manager) Err() error { return m.err }

// AfterBatch implements shard.Loop.
func (m *Manager) AfterBatch(s *shard.Shard) {
	defer m.flushOutbox()
	if m.err != nil || m.eng.InFlight() >= m.maxRounds() {
		return
	}
	for pass := 0; ; pass++ {
		m.takeReady()
		if m.err != nil {
			return
		}
		if m.eng.CanStart() {
			break
		}
		if len(m.held) == 0 || pass == 64 {
			if len(m.dirty) > 0 {
				// Still work: come back in the next iteration rather
				// than sleep on dirty groups.
				_ = s.Send(s.ID(), func(*shard.Shard) {})
			}
			if len(m.rounds) == 0 {
				m.eng.Idle()
			}
			return
		}
		if len(m.rounds) > 0 {
			// Responses with nothing to write (a pre-vote, an append
			// already staged in a round in flight): they go when the
			// newest round in flight ends, as every earlier write is
			// durable then.
			last := m.rounds[len(m.rounds)-1]
			last.held = append(last.held, m.takeHeld()...)
			return
		}
		// Nothing in flight and nothing to write: every earlier write is
		// durable, so they go now, and may make their groups ready again.
		m.deliverHeld(m.takeHeld())
	}
	m.flushLazy()
	r, err := m.eng.StartRound()
	if err != nil {
		m.fail(err)
		return
	}
	rd := &round{r: r}
	if !m.eng.Blocked() {
		// A blocked round left metadata or partitions staged: their
		// responses, which cannot be told apart, wait for a later round.
		rd.held = m.takeHeld()
	}
	m.rounds = append(m.rounds, rd)
	finish := func(*shard.Shard) {
		rd.waited = true
		m.finishRounds()
	}
	if err := s.Go(func() { rd.err = r.Wait() }, finish); err != nil {
		// No room for a helper: wait here (a shard at its pending bound).
		rd.err = r.Wait()
		finish(s)
	}
}

func (m *Manager) maxRounds() int { return m.eng.MaxRoundsInFlight() }

// takeHeld removes and returns the held responses whose partitions have
// nothing staged any more: their writes are in a round started by now.
func (m *Manager) takeHeld() []held {
	var out []held
	keep := m.held[:0]
	for _, h := range m.held {
		if !h.r.removed && m.eng.Staged(h.r.cfg.Key) {
			keep = append(keep, h)
		} else {
			out = append(out, h)
		}
	}
	clear(m.held[len(keep):])
	m.held = keep
	return out
}

// finishRounds finishes, in order, the rounds whose waits are done.
func (m *Manager) finishRounds() {
	for len(m.rounds) > 0 && m.rounds[0].waited {
		rd := m.rounds[0]
		m.rounds[0] = nil
		m.rounds = m.rounds[1:]
		res := m.eng.FinishRound(rd.r)
		m.Rounds++
		for _, key := range res.Started {
			// The log start moved (retention, DeleteRecords' segments,
			// compaction): readers see the new start now.
			if r := m.replicas[key]; r != nil && !r.removed {
				r.publish()
			}
		}
		if rd.err != nil {
			m.fail(rd.err)
			return
		}
		if err := m.eng.Err(); err != nil {
			m.fail(err)
			return
		}
		m.deliverHeld(rd.held)
	}
}

// Idle implements shard.Loop.
func (m *Manager) Idle() bool {
	return len(m.rounds) == 0 && (m.err != nil || (len(m.dirty) == 0 && !m.eng.Pending()))
}

func (m *Manager) takeReady() {
	// Applying entries may make a group dirty again (and new groups may
	// be marked): loop a bounded number of passes.
	for pass := 0; pass < 4 && len(m.dirty) > 0; pass++ {
		dirty := m.dirty
		m.dirty = nil
		for _, r := range dirty {
			r.dirty = false
			if r.removed {
				continue
			}
			for i := 0; i < 4 && r.rn.HasReady(); i++ {
				if err := r.handleReady(); err != nil {
					m.fail(fmt.Errorf("partition %s: %w", r.cfg.Key, err))
					return
				}
			}
			if r.rn.HasReady() {
				r.markDirty() // more than 4 Readys: the rest next pass, not forgotten
			}
			if err := r.maybeCampaign(); err != nil {
				m.fail(fmt.Errorf("partition %s: %w", r.cfg.Key, err))
				return
			}
		}
	}
}

func (m *Manager) deliverHeld(hs []held) {
	touched := make(map[*Replica]struct{}, len(hs))
	for _, h := range hs {
		if h.r.removed {
			continue
		}
		for _, msg := range h.msgs {
			h.r.deliver(msg)
		}
		touched[h.r] = struct{}{}
	}
	for r := range touched {
		if m.eng.Settled(r.cfg.Key) {
			// Resynchronise with the log (a truncation applied at the
			// end of a round moves it); with work still staged or in
			// flight, staging keeps its own account.
			r.appendLast, r.appendNext = r.log.LastIndex(), r.log.NextOffset()
		}
		r.publish()
	}
}

func (m *Manager) fail(err error) {
	if m.err == nil {
		m.err = err
		m.logger.Error("shard storage failed; its partitions stop serving", "err", err)
		if m.peers.OnFail != nil {
			m.peers.OnFail(err)
		}
	}
	for _, r := range m.replicas {
		r.failWaiters(fmt.Errorf("%w: %v", ErrStorage, err))
		r.publish()
	}
}

// Close closes the engine once no round is in flight (call from the shard
// after Stop drained it, or from the goroutine that owns a stopped shard).
func (m *Manager) Close() error {
	for _, r := range m.replicas {
		r.failWaiters(ErrRemoved)
	}
	return m.eng.Close()
}

// flushLazy stages the commit-only hard states held back, into the round
// about to start.
func (m *Manager) flushLazy() {
	for _, r := range m.lazy {
		if !r.hsLazy || r.removed {
			continue
		}
		r.hsLazy = false
		if err := m.eng.SetHardState(r.cfg.Key, r.hs); err != nil {
			m.fail(fmt.Errorf("partition %s: %w", r.cfg.Key, err))
			return
		}
	}
	m.lazy = m.lazy[:0]
}
