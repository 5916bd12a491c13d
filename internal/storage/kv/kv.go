package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// Limits on what the store holds.
const (
	MaxKeyBytes   = 1 << 10
	MaxValueBytes = 1 << 20
	// MaxSnapshotBytes bounds a snapshot file Load accepts.
	MaxSnapshotBytes = 1 << 30
)

// File names in the store's directory.
const (
	SnapshotFile    = "kv.snap"
	SnapshotTmpFile = "kv.snap.tmp"
)

// ErrLimit marks a key or value outside the size limits.
var ErrLimit = errors.New("kv: key or value size out of bounds")

// Op is one update of a batch: Value is stored under Key, or Key is removed
// when Delete is set (Value is then ignored).
type Op struct {
	Key    string
	Value  []byte
	Delete bool
}

// Check reports whether the op is within the limits: a key of 1 to
// MaxKeyBytes bytes, a value of at most MaxValueBytes.
func (op Op) Check() error {
	if len(op.Key) == 0 || len(op.Key) > MaxKeyBytes {
		return fmt.Errorf("kv: key of %d bytes: %w", len(op.Key), ErrLimit)
	}
	if !op.Delete && len(op.Value) > MaxValueBytes {
		return fmt.Errorf("kv: value of %d bytes under %q: %w", len(op.Value), op.Key, ErrLimit)
	}
	return nil
}

// CheckOps checks every op of a batch (see Op.Check). Callers holding ops
// from an untrusted source check them before EncodeBatch or Apply.
func CheckOps(ops []Op) error {
	for _, op := range ops {
		if err := op.Check(); err != nil {
			return err
		}
	}
	return nil
}

func mustCheck(ops []Op) {
	if err := CheckOps(ops); err != nil {
		panic(err) // a caller bug: ops come from the engine, bounded by construction
	}
}

// Store is the map of one shard's metadata. It is owned by one goroutine
// (its shard); Encode's result may be written from anywhere.
type Store struct {
	m map[string][]byte
}

// New returns an empty store.
func New() *Store { return &Store{m: map[string][]byte{}} }

// Get returns the value under key. The slice belongs to the store: do not
// modify it; it stays valid (never written in place) after later updates.
func (s *Store) Get(key string) ([]byte, bool) {
	v, ok := s.m[key]
	return v, ok
}

// Len is the number of keys.
func (s *Store) Len() int { return len(s.m) }

// Apply applies a batch in order (a later op on a key wins). Values are
// copied. It panics if an op is outside the limits (see CheckOps).
func (s *Store) Apply(ops []Op) {
	mustCheck(ops)
	for _, op := range ops {
		if op.Delete {
			delete(s.m, op.Key)
			continue
		}
		s.m[op.Key] = append([]byte{}, op.Value...)
	}
}

// Keys returns the keys in sorted order.
func (s *Store) Keys() []string {
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Encode appends the whole store as a snapshot tagged with journalSeq (the
// journal replay point the snapshot is consistent with) to dst.
func (s *Store) Encode(dst []byte, journalSeq uint64) []byte {
	start := len(dst)
	dst = append(dst, snapMagic[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, snapVersion)
	dst = binary.LittleEndian.AppendUint64(dst, journalSeq)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s.m)))
	for _, k := range s.Keys() {
		v := s.m[k]
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(k)))
		dst = append(dst, k...)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(v)))
		dst = append(dst, v...)
	}
	return binary.LittleEndian.AppendUint32(dst, model.CRC32C(dst[start:]))
}

// Save writes the store as the directory's snapshot, atomically: see
// WriteSnapshot.
func (s *Store) Save(fsys vfs.FS, dir string, journalSeq uint64) error {
	return WriteSnapshot(fsys, dir, s.Encode(nil, journalSeq))
}

// WriteSnapshot makes snap (from Store.Encode) the directory's snapshot:
// written to kv.snap.tmp, fsynced, renamed over kv.snap and the directory
// synced. A crash at any point leaves the old snapshot or the new one. Any
// goroutine (it touches only the files), one at a time per directory.
func WriteSnapshot(fsys vfs.FS, dir string, snap []byte) (err error) {
	if err := fsys.MkdirAll(dir); err != nil {
		return fmt.Errorf("kv: %w", err)
	}
	tmp, final := path.Join(dir, SnapshotTmpFile), path.Join(dir, SnapshotFile)
	f, err := fsys.Create(tmp, vfs.OpenOptions{})
	if err != nil {
		return fmt.Errorf("kv: %w", err)
	}
	if _, err := f.WriteAt(snap, 0); err != nil {
		f.Close()
		return fmt.Errorf("kv: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("kv: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("kv: %w", err)
	}
	if err := fsys.Rename(tmp, final); err != nil {
		return fmt.Errorf("kv: %w", err)
	}
	for _, d := range []string{dir, path.Dir(dir)} { // the rename, and dir itself if just made
		if err := fsys.SyncDir(d); err != nil {
			return fmt.Errorf("kv: %w", err)
		}
	}
	return nil
}

// Load reads the directory's snapshot. A missing snapshot is an empty store
// with journalSeq 0; a damaged one is an error wrapping model.ErrCorrupt
// (never silently an empty store: the metadata holds Raft votes).
func Load(fsys vfs.FS, dir string) (*Store, uint64, error) {
	name := path.Join(dir, SnapshotFile)
	st, err := fsys.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return New(), 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("kv: %w", err)
	}
	if st.Size > MaxSnapshotBytes {
		return nil, 0, fmt.Errorf("kv: %s is %d bytes: %w", name, st.Size, model.ErrCorrupt)
	}
	f, err := fsys.OpenReadOnly(name)
	if err != nil {
		return nil, 0, fmt.Errorf("kv: %w", err)
	}
	defer f.Close()
	b := make([]byte, st.Size)
	if n, err := f.ReadAt(b, 0); n != len(b) {
		return nil, 0, fmt.Errorf("kv: read %s: %w", name, err)
	}
	s, seq, err := Decode(b)
	if err != nil {
		return nil, 0, fmt.Errorf("kv: %s: %w", name, err)
	}
	return s, seq, nil
}
