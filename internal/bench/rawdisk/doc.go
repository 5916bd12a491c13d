// Package rawdisk measures what a file system can do with no software of
// ours in the way: sequential writes of one block size into a file filled
// beforehand, each write followed by fdatasync. Its figures are the
// machine's own limits that Petrel's benchmarks report ratios to: 1 MiB
// blocks give the durable bandwidth, 4 KiB blocks the latency of one small
// durable write.
//
// It imports only vfs, so both the bench command (internal/bench) and the
// storage engine's benchmark (internal/storage/engine) can call it without
// crossing a layer (internal/lint).
//
// # Method
//
//	create name; write fileBytes of zeros in 1 MiB writes; fsync   (the file exists, its blocks allocated)
//	until dur has passed (at most SampleMax writes):
//	    t = now; write blockBytes at off; fdatasync; record now − t
//	    off += blockBytes, back to 0 at the end of the file
//	remove name
//
// Writing zeros first (not fallocate) makes every measured write an
// overwrite of allocated, written blocks: fdatasync then flushes data and
// the device cache, not file-system metadata.
package rawdisk
