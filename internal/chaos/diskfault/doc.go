// Package diskfault breaks a node's disk the way a crash, a power loss or a
// bad disk would, and says exactly what it did. Two tools:
//
//   - TruncateTail, offline: cut the active segment of one partition of a
//     stopped node in the middle of a record batch, as a torn write leaves
//     it (below).
//   - Layer, online: a go-fuse pass-through file system mounted over a
//     node's data directory, whose mode the harness switches at run time:
//     pass, slow (a delay on every write and fsync), eio (fsync fails with
//     EIO, then every write does) and lazy (lose unsynced data on
//     PowerFail).
//
// # The FUSE layer
//
//	l, err := diskfault.Mount(diskfault.Config{Dir: node+"/disk",
//	        Mountpoint: node+"/data", Mode: diskfault.Mode{Lazy: true}})
//	defer l.Unmount()                 // ForceUnmount (MNT_DETACH) after a failure
//	... start the broker on node/data ...
//	l.SetMode(diskfault.Mode{Lazy: true, Delay: 20 * time.Millisecond})
//	broker.Kill()                     // every user of the mount gone
//	loss, err := l.PowerFail()        // unmount, drop what was not synced, mount again
//	... restart the broker on what is left ...
//
// It needs root (DirectMount, no fusermount) and /dev/fuse (Supported says
// why not). Files are opened buffered on the backing side (O_DIRECT is
// stripped: the layer is the disk), kernel passthrough and copy_file_range
// are refused so every write is seen, and xattrs are off.
//
// # Lazy mode: what a PowerFail keeps (pebble's crash clone, vfs.MemFS)
//
//   - File data survives up to the last fsync or fdatasync of that file;
//     writes, truncates and hole punches since are undone, the size goes
//     back to the synced size.
//   - A directory entry (create, mkdir, link, symlink, rename, unlink,
//     rmdir) survives only if the directory was fsynced after the change:
//     a file created and synced in an unsynced directory is gone, a file
//     removed or renamed away without a directory fsync comes back with its
//     synced data, an unsynced rename over a synced name reverts to the old
//     file. A cross-directory rename needs both directories synced.
//   - What was on the backing directory at Mount is durable.
//   - Unsynced pages are all dropped (no random page write-back, which
//     CrashCloneOptions.KeepUnsyncedPages models for the storage tests).
//
// The layer is an undo log over the backing directory, which always holds
// the current state, so reads and pass-through writes cost nothing extra:
//
//	<Dir>/backing/     the files, current state
//	<Dir>/attic/f<ino> hard link keeping an inode PowerFail may need
//	                   (dirty data, or a synced name removed or replaced)
//	<Dir>/attic/u<ino> the synced bytes of pages overwritten since the
//	                   file's fsync, at their own offsets (sparse; zero
//	                   pages are not written)
//	<Dir>/attic/d<ino> a synced directory removed since its parent's fsync
//	in memory          per file: synced size, saved page set; per directory
//	                   changed since its fsync: its entries (name → inode)
//	                   as of that fsync
//
// PowerFail unmounts (every user must be dead, else ErrBusy), rewrites the
// saved pages and cuts each dirty file to its synced size, moves every
// entry a changed directory did not have at its fsync into a trash
// (deepest first), brings every synced entry back (files by their attic
// link, directories from wherever they went), empties the attic and mounts
// again. A concurrent write and fsync may leave the write durable, as a
// page cache may; a write that finished before an fsync began never is
// lost.
//
// # TruncateTail
//
// # What a cut may legally lose on one node
//
// A node acknowledges a produce once its bytes are durable in the shard's
// journal (or, for a large direct write, in the segment itself, followed by
// a barrier record); segment writes behind the journal are write-behind
// until a checkpoint releases the journal records. So a segment tail whose
// entries the journal still holds must come back, byte for byte, when the
// node restarts (engine recovery cuts the torn tail, then replays the
// journal onto it). Cutting a tail the journal no longer covers destroys
// the only copy of acknowledged data: with peers it would be repaired from
// them (G12), on one node it is data loss the broker cannot prevent, and a
// chaos run that did it would report a lost write that is the harness's
// fault. TruncateTail therefore cuts only inside entries the journal
// covers, and reports "nothing cut" when no partition has such a tail.
//
// # How the covered range is found (read-only)
//
//	<data>/shards/<s>/kv/kv.snap           checkpoint C (kv.Load)
//	<data>/shards/<s>/journal/<n>.jnl      records from C (journal.Replay,
//	                                       through a read-only vfs.FS)
//	<data>/shards/<s>/partitions/<key>/<base>.log   the segments
//
// For each partition: the first index of its entries records after its
// latest barrier (and none if it was removed). The kinds are the engine's
// (storage/engine/doc.go): entries 1, barrier 3, remove 5.
//
// The cut lands in the middle of the last data entry of the partition's
// last segment whose index is at or past the covered index.
package diskfault
