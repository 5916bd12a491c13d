// Package shard is the node's shard runtime: N shard goroutines (one per
// core by default), each the sole owner of the state sent to it, with
// bounded inboxes, per-shard timers that cost nothing when idle, and byte
// budgets that turn memory pressure into backpressure. It knows nothing of
// partitions, Raft or Kafka: the storage engine and partitions plug in
// through functions and the Loop interface.
//
// # Ownership
//
// A partition is owned by shard ShardFor(HashPartition(key), n). Its state
// is only ever touched by functions running on that shard, so it needs no
// locks. Every function a shard runs receives the *Shard; methods marked
// "owner only" (timers, tickers, Go, Call, SetLoop) must be called from
// such a function. Other goroutines reach a shard only by sending it a
// function:
//
//	rt.Submit(id, fn)        fire-and-forget; ErrInboxFull when the inbox is full
//	rt.InvokeOn(ctx, id, fn) run and wait; waits for room, bounded by ctx
//
// # The loop
//
// A shard goroutine sleeps until something arrives, then takes everything
// that is there as one batch, then runs its Loop:
//
//	┌──► wait: inbox message │ completion │ timer due │ stop  (nothing else wakes it)
//	│      │
//	│      ▼
//	│    1. completions of Go/Call already back (all of them)
//	│    2. inbox: every message present now, in order (one batch)
//	│    3. timers and ticks that are due
//	│    4. Loop.AfterBatch(s)           ◄── the engine starts its sync round here
//	│      │
//	└──────┘  (stopping: exit once inbox empty, nothing pending, Loop idle)
//
// There is no batching timer: while the shard works, messages pile up in
// the inbox and the next iteration takes them all. Batches grow by
// themselves under load and shrink to one message when idle.
//
// # How the storage engine's sync round plugs in
//
// The engine implements Loop. Writes arrive as inbox messages and only
// append to per-partition buffers in memory. AfterBatch starts a sync
// round when there is work and none is in flight: it cuts what was written
// so far and hands the blocking part (write, fdatasync: 0.3-1 ms) to a
// helper goroutine with Shard.Go. The round's completion comes back to the
// shard as a message of its own; it acknowledges what the round covered,
// and the AfterBatch of that same iteration starts the next round at once
// with everything that arrived meanwhile:
//
//	shard:  [batch a]AB→start R1 [batch b][batch c] [R1 done; batch d]AB→start R2 …
//	helper:                 R1: write+fdatasync(a)       R2: write+fdatasync(b,c,d)
//
// So the shard never blocks on the disk, one fdatasync covers every
// partition of the shard, and the round after a slow one is bigger, not
// later. In code:
//
//	func (e *engine) AfterBatch(s *shard.Shard) {
//		if e.inFlight || !e.dirty() {
//			return
//		}
//		r := e.cutRound()                 // owner: takes the buffered writes
//		e.inFlight = true
//		s.Go(r.writeAndSync, func(*shard.Shard) {
//			e.inFlight = false
//			e.finish(r)                   // owner: acks, read views, waiters
//		})
//	}
//	func (e *engine) Idle() bool { return !e.inFlight && !e.dirty() }
//
// A simpler engine may also sync inside AfterBatch; the shard then stops
// draining during the sync, and the next batch is what arrived meanwhile.
//
// # Cross-shard calls and the one rule
//
// Never block a shard on another shard. Runtime.InvokeOn waits, so calling
// it from inside a shard stalls every partition of the caller and two
// shards invoking each other deadlock. Inside a shard use
//
//	s.Call(target, fn, then) // fn runs on target, then then runs back here
//
// which never blocks: it fails at once with ErrInboxFull, ErrStopped or
// ErrBusy, and otherwise its reply is guaranteed a slot (Config.MaxPending
// bounds the calls and helpers a shard has pending, and the completion
// queue is exactly that big).
//
// # Timers
//
// AfterFunc timers and Tickers live in a per-shard heap served by one
// runtime timer armed for the earliest deadline. A Ticker is registered
// asleep and ticks at Config.TickInterval only while awake; a quiesced
// Raft group sleeps its ticker. With no timer due and no ticker awake a
// shard's goroutine does not wake at all, however many entities are
// registered: an idle node costs no CPU.
//
// # Memory
//
// The node's one memory setting is split by SplitMemory (20% reserve, the
// rest per shard into inbox, write-behind, batch cache, decode and Raft
// budgets; see Budgets). A Budget is a byte semaphore any goroutine may
// use; Acquire waits in FIFO order, bounded by its ctx. The node calls
// SetGoMemoryLimit with the same setting (MemoryFromRAM computes a share
// of RAM, cgroup-aware) so the garbage collector works harder before the
// process exceeds it.
//
// # Stop
//
// Stop closes every inbox (new work gets ErrStopped), then each shard
// drains what it accepted: inbox messages, pending completions, and its
// Loop until Idle. Stop waits for that at most until its ctx ends.
//
// # Pinning
//
// With Config.Pin each shard goroutine is locked to an OS thread bound to
// one CPU of the process's affinity mask. It is off by default: a Go
// shard's value is ownership and batching; pinning is to be measured.
package shard
