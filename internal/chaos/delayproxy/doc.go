// Package delayproxy is the userspace TCP delay proxy of CHAOS.md §2.1:
// this kernel has no tc netem, so the slow-net fault puts one Proxy in
// front of a node's listener and lets the nemesis turn a one-way delay
// (and optional jitter) on and off while the run goes on.
//
// Usage:
//
//	p, err := delayproxy.New(delayproxy.Config{Listen: "127.0.0.1:0", Target: nodeAddr, Seed: seed}, log)
//	// peers dial p.Addr() instead of nodeAddr
//	p.SetDelay(120*time.Millisecond, 30*time.Millisecond) // fault on
//	p.SetDelay(0, 0)                                       // heal
//	p.Close()
//
// Contract:
//   - Every byte read from one side is written to the other side intact and
//     in order, no earlier than delay (+ a seeded jitter in [0, jitter)) after
//     it was read. Due times never go backwards within a direction, so jitter
//     delays but never reorders a TCP stream. Delay is latency, not a
//     throughput cap: chunks in flight are pipelined.
//   - Each direction buffers at most MaxInFlight chunks of at most ChunkBytes
//     bytes; past that the reader stops reading (TCP backpressure).
//   - A half-close (EOF) is forwarded as CloseWrite after the bytes before it;
//     an error on either side closes both connections. Close stops the
//     listener and every live connection.
//
// Data flow of one accepted connection:
//
//	client --read--> [chunk, due] queue --wait until due--> write --> target
//	client <--write-- wait until due <-- [chunk, due] queue <--read-- target
package delayproxy
