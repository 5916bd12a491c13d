package journal

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

const testDir = "/j"

// smallOpts: 4 files of 16 KiB (one header page, three pages of records),
// so that a few dozen records cross files and wrap the ring.
func smallOpts() Options {
	return Options{FileSize: 4 * pageSize, MaxFiles: 4, Logger: slog.New(slog.DiscardHandler)}
}

// fsCase is one file system the behavioural tests run on.
type fsCase struct {
	name string
	mk   func(t *testing.T) (vfs.FS, string)
}

var fsCases = []fsCase{
	{"mem", func(t *testing.T) (vfs.FS, string) { return vfs.NewMem(), testDir }},
	{"os", func(t *testing.T) (vfs.FS, string) { return vfs.NewOS(), t.TempDir() + "/j" }},
	{"mem-direct", func(t *testing.T) (vfs.FS, string) { return vfs.NewMem(), testDir }},
}

func forEachFS(t *testing.T, fn func(t *testing.T, fsys vfs.FS, dir string, opts Options)) {
	for _, c := range fsCases {
		t.Run(c.name, func(t *testing.T) {
			fsys, dir := c.mk(t)
			opts := smallOpts()
			opts.Direct = c.name == "mem-direct"
			fn(t, fsys, dir, opts)
		})
	}
}

func mustOpen(t testing.TB, fsys vfs.FS, dir string, opts Options) *Journal {
	t.Helper()
	j, err := Open(fsys, dir, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return j
}

// got is a record replayed, with its payload copied.
type got struct {
	seq uint64
	rec Record
}

// replayAll runs Replay(from) and returns what it yielded.
func replayAll(t testing.TB, j *Journal, from uint64) []got {
	t.Helper()
	var out []got
	err := j.Replay(from, func(seq uint64, r Record) error {
		r.Payload = bytes.Clone(r.Payload)
		out = append(out, got{seq, r})
		return nil
	})
	if err != nil {
		t.Fatalf("replay from %d: %v", from, err)
	}
	return out
}

// round runs one whole sync round and fails the test on error.
func round(t testing.TB, j *Journal) {
	t.Helper()
	if err := tryRound(j); err != nil {
		t.Fatalf("round: %v", err)
	}
}

func tryRound(j *Journal) error {
	s := j.PrepareSync()
	if s == nil {
		return j.Err()
	}
	err := s.Run()
	j.FinishSync(s, err)
	return err
}

// model is what the test expects the journal to hold: every record added,
// by seq.
type model_ struct {
	recs map[uint64]Record
}

func newModel() *model_ { return &model_{recs: map[uint64]Record{}} }

// genRecord makes a deterministic record of n payload bytes for seq.
func genRecord(rng *rand.Rand, n int) Record {
	r := Record{Kind: uint8(1 + rng.IntN(250)), Key: model.PartitionKey{Partition: model.PartitionID(rng.Int32())}}
	for i := range r.Key.Topic {
		r.Key.Topic[i] = byte(rng.Uint32())
	}
	r.Payload = make([]byte, n)
	for i := range r.Payload {
		r.Payload[i] = byte(rng.Uint32())
	}
	return r
}

func (m *model_) add(t testing.TB, j *Journal, r Record) (uint64, error) {
	t.Helper()
	seq, err := j.Add(r)
	if err == nil {
		if _, dup := m.recs[seq]; dup {
			t.Fatalf("seq %d handed out twice", seq)
		}
		m.recs[seq] = r
	}
	return seq, err
}

// check verifies that out is exactly seqs [from, to] of the model, in
// order, byte for byte.
func (m *model_) check(t testing.TB, out []got, from, to uint64) {
	t.Helper()
	if err := m.diff(out, from, to); err != nil {
		t.Fatal(err)
	}
}

func (m *model_) diff(out []got, from, to uint64) error {
	want := 0
	if to >= from {
		want = int(to - from + 1)
	}
	if len(out) != want {
		first, last := uint64(0), uint64(0)
		if len(out) > 0 {
			first, last = out[0].seq, out[len(out)-1].seq
		}
		return fmt.Errorf("replayed %d records [%d, %d], want %d [%d, %d]", len(out), first, last, want, from, to)
	}
	for k, g := range out {
		seq := from + uint64(k)
		w := m.recs[seq]
		if g.seq != seq || g.rec.Kind != w.Kind || g.rec.Key != w.Key || !bytes.Equal(g.rec.Payload, w.Payload) {
			return fmt.Errorf("record %d: got seq %d kind %d key %v len %d, want seq %d kind %d key %v len %d",
				k, g.seq, g.rec.Kind, g.rec.Key, len(g.rec.Payload), seq, w.Kind, w.Key, len(w.Payload))
		}
	}
	return nil
}
