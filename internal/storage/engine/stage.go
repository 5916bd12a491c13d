package engine

import (
	"encoding/binary"
	"fmt"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/storage"
	"github.com/petrel-streaming/petrel/internal/storage/kv"
)

// HardState is a partition's Raft hard state as the engine stores it.
type HardState struct {
	Term   model.Term
	Vote   model.NodeID
	Commit model.Index
}

const hardStateSize = 24

func (h HardState) appendTo(dst []byte) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(h.Term))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(int64(h.Vote)))
	return binary.LittleEndian.AppendUint64(dst, uint64(h.Commit))
}

func decodeHardState(b []byte) (HardState, error) {
	if len(b) != hardStateSize {
		return HardState{}, fmt.Errorf("engine: hard state of %d bytes: %w", len(b), model.ErrCorrupt)
	}
	return HardState{
		Term:   model.Term(binary.LittleEndian.Uint64(b)),
		Vote:   model.NodeID(int64(binary.LittleEndian.Uint64(b[8:]))),
		Commit: model.Index(binary.LittleEndian.Uint64(b[16:])),
	}, nil
}

// Metadata keys the engine keeps per partition in the kv store.
func hardStateKey(k model.PartitionKey) string  { return "hs/" + k.String() }
func startIndexKey(k model.PartitionKey) string { return "start/" + k.String() }

func (e *Engine) startIndex(k model.PartitionKey) model.Index {
	if b, ok := e.kv.Get(startIndexKey(k)); ok && len(b) == 8 {
		return model.Index(binary.LittleEndian.Uint64(b))
	}
	return 0
}

// HardState returns the last durable hard state of a partition.
func (e *Engine) HardState(key model.PartitionKey) (HardState, bool, error) {
	b, ok := e.kv.Get(hardStateKey(key))
	if !ok {
		return HardState{}, false, nil
	}
	h, err := decodeHardState(b)
	return h, err == nil, err
}

// Append stages encoded entries (storage.AppendEntry) for the next round.
// The first entry must follow the partition's last entry, or overlap it:
// entries from an overlapping index on replace what was there (Raft's
// conflict rule; the caller has already matched terms). The bytes are copied.
func (e *Engine) Append(key model.PartitionKey, entries []byte) error {
	if err := e.usable(); err != nil {
		return err
	}
	p, err := e.open(key)
	if err != nil {
		return err
	}
	first, last, err := span(entries)
	if err != nil {
		return fmt.Errorf("engine: append to %s: %w", key, err)
	}
	if first < p.floor {
		return fmt.Errorf("engine: append to %s at index %d below its reset start %d: %w", key, first, p.floor, storage.ErrIndexOutOfRange)
	}
	if prev := p.lastIndex(); first > prev+1 {
		return fmt.Errorf("engine: append to %s at index %d after %d: gap", key, first, prev)
	} else if first <= prev {
		e.truncateStaged(p, first)
	}
	p.staged = append(p.staged, entries...)
	p.stagedLast = last
	e.queue(p)
	return nil
}

// Truncate stages the removal of a partition's entries from index from on.
func (e *Engine) Truncate(key model.PartitionKey, from model.Index) error {
	p, err := e.known(key)
	if err != nil {
		return err
	}
	from = max(from, p.floor) // nothing below a reset's start is left to cut
	if from <= p.lastIndex() {
		e.truncateStaged(p, from)
		e.queue(p)
	}
	return nil
}

// truncateStaged drops staged entries ≥ from and, when from reaches into
// the log itself, stages a suffix truncation.
func (e *Engine) truncateStaged(p *part, from model.Index) {
	if from > p.base() {
		p.staged = cut(p.staged, from)
		p.stagedLast = from - 1
		return
	}
	p.staged = p.staged[:0]
	if p.truncFrom == 0 || from < p.truncFrom {
		p.truncFrom = from
	}
}

// SetHardState stages a partition's hard state. Its commit index is capped
// at the last index durable before the round that writes it (doc.go).
func (e *Engine) SetHardState(key model.PartitionKey, hs HardState) error {
	if err := e.usable(); err != nil {
		return err
	}
	p, err := e.open(key)
	if err != nil {
		return err
	}
	p.hs = &hs
	e.queue(p)
	return nil
}

// SetStartIndex stages a new logical start for the partition (DeleteRecords,
// snapshots): durable in the next round, after which whole segments below
// it are removed.
func (e *Engine) SetStartIndex(key model.PartitionKey, start model.Index) error {
	p, err := e.known(key)
	if err != nil {
		return err
	}
	if p.reset != nil && start <= p.reset.next {
		return nil // the reset starts the log there anyway
	}
	if start > p.startPending {
		p.startPending = start
		e.queue(p)
	}
	return nil
}

// Remove stages the deletion of a partition: after the next round its
// files are gone and its journal records are never replayed.
func (e *Engine) Remove(key model.PartitionKey) error {
	p, err := e.known(key)
	if err != nil {
		return err
	}
	p.removing = true
	e.queue(p)
	return nil
}

// Put stages a metadata update, atomic and durable with the next round.
// Keys and values have the bounds of package kv.
func (e *Engine) Put(key string, value []byte) error {
	return e.stageKV(kv.Op{Key: key, Value: append([]byte(nil), value...)})
}

// Delete stages the removal of a metadata key.
func (e *Engine) Delete(key string) error { return e.stageKV(kv.Op{Key: key, Delete: true}) }

func (e *Engine) stageKV(op kv.Op) error {
	if err := e.usable(); err != nil {
		return err
	}
	if err := op.Check(); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	e.kvOps = append(e.kvOps, op)
	return nil
}

// Get reads durable metadata.
func (e *Engine) Get(key string) ([]byte, bool) { return e.kv.Get(key) }

func (e *Engine) queue(p *part) {
	if !p.queued {
		p.queued = true
		e.staged = append(e.staged, p)
	}
}

// base is the partition's last index once the truncations staged or in
// flight are applied, not counting staged entries.
func (p *part) base() model.Index {
	switch {
	case p.reset != nil:
		return p.reset.next - 1
	case p.truncFrom != 0:
		return p.truncFrom - 1
	case p.inflight > 0:
		return p.inflightLast
	}
	return p.log.LastIndex()
}

// lastIndex is the partition's last index counting staged work.
func (p *part) lastIndex() model.Index {
	if len(p.staged) > 0 {
		return p.stagedLast
	}
	return p.base()
}

// span walks encoded entries and returns their first and last index,
// checking that they are contiguous.
func span(b []byte) (first, last model.Index, err error) {
	for len(b) > 0 {
		h, _, rest, err := storage.DecodeEntryHeader(b)
		if err != nil {
			return 0, 0, err
		}
		if first == 0 {
			first = h.Index
		} else if h.Index != last+1 {
			return 0, 0, fmt.Errorf("entry %d after %d: %w", h.Index, last, model.ErrCorrupt)
		}
		last = h.Index
		b = rest
	}
	if first == 0 {
		return 0, 0, fmt.Errorf("no entries: %w", model.ErrShort)
	}
	return first, last, nil
}

// cut returns the prefix of encoded entries b that holds indexes < from.
func cut(b []byte, from model.Index) []byte {
	rest := b
	for len(rest) > 0 {
		h, _, next, err := storage.DecodeEntryHeader(rest)
		if err != nil || h.Index >= from {
			break
		}
		rest = next
	}
	return b[:len(b)-len(rest)]
}

// Retain applies a retention policy to a partition: whole closed segments
// are deleted from the front, never one holding an entry past limit (the
// caller's committed index) nor one not yet durable.
func (e *Engine) Retain(key model.PartitionKey, policy storage.RetentionPolicy, limit model.Index) (int, error) {
	p, err := e.known(key)
	if err != nil {
		return 0, err
	}
	n, err := p.log.Retain(policy, min(limit, p.durable))
	if err != nil {
		return n, e.fail(fmt.Errorf("engine: retention of %s: %w", key, err))
	}
	return n, nil
}

// known returns a partition the engine already holds, for the operations
// that must not create one.
func (e *Engine) known(key model.PartitionKey) (*part, error) {
	if err := e.usable(); err != nil {
		return nil, err
	}
	p, ok := e.parts[key]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownPartition, key)
	}
	return p, nil
}
