// Package loopfs makes the small real file system of the disk-full fault
// (CHAOS.md §2.1: "loop-mounted 32 MiB ext4 image — works, real ENOSPC"):
// a file of Size bytes is fallocated, formatted with mkfs.ext4 -F and
// mounted with mount -o loop on a directory that becomes a node's data dir.
//
// Usage:
//
//	if err := loopfs.Available(); err != nil { /* skip disk-full with err */ }
//	fs, err := loopfs.Mount(ctx, image, dir, 48<<20)
//	defer fs.Unmount()                // unmounts and deletes the image
//
// Contract: root only (ErrNotRoot), and the tools must exist
// (ErrMissingTool). Mount cleans up after itself on any failure; Unmount
// is idempotent and removes the image file.
package loopfs
