package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/storage/journal"
	"github.com/petrel-streaming/petrel/internal/storage/kv"
)

// ErrResetBelowCommit is returned by Reset for a snapshot below the
// partition's commit index (durable, in flight or staged): the log would
// lose committed entries (Raft never installs such a snapshot).
var ErrResetBelowCommit = errors.New("engine: reset below the commit index")

// resetOp is a pending log reset: the log becomes empty and restarts at
// index, whose Kafka offset is offset (the reset's next index and offset).
type resetOp = logStart

const resetKeyPrefix = "reset/"

// resetKey holds the partition's last reset (next index, next offset): in a
// round's kv record it is the reset itself (doc.go, "Reset"); in the map it
// gives the log its StartOffset on open.
func resetKey(k model.PartitionKey) string { return resetKeyPrefix + k.String() }

// lastReset is the partition's last durable reset (zero if none): its
// offset is the Kafka offset of a log that holds no entry, the log's
// StartOffset option.
func (e *Engine) lastReset(k model.PartitionKey) resetOp {
	if b, ok := e.kv.Get(resetKey(k)); ok {
		if rs, err := decodeLogStart(b); err == nil {
			return rs
		}
	}
	return resetOp{}
}

// Reset stages the replacement of a partition's log by an empty one that
// starts at index next with Kafka offset nextOffset (installing a Raft
// snapshot whose index is next-1; next may lie anywhere, below the log's
// end too). It discards the partition's staged entries, truncations and
// start index; its staged hard state stays, and is written with the reset.
// The next round makes the reset durable atomically with the round's
// metadata: after it, FirstIndex is next, LastIndex next-1, StartOffset and
// NextOffset nextOffset, and DurableIndex next-1. Entries appended after
// Reset must start at next.
//
// Reset does not touch the hard state: stage SetHardState in the same
// round (its commit index is then capped at next-1). A reset at or below
// the commit index of a hard state, durable or in flight or staged, is
// refused (ErrResetBelowCommit).
func (e *Engine) Reset(key model.PartitionKey, next model.Index, nextOffset model.Offset) error {
	p, err := e.known(key)
	if err != nil {
		return err
	}
	if p.removing {
		return fmt.Errorf("%w: %s is being removed", ErrUnknownPartition, key)
	}
	next = max(next, 1)
	// p.commit is the highest commit index durable, in flight or staged:
	// the reset's round would write a staged or later one capped at
	// next-1, a commit index going back. Raft installs a snapshot only
	// above its commit index, so this refuses only a caller's bug.
	if p.commit >= next {
		return fmt.Errorf("%w: %s reset to %d, commit index %d", ErrResetBelowCommit, key, next, p.commit)
	}
	p.staged = p.staged[:0]
	p.stagedLast = next - 1
	p.truncFrom, p.startPending = 0, 0
	p.reset = &resetOp{index: next, offset: nextOffset}
	p.floor = next
	e.queue(p)
	return nil
}

// resetOps are the metadata updates of the round's resets: each partition's
// start index, its reset and its staged hard state, whose commit index is
// capped at the reset's last index (which the same record makes durable).
func resetOps(r *Round) []kv.Op {
	var ops []kv.Op
	for _, p := range r.resets {
		rs := *p.reset
		ops = append(ops,
			kv.Op{Key: startIndexKey(p.key), Value: rs.appendTo(nil)},
			kv.Op{Key: resetKey(p.key), Value: rs.appendTo(nil)})
		if p.hs != nil {
			hs := *p.hs
			hs.Commit = min(hs.Commit, rs.index-1)
			ops = append(ops, kv.Op{Key: hardStateKey(p.key), Value: hs.appendTo(nil)})
		}
	}
	return ops
}

// startReset moves a partition's reset into the round once the round's kv
// record (seq kvSeq), which carries it, is added: the entries staged after
// the reset follow that record in the journal, and the reset and entries
// reach the segments only when the round is durable (FinishRound), as a
// truncation does. Entries beyond one record's bound, or that find the
// journal full, stay staged for a later round.
func (e *Engine) startReset(r *Round, p *part, kvSeq uint64) error {
	rs := *p.reset
	p.reset, p.hs = nil, nil
	p.live = kvSeq // no direct write while the reset is in the journal
	last := rs.index - 1
	var entries []byte
	if len(p.staged) > 0 {
		entries = prefixUpTo(p.staged, e.maxEntriesRecord())
		seq, err := e.j.Add(journal.Record{Kind: kindEntries, Key: p.key, Payload: entries})
		switch {
		case errors.Is(err, journal.ErrFull):
			e.blocked = true
			entries = nil
		case err != nil:
			return err
		default:
			p.live = seq
			if _, last, err = span(entries); err != nil {
				return fmt.Errorf("engine: append to %s: %w", p.key, err)
			}
			// The round keeps the entries' bytes; later staging gets a
			// buffer of its own.
			if rest := p.staged[len(entries):]; len(rest) > 0 {
				p.staged = append([]byte(nil), rest...)
			} else {
				p.staged = nil
			}
			r.jBytes += int64(len(entries))
			r.bytes += int64(len(entries))
		}
	}
	r.deferred = append(r.deferred, deferredWrite{p: p, reset: &rs, entries: entries, last: last})
	p.inflight++
	p.inflightLast = last
	if len(p.staged) > 0 || p.startPending != 0 {
		e.queue(p)
	}
	return nil
}

// resetRecord is a durable reset found in the journal: the kv record at seq.
type resetRecord struct {
	seq uint64
	op  resetOp
}

// resetsIn returns the resets a kv batch carries, by partition.
func resetsIn(ops []kv.Op, seq uint64, into map[model.PartitionKey]resetRecord) error {
	for _, op := range ops {
		name, ok := strings.CutPrefix(op.Key, resetKeyPrefix)
		if !ok || op.Delete {
			continue
		}
		k, err := parsePartitionDir(name)
		if err != nil {
			return fmt.Errorf("reset key %q: %w", op.Key, model.ErrCorrupt)
		}
		rs, err := decodeLogStart(op.Value)
		if err != nil {
			return err
		}
		into[k] = resetRecord{seq: seq, op: rs}
	}
	return nil
}
