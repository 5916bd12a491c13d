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

// logStart is a partition's log start as the engine persists it: the first
// index and the Kafka offset at it (the log's Options.StartIndex and
// StartOffset), written whenever the start moves (SetStartIndex,
// retention, Reset) in the kv record of the round that moves it. A reset
// is the same pair: the index and offset the emptied log restarts at.
type logStart struct {
	index  model.Index
	offset model.Offset
}

const logStartSize = 16

func (ls logStart) appendTo(dst []byte) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ls.index))
	return binary.LittleEndian.AppendUint64(dst, uint64(ls.offset))
}

func decodeLogStart(b []byte) (logStart, error) {
	if len(b) != logStartSize {
		return logStart{}, fmt.Errorf("engine: start value of %d bytes: %w", len(b), model.ErrCorrupt)
	}
	return logStart{
		index:  model.Index(binary.LittleEndian.Uint64(b)),
		offset: model.Offset(binary.LittleEndian.Uint64(b[8:])),
	}, nil
}

// logStart reads the persisted start. A value of 8 bytes (the start index
// alone) was written before the offset was kept: its offset is the last
// reset's, what the log was opened with then.
func (e *Engine) logStart(k model.PartitionKey) logStart {
	b, ok := e.kv.Get(startIndexKey(k))
	switch {
	case ok && len(b) == logStartSize:
		ls, _ := decodeLogStart(b)
		return ls
	case ok && len(b) == 8:
		return logStart{index: model.Index(binary.LittleEndian.Uint64(b)), offset: e.lastReset(k).offset}
	}
	return logStart{offset: e.lastReset(k).offset}
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
	p.commit = max(p.commit, hs.Commit)
	e.queue(p)
	return nil
}

// SetStartIndex stages a new logical start for the partition (DeleteRecords,
// snapshots), at most its last index (staged entries included) + 1: durable
// with its Kafka offset in a later round, after which whole segments below
// it are removed. A start at or below one already asked for is ignored.
func (e *Engine) SetStartIndex(key model.PartitionKey, start model.Index) error {
	p, err := e.known(key)
	if err != nil {
		return err
	}
	if last := p.lastIndex(); start > last+1 {
		return fmt.Errorf("engine: start index %d of %s past its last index %d: %w", start, key, last, storage.ErrIndexOutOfRange)
	}
	e.stageStart(p, start)
	return nil
}

func (e *Engine) stageStart(p *part, start model.Index) {
	if p.reset != nil && start <= p.reset.index {
		return // the reset starts the log there anyway
	}
	if start > p.startPending {
		p.startPending = start
		e.queue(p)
	}
}

// Remove stages the deletion of a partition: after the next round its
// files are gone and its journal records are never replayed.
func (e *Engine) Remove(key model.PartitionKey) error {
	p, err := e.known(key)
	if err != nil {
		return err
	}
	p.removing, p.startPending = true, 0
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
		return p.reset.index - 1
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
// caller's committed index) nor one not yet durable. It stages the new
// start as SetStartIndex does and returns how many segments go once a
// round has made that start durable: a segment is never removed before the
// start past it is persisted, or a crash could leave a log whose first
// entries' offsets nothing on disk records. While a reset is staged or in
// flight it does nothing (the log is being replaced).
func (e *Engine) Retain(key model.PartitionKey, policy storage.RetentionPolicy, limit model.Index) (int, error) {
	p, err := e.known(key)
	if err != nil {
		return 0, err
	}
	if p.reset != nil || p.inflight > 0 {
		return 0, nil
	}
	start, n, err := p.log.RetentionStart(policy, min(limit, p.durable))
	if err != nil {
		return 0, e.fail(fmt.Errorf("engine: retention of %s: %w", key, err))
	}
	if n > 0 {
		e.stageStart(p, start)
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
