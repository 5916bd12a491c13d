package diskfault

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/storage"
	"github.com/petrel-streaming/petrel/internal/storage/journal"
	"github.com/petrel-streaming/petrel/internal/storage/kv"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// Journal record kinds, as the engine writes them (storage/engine/doc.go).
const (
	kindEntries uint8 = 1
	kindBarrier uint8 = 3
	kindRemove  uint8 = 5
)

// maxSegmentRead bounds how much of one segment is read to find entries.
const maxSegmentRead = 512 << 20

// ErrNothingCovered: no partition has a segment tail the journal still holds.
var ErrNothingCovered = errors.New("diskfault: no segment tail is covered by the journal; nothing cut")

// Cut says what TruncateTail did.
type Cut struct {
	Segment   string       `json:"segment"`    // the file cut
	Index     model.Index  `json:"index"`      // the entry cut in the middle
	Offset    model.Offset `json:"offset"`     // its batch's base offset
	Records   uint32       `json:"records"`    // its batch's record count
	From      int64        `json:"from"`       // file size before the cut
	To        int64        `json:"to"`         // and after
	Covered   model.Index  `json:"covered"`    // first index the journal holds
	Candidate int          `json:"candidates"` // partitions that had a covered tail
}

func (c Cut) String() string {
	return fmt.Sprintf("%s: cut %d -> %d bytes, mid entry %d (offsets %d..%d; journal covers from index %d)",
		c.Segment, c.From, c.To, c.Index, c.Offset, int64(c.Offset)+int64(c.Records)-1, c.Covered)
}

// TruncateTail cuts, on the stopped node whose data directory is dataDir,
// one partition's active segment in the middle of an entry the journal
// still covers (picked with rng). It returns ErrNothingCovered when there
// is none. The node must not be running.
func TruncateTail(dataDir string, rng *rand.Rand) (Cut, error) {
	shards, err := filepath.Glob(filepath.Join(dataDir, "shards", "*"))
	if err != nil {
		return Cut{}, err
	}
	type cand struct {
		dir     string
		covered model.Index
	}
	var cands []cand
	for _, sh := range shards {
		cov, err := journalCoverage(sh)
		if err != nil {
			return Cut{}, err
		}
		for key, idx := range cov {
			cands = append(cands, cand{filepath.Join(sh, "partitions", key.String()), idx})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int { return strings.Compare(a.dir, b.dir) })
	for _, i := range rng.Perm(len(cands)) {
		c, err := cutPartition(cands[i].dir, cands[i].covered)
		if errors.Is(err, ErrNothingCovered) {
			continue
		}
		c.Candidate = len(cands)
		return c, err
	}
	return Cut{Candidate: len(cands)}, ErrNothingCovered
}

// journalCoverage maps each partition of a shard to the first index its
// journal entries records (after its latest barrier) hold.
func journalCoverage(shardDir string) (map[model.PartitionKey]model.Index, error) {
	fsys := readOnlyFS{vfs.NewOS()}
	_, ckpt, err := kv.Load(fsys, filepath.Join(shardDir, "kv"))
	if err != nil {
		return nil, fmt.Errorf("diskfault: %s: %w", shardDir, err)
	}
	j, err := journal.Open(fsys, filepath.Join(shardDir, "journal"), journal.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("diskfault: %s: %w", shardDir, err)
	}
	defer j.Close()
	type rec struct {
		seq   uint64
		first model.Index
	}
	barrier := map[model.PartitionKey]uint64{}
	removed := map[model.PartitionKey]bool{}
	entries := map[model.PartitionKey][]rec{}
	err = j.Replay(ckpt, func(seq uint64, r journal.Record) error {
		switch r.Kind {
		case kindBarrier:
			barrier[r.Key] = seq
		case kindRemove:
			removed[r.Key] = true
		case kindEntries:
			h, _, _, err := storage.DecodeEntryHeader(r.Payload)
			if err != nil {
				return fmt.Errorf("record %d: %w", seq, err)
			}
			entries[r.Key] = append(entries[r.Key], rec{seq, h.Index})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("diskfault: %s: journal: %w", shardDir, err)
	}
	out := map[model.PartitionKey]model.Index{}
	for key, recs := range entries {
		if removed[key] {
			continue
		}
		for _, r := range recs {
			if r.seq <= barrier[key] {
				continue
			}
			if cur, ok := out[key]; !ok || r.first < cur {
				out[key] = r.first
			}
		}
	}
	return out, nil
}

// cutPartition cuts the partition's last segment in the middle of its last
// data entry at or past covered.
func cutPartition(dir string, covered model.Index) (Cut, error) {
	segs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(segs) == 0 {
		return Cut{}, ErrNothingCovered
	}
	slices.Sort(segs) // names are 20-digit base indexes
	seg := segs[len(segs)-1]
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		return Cut{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSegmentRead))
	if err != nil {
		return Cut{}, err
	}
	var (
		pos   int64
		found bool
		cut   Cut
	)
	for rest := b; ; {
		h, _, next, err := storage.DecodeEntry(rest)
		if err != nil {
			break // end of the valid entries (zeros, preallocation, torn tail)
		}
		if h.Type == storage.EntryData && h.Index >= covered && h.Len > 1 {
			found = true
			cut = Cut{Segment: seg, Index: h.Index, Offset: h.Offset, Records: h.Count,
				From: int64(len(b)), To: pos + storage.EntryHeaderSize + int64(h.Len)/2, Covered: covered}
		}
		pos += h.Size()
		rest = next
	}
	if !found {
		return Cut{}, ErrNothingCovered
	}
	if st, err := f.Stat(); err == nil {
		cut.From = st.Size()
	}
	if err := f.Truncate(cut.To); err != nil {
		return Cut{}, err
	}
	return cut, f.Sync()
}

// readOnlyFS opens every file read-only and refuses every change, so that
// reading the journal of a stopped node cannot alter it.
type readOnlyFS struct{ vfs.FS }

var errReadOnly = errors.New("diskfault: read-only file system")

func (r readOnlyFS) Create(string, vfs.OpenOptions) (vfs.File, error) { return nil, errReadOnly }
func (r readOnlyFS) Open(name string, _ vfs.OpenOptions) (vfs.File, error) {
	return r.FS.OpenReadOnly(name)
}
func (r readOnlyFS) Remove(string) error         { return errReadOnly }
func (r readOnlyFS) RemoveAll(string) error      { return errReadOnly }
func (r readOnlyFS) Rename(string, string) error { return errReadOnly }
func (r readOnlyFS) SyncDir(string) error        { return errReadOnly }
func (r readOnlyFS) MkdirAll(name string) error {
	if st, err := r.FS.Stat(name); err == nil && st.IsDir {
		return nil
	}
	return errReadOnly
}
func (r readOnlyFS) Lock(string) (io.Closer, error) { return nil, errReadOnly }
