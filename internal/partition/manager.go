package partition

import (
	"errors"
	"fmt"
	"log/slog"

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

// Manager drives the Raft groups of one shard over the shard's storage
// engine: it is the shard's Loop. After every batch of inbox messages it
// takes each dirty group's Ready, stages every group's appends and hard
// states into the engine, and runs one sync round for all of them on a
// helper goroutine; when the round ends, the groups hear that their
// writes are durable, commit, and their waiting produce requests complete.
// It lives on its shard: every method is owner-only.
type Manager struct {
	eng      *engine.Engine
	logger   *slog.Logger
	replicas map[model.PartitionKey]*Replica
	dirty    []*Replica
	held     []held
	lazy     []*Replica // commit-only hard states waiting for a round
	inFlight bool
	err      error
	scratch  []byte
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
		delete(m.replicas, key)
	}
	return m.eng.Remove(key)
}

// Err is the storage error that stopped the shard, if any.
func (m *Manager) Err() error { return m.err }

// AfterBatch implements shard.Loop.
func (m *Manager) AfterBatch(s *shard.Shard) {
	if m.inFlight || m.err != nil {
		return
	}
	if !m.eng.Pending() {
		// A blocked round leaves work staged: finish it before taking
		// more from Raft, so a group never stages over staged entries.
		for pass := 0; ; pass++ {
			m.takeReady()
			if m.eng.Pending() || m.err != nil {
				break
			}
			if len(m.held) == 0 || pass == 64 {
				if len(m.dirty) > 0 {
					// Still work: come back in the next iteration rather
					// than sleep on dirty groups.
					_ = s.Send(s.ID(), func(*shard.Shard) {})
				}
				m.eng.Idle()
				return
			}
			// Responses with nothing to write (a pre-vote, an append
			// already durable): every earlier write is durable, so they
			// go now, and may make their groups ready again.
			m.deliverHeld()
		}
	}
	if m.err != nil {
		return
	}
	m.flushLazy()
	r, err := m.eng.StartRound()
	if err != nil {
		m.fail(err)
		return
	}
	m.inFlight = true
	var werr error
	finish := func(*shard.Shard) {
		m.inFlight = false
		res := m.eng.FinishRound(r)
		m.Rounds++
		if werr != nil {
			m.fail(werr)
			return
		}
		m.finishRound(res)
	}
	if err := s.Go(func() { werr = r.Wait() }, finish); err != nil {
		// No room for a helper: wait here (a shard at its pending bound).
		werr = r.Wait()
		finish(s)
	}
}

// Idle implements shard.Loop.
func (m *Manager) Idle() bool {
	return !m.inFlight && (m.err != nil || (len(m.dirty) == 0 && !m.eng.Pending()))
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
		}
	}
}

func (m *Manager) finishRound(res engine.Result) {
	if res.Blocked {
		// Staged work is still waiting for journal space: its responses
		// wait for the round that writes it.
		return
	}
	m.deliverHeld()
}

func (m *Manager) deliverHeld() {
	hs := m.held
	m.held = nil
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
		r.appendLast, r.appendNext = r.log.LastIndex(), r.log.NextOffset()
		r.publish()
	}
}

func (m *Manager) fail(err error) {
	if m.err == nil {
		m.err = err
		m.logger.Error("shard storage failed; its partitions stop serving", "err", err)
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
