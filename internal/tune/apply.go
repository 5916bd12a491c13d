package tune

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"syscall"
)

// Outcome is what Apply did with one tuner.
type Outcome string

const (
	OutcomeOK          Outcome = "ok"          // already as recommended: nothing written
	OutcomeApplied     Outcome = "applied"     // written, and the check now passes
	OutcomeWouldApply  Outcome = "would-apply" // dry run: Writes are what apply would do
	OutcomeUnsupported Outcome = "unsupported" // does not apply here, or the kernel refused
	OutcomeFailed      Outcome = "failed"      // an error (permission, I/O)
)

// Applied is one tuner's apply.
type Applied struct {
	Tuner   string  `json:"tuner"`
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason,omitempty"`
	// Writes are the writes made (or, in a dry run, to be made); a
	// refused write is not among them.
	Writes []Write `json:"writes,omitempty"`
}

// Apply checks each tuner and makes the writes of those that need a
// change, recording each write's previous value in the restore file
// before moving on. dryRun only reports the writes. An error is returned
// only when the restore file cannot be kept: no write is made without it.
func Apply(e *Env, ts []Tuner, dryRun bool) ([]Applied, error) {
	out := make([]Applied, 0, len(ts))
	for _, t := range ts {
		r := t.Check(e)
		a := Applied{Tuner: t.Name, Reason: r.Reason}
		switch r.Status {
		case StatusOK:
			a.Outcome = OutcomeOK
		case StatusUnsupported:
			a.Outcome = OutcomeUnsupported
		case StatusFailed:
			a.Outcome = OutcomeFailed
		case StatusNeedsChange:
			if dryRun {
				a.Outcome, a.Writes = OutcomeWouldApply, r.Writes
				break
			}
			var err error
			if a, err = applyWrites(e, t, r.Writes); err != nil {
				return out, err
			}
		}
		out = append(out, a)
	}
	return out, nil
}

func applyWrites(e *Env, t Tuner, writes []Write) (Applied, error) {
	a := Applied{Tuner: t.Name}
	rf, err := loadRestore(e)
	if err != nil {
		return a, err
	}
	for _, w := range writes {
		err := doWrite(e.Root, w)
		if err == nil {
			a.Writes = append(a.Writes, w)
			rf.add(t.Name, w)
			if err := rf.save(e); err != nil {
				return a, err
			}
			continue
		}
		a.Outcome, a.Reason = classify(w, err)
		if a.Outcome == OutcomeFailed {
			return a, nil
		}
	}
	after := t.Check(e)
	switch {
	case a.Outcome == OutcomeUnsupported:
		// a refused write: the others stay, restore undoes them
	case after.Status == StatusOK:
		a.Outcome = OutcomeApplied
	default:
		a.Outcome = OutcomeFailed
		a.Reason = fmt.Sprintf("written, but the check still says %s (current %s)", after.Summary(), after.Current)
	}
	return a, nil
}

// classify turns a refused write into an outcome: the kernel refusing a
// value (EIO, EINVAL, EBUSY, EROFS, EOPNOTSUPP: a managed IRQ, a
// hypervisor's setting) is unsupported; anything else failed.
func classify(w Write, err error) (Outcome, string) {
	if errors.Is(err, fs.ErrPermission) {
		return OutcomeFailed, fmt.Sprintf("%s: permission denied (run as root)", w.Path)
	}
	for _, e := range []error{syscall.EIO, syscall.EINVAL, syscall.EBUSY, syscall.EROFS, syscall.EOPNOTSUPP} {
		if errors.Is(err, e) {
			return OutcomeUnsupported, fmt.Sprintf("the kernel refused %s: %v", w, e)
		}
	}
	return OutcomeFailed, err.Error()
}

func doWrite(r Root, w Write) error {
	switch w.Op {
	case OpWrite:
		return r.Write(w.Path, w.Value)
	case OpCreate:
		return r.create(w.Path, w.Size)
	case OpMkdir:
		return os.Mkdir(r.Path(w.Path), 0o755)
	}
	return fmt.Errorf("write op %q: %w", w.Op, ErrParse)
}

// RestoreName is the restore file's name in the data dir.
const RestoreName = "tune-restore.json"

// restoreFile is the record of every write apply made, in order: JSON,
//
//	{"version": 1, "entries": [
//	  {"tuner": "swappiness", "op": "write", "path": "/proc/sys/vm/swappiness", "value": "1", "previous": "60"},
//	  {"tuner": "ballast_file", "op": "create", "path": "/data/ballast", "size": 1073741824}]}
//
// A path is recorded once, with the value it had before the first apply:
// applying twice and restoring once gives back the original.
type restoreFile struct {
	Version int            `json:"version"`
	Entries []restoreEntry `json:"entries"`
}

type restoreEntry struct {
	Tuner string `json:"tuner"`
	Write
}

func restorePath(e *Env) string { return path.Join(e.DataDir, RestoreName) }

func loadRestore(e *Env) (*restoreFile, error) {
	b, err := os.ReadFile(e.Root.Path(restorePath(e)))
	if errors.Is(err, fs.ErrNotExist) {
		return &restoreFile{Version: 1}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("restore file: %w", err)
	}
	var rf restoreFile
	if err := json.Unmarshal(b, &rf); err != nil || rf.Version != 1 {
		return nil, fmt.Errorf("restore file %s (version %d): %w %v", restorePath(e), rf.Version, ErrParse, err)
	}
	return &rf, nil
}

func (rf *restoreFile) add(tuner string, w Write) {
	if slices.ContainsFunc(rf.Entries, func(x restoreEntry) bool { return x.Path == w.Path }) {
		return
	}
	rf.Entries = append(rf.Entries, restoreEntry{Tuner: tuner, Write: w})
}

// save writes the file atomically (temporary file, fsync, rename), or
// removes it when empty.
func (rf *restoreFile) save(e *Env) error {
	p := e.Root.Path(restorePath(e))
	if len(rf.Entries) == 0 {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restore file: %w", err)
		}
		return nil
	}
	if st, err := os.Stat(path.Dir(p)); err != nil || !st.IsDir() {
		return fmt.Errorf("restore file: data dir %s does not exist (create it, or run petrel serve once)", e.DataDir)
	}
	b, err := json.MarshalIndent(rf, "", "  ")
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("restore file: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore file: %w", err)
	}
	return nil
}

// Restored is one undone write.
type Restored struct {
	Tuner  string `json:"tuner"`
	Action string `json:"action"` // the shell command that undoes the write
	Error  string `json:"error,omitempty"`
}

// Restore undoes, newest first, the recorded writes of the named tuners
// (all when names is empty) and drops them from the restore file; a
// write that cannot be undone stays recorded. dryRun only reports.
func Restore(e *Env, names []string, dryRun bool) ([]Restored, error) {
	rf, err := loadRestore(e)
	if err != nil {
		return nil, err
	}
	var out []Restored
	for i := len(rf.Entries) - 1; i >= 0; i-- {
		en := rf.Entries[i]
		if len(names) > 0 && !slices.Contains(names, en.Tuner) {
			continue
		}
		r := Restored{Tuner: en.Tuner, Action: undoString(en.Write)}
		if !dryRun {
			if err := undo(e.Root, en.Write); err != nil {
				r.Error = err.Error()
			} else {
				rf.Entries = slices.Delete(rf.Entries, i, i+1)
				if err := rf.save(e); err != nil {
					return out, err
				}
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func undoString(w Write) string {
	switch w.Op {
	case OpCreate:
		return "rm " + w.Path
	case OpMkdir:
		return "rmdir " + w.Path
	}
	return Write{Op: OpWrite, Path: w.Path, Value: w.Previous}.String()
}

func undo(r Root, w Write) error {
	switch w.Op {
	case OpCreate:
		err := os.Remove(r.Path(w.Path))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	case OpMkdir:
		err := os.Remove(r.Path(w.Path)) // only when empty
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return r.Write(w.Path, w.Previous)
}
