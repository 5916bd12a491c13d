// Package vfs is the file system seam of the storage engine. Everything
// storage does to a disk goes through FS and File, so that tests can run the
// same code on the real file system, on an in-memory one that simulates a
// power loss (a crash clone keeps only what was synced), and behind an error
// injector that fails the Nth operation of a kind.
//
// # Durability contract (what a crash clone keeps)
//
//   - File data written with WriteAt survives only up to the last Sync or
//     Datasync of that file; later writes are lost.
//   - A file size change (Truncate, or growth by WriteAt) survives only if a
//     Sync or Datasync followed it.
//   - A directory entry (Create, Rename, Remove, and MkdirAll's new
//     directories) survives only if SyncDir of its parent followed it; a file
//     created and synced but whose directory was not synced is gone after a
//     crash, and a file removed without SyncDir comes back.
//
// The OS implementation gives exactly these guarantees on ext4/xfs, which is
// why the engine never relies on more.
//
// # Three implementations
//
// NewOS returns the real file system (Linux): *os.File underneath (ReadAt
// and WriteAt loop on short transfers and retry EINTR), Datasync is
// fdatasync, Allocate is fallocate(FALLOC_FL_KEEP_SIZE) and does nothing
// where unsupported, SyncDir opens the directory and fsyncs it, Lock is
// flock(LOCK_EX|LOCK_NB) and fails with ErrLocked while another holder has
// it. Direct opens add O_DIRECT; a file system that refuses it (EINVAL at
// open) yields an error wrapping ErrDirectUnsupported, and the caller falls
// back to buffered I/O. Direct buffers come from AlignedBuffer.
//
// NewMem returns a MemFS: the whole tree in memory behind one mutex, with
// the same error identities as the OS (errors.Is(err, fs.ErrNotExist),
// syscall.EINVAL for misaligned direct I/O — checked at Alignment, stricter
// than the kernel, so alignment bugs show up in tests). SetDirectSupported
// (false) makes Direct opens fail as on tmpfs, to test the fallback.
//
// NewErrorFS wraps any FS and asks an Injector before every operation. The
// operations are classified by OpKind; FailNth(n, kinds...) fails the n-th
// matching one (optionally every one after it, with a chosen errno, only on
// some paths). Injected errors match ErrInjected and their errno. Storage
// tests run each operation with FailNth(0), FailNth(1), … until the
// injector no longer fires, crash-cloning after each failure:
//
//	for n := 0; ; n++ {
//		mem := setup()                       // a MemFS in a known state
//		inj := vfs.FailNth(n)
//		err := operation(vfs.NewErrorFS(mem, inj))
//		if !inj.Fired() {
//			break                            // every step has been failed once
//		}
//		recovered := reopen(mem.CrashClone()) // and without a crash: reopen(mem)
//		check(recovered)                     // nothing acknowledged lost, nothing corrupt
//	}
//
// # The crash model
//
// MemFS keeps two states of everything. A file is an inode with its current
// bytes and its durable bytes (copied at Sync/Datasync, only the range
// written since). A directory maps names to inodes twice: the current
// entries, and the durable entries (copied at SyncDir). Because entries
// point at inodes, a rename that is not synced reverts to the old name, and
// that name still finds the file's durable bytes.
//
//	               current view                 durable view
//	             (what reads see)          (what CrashClone keeps)
//	dir "/d"   { a.log → ino1,          SyncDir   { a.log → ino1 }
//	             b.log → ino2 }         ───────►
//	ino1       [synced......|unsynced]   Sync     [synced......]
//	ino2       [unsynced....]           ───────►  (not reachable: b.log
//	                                               never made it into /d)
//
// CrashClone() builds a new MemFS from the durable view only: walk the
// durable entries from the root, give every file its durable bytes. The
// clone has no open files or locks, and its current state equals its
// durable state, so it can be reopened, written and crashed again.
//
// A real page cache writes dirty pages back in any order before the power
// goes, so recovery must also cope with some unsynced pages having reached
// the disk and others not. CrashClone(CrashCloneOptions{KeepUnsyncedPages:
// rng}) models that: for each file the size is the durable or the current
// one, and each Alignment-sized page whose current bytes differ from the
// durable ones is taken from either, at random:
//
//	durable   [ A | A | A ]                 (3 pages synced)
//	current   [ B | B | A | B | B ]         (pages 0,1,3,4 rewritten/appended)
//	a clone   [ A | B | A | 0 | B ]         size current; page 3 a hole of zeros
//	another   [ B | A | A ]                 size durable
//
// Directory entries are never kept unsynced. The same rng seed over the same
// history gives the same clone, so a failing seed can be replayed.
package vfs
