package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/storage"
	"github.com/petrel-streaming/petrel/internal/storage/journal"
	"github.com/petrel-streaming/petrel/internal/storage/kv"
)

// recover opens every partition found on disk, replays the journal from
// the checkpoint (doc.go, "Recovery"), writes everything behind, and checks
// hard states against the logs.
func (e *Engine) recover(ckpt uint64) error {
	// Pass 1: the journal's metadata, where each partition's replay starts
	// (after its latest barrier or reset) and which partitions were
	// removed. The logs open after it, with the start (index and offset)
	// of the last durable record: a segment goes only once the start past
	// it is durable, so what is left on disk may need it.
	barrier := make(map[model.PartitionKey]uint64)
	removed := make(map[model.PartitionKey]bool)
	resets := make(map[model.PartitionKey]resetRecord)
	err := e.j.Replay(ckpt, func(seq uint64, r journal.Record) error {
		switch r.Kind {
		case kindBarrier:
			barrier[r.Key] = seq
		case kindRemove:
			removed[r.Key] = true
		case kindKV:
			ops, err := kv.DecodeBatch(r.Payload)
			if err == nil {
				err = resetsIn(ops, seq, resets)
			}
			if err != nil {
				return fmt.Errorf("record %d: %w", seq, err)
			}
			e.kv.Apply(ops)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("engine: journal replay: %w", err)
	}
	names, err := e.opts.FS.List(partitionsDir(e.opts.Dir))
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	for _, name := range names {
		key, err := parsePartitionDir(name)
		if err != nil {
			e.opts.Logger.Warn("ignoring unknown entry in partitions directory", "name", name)
			continue
		}
		if _, err := e.open(key); err != nil {
			return err
		}
	}

	// Pass 2: each partition's replay plan.
	plans := make(map[model.PartitionKey]*plan)
	err = e.j.Replay(ckpt, func(seq uint64, r journal.Record) error {
		if r.Kind == kindKV {
			return nil
		}
		if removed[r.Key] || seq <= barrier[r.Key] || seq < resets[r.Key].seq || r.Kind == kindBarrier {
			return nil
		}
		pl := plans[r.Key]
		if pl == nil {
			pl = &plan{}
			plans[r.Key] = pl
		}
		if err := pl.add(seq, r); err != nil {
			return fmt.Errorf("record %d for %s: %w", seq, r.Key, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("engine: journal replay: %w", err)
	}

	// A reset in the journal empties the log, whatever of the old one or of
	// the reset's own write-behind a crash left: the entries after it are
	// all in the journal.
	for key, rs := range resets {
		if removed[key] || rs.seq < barrier[key] {
			continue
		}
		p, err := e.open(key)
		if err != nil {
			return err
		}
		if err := p.log.Reset(rs.op.index, rs.op.offset); err != nil {
			return fmt.Errorf("engine: journal replay for %s: reset to %d: %w", key, rs.op.index, err)
		}
		p.durable, p.floor = p.log.LastIndex(), rs.op.index
	}
	// Cut every planned log where the journal takes over, then pass 3
	// appends the surviving runs of entries in journal order.
	for key, pl := range plans {
		p, err := e.open(key)
		if err != nil {
			return err
		}
		if debugReplay {
			fmt.Printf("plan %s cutAt %d runs %v log [%d,%d]\n", key, pl.cutAt, pl.runs, p.log.FirstIndex(), p.log.LastIndex())
		}
		if err := pl.cut(p.log); err != nil {
			return fmt.Errorf("engine: journal replay for %s: %w", key, err)
		}
	}
	replayed := 0
	err = e.j.Replay(ckpt, func(seq uint64, r journal.Record) error {
		pl := plans[r.Key]
		if pl == nil || len(pl.runs) == 0 || pl.runs[0].seq != seq {
			return nil
		}
		run := pl.runs[0]
		pl.runs = pl.runs[1:]
		replayed++
		p := e.parts[r.Key]
		if err := p.log.Append(entriesIn(r.Payload, run.from, run.to)); err != nil {
			return fmt.Errorf("record %d for %s: %w", seq, r.Key, err)
		}
		p.durable = p.log.LastIndex()
		return nil
	})
	if err != nil {
		return fmt.Errorf("engine: journal replay: %w", err)
	}
	for key := range removed {
		if p, ok := e.parts[key]; ok {
			if err := e.removeFiles(p); err != nil {
				return err
			}
		}
	}
	// A start moved after a reset in the journal: the reset rebuilt the log
	// below it.
	for key, p := range e.parts {
		s := e.logStart(key).index
		if s > p.log.FirstIndex() && s <= p.log.LastIndex()+1 {
			if err := p.log.TruncatePrefix(s); err != nil {
				return fmt.Errorf("engine: journal replay for %s: start at %d: %w", key, s, err)
			}
		}
	}
	if replayed > 0 {
		e.opts.Logger.Info("journal replayed", "records", replayed, "from", ckpt)
	}
	// Everything replayed is written behind now; make it durable in the
	// segments and start the journal afresh.
	for _, p := range e.parts {
		p.dirty = true
	}
	if err := e.Flush(); err != nil {
		return err
	}
	return e.checkHardStates()
}

// plan is what the journal does to one partition's log, worked out before
// anything is written: the log keeps its own bytes below cut, and from there
// on is rebuilt from runs of journaled entries, in index (and journal)
// order. Bytes the log holds from cut on may be a write-behind region that a
// crash left with holes, or rewritten by a later truncation; everything below
// cut was untouched since the checkpoint, so it is durable.
type plan struct {
	cutAt model.Index // 0: no cut below the first run
	runs  []run
}

// run is the entries [from, to] of the entries record seq.
type run struct {
	seq      uint64
	from, to model.Index
}

func (pl *plan) first() model.Index {
	if len(pl.runs) == 0 {
		return 0
	}
	return pl.runs[0].from
}

// lower cuts the plan at index i: runs keep only their entries below i, and
// when i is below every run the log itself must be cut there.
func (pl *plan) lower(i model.Index) {
	for len(pl.runs) > 0 {
		last := &pl.runs[len(pl.runs)-1]
		switch {
		case last.from >= i:
			pl.runs = pl.runs[:len(pl.runs)-1]
			continue
		case last.to >= i:
			last.to = i - 1
		}
		break
	}
	if len(pl.runs) == 0 && (pl.cutAt == 0 || i < pl.cutAt) {
		pl.cutAt = i
	}
}

func (pl *plan) add(seq uint64, r journal.Record) error {
	switch r.Kind {
	case kindTruncate:
		if len(r.Payload) != 8 {
			return fmt.Errorf("truncate payload of %d bytes: %w", len(r.Payload), model.ErrCorrupt)
		}
		pl.lower(model.Index(binary.LittleEndian.Uint64(r.Payload)))
	case kindEntries:
		from, to, err := span(r.Payload)
		if err != nil {
			return err
		}
		if n := len(pl.runs); n > 0 && from > pl.runs[n-1].to+1 {
			return fmt.Errorf("entries from %d after journaled entries up to %d: %w", from, pl.runs[n-1].to, model.ErrCorrupt)
		}
		pl.lower(from)
		pl.runs = append(pl.runs, run{seq: seq, from: from, to: to})
	default:
		return fmt.Errorf("unknown kind %d: %w", r.Kind, model.ErrCorrupt)
	}
	return nil
}

// cut truncates the log where the plan takes over. Entries below the
// log's start (a prefix truncation made durable later) are dropped from
// the plan: they were compacted away.
func (pl *plan) cut(lg *storage.Log) error {
	start := lg.FirstIndex()
	for len(pl.runs) > 0 && pl.runs[0].to < start {
		pl.runs = pl.runs[1:]
	}
	if len(pl.runs) > 0 {
		pl.runs[0].from = max(pl.runs[0].from, start)
	}
	if pl.cutAt != 0 {
		pl.cutAt = max(pl.cutAt, start)
	}
	at := pl.cutAt
	if f := pl.first(); at == 0 || (f != 0 && f < at) {
		at = f
	}
	if at == 0 {
		return nil
	}
	if at > lg.LastIndex()+1 && len(pl.runs) > 0 {
		return fmt.Errorf("journal entries from %d after log end %d: entries lost: %w", at, lg.LastIndex(), model.ErrCorrupt)
	}
	if at >= lg.FirstIndex() && at <= lg.LastIndex() {
		return lg.TruncateSuffix(at)
	}
	return nil
}

// entriesIn returns the encoded entries of b with indexes in [from, to].
func entriesIn(b []byte, from, to model.Index) []byte {
	b = b[len(cut(b, from)):]
	return cut(b, to+1)
}

// checkHardStates refuses a partition whose recovered commit index is past
// its log end: committed entries were lost, and serving it would break
// Raft's safety.
func (e *Engine) checkHardStates() error {
	var errs error
	for key, p := range e.parts {
		hs, ok, err := e.HardState(key)
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("engine: partition %s: %w", key, err))
			continue
		}
		if ok && hs.Commit > p.log.LastIndex() {
			errs = errors.Join(errs, fmt.Errorf(
				"engine: partition %s: hard state commit index %d is past the log end %d: committed entries are missing, refusing to start: %w",
				key, hs.Commit, p.log.LastIndex(), model.ErrCorrupt))
		}
	}
	return errs
}

// parsePartitionDir parses "<topic id>-<partition>".
func parsePartitionDir(name string) (model.PartitionKey, error) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return model.PartitionKey{}, fmt.Errorf("engine: partition directory %q", name)
	}
	id, err := model.ParseTopicID(name[:i])
	if err != nil {
		return model.PartitionKey{}, err
	}
	n, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || n < 0 {
		return model.PartitionKey{}, fmt.Errorf("engine: partition directory %q", name)
	}
	return model.PartitionKey{Topic: id, Partition: model.PartitionID(n)}, nil
}

var debugReplay = false
