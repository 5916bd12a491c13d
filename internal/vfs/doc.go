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
//   - A directory entry (Create, Rename, Remove) survives only if SyncDir of
//     its parent followed it; a file created and synced but whose directory
//     was not synced is gone after a crash.
//
// The OS implementation gives exactly these guarantees on ext4/xfs, which is
// why the engine never relies on more.
package vfs
