package shard

import (
	"fmt"
	"runtime/debug"
)

// ShardBudgets are one shard's memory budgets, one per subsystem. The
// Budget values are shared by every goroutine that works for the shard.
type ShardBudgets struct {
	// Inbox: bytes of requests handed to the shard and not yet processed.
	// Connection goroutines acquire before reading a request body.
	Inbox *Budget
	// WriteBehind: appended data not yet written to segment files.
	WriteBehind *Budget
	// BatchCache: recently written batches kept for tailing readers.
	BatchCache *Budget
	// Decode: decompression and validation scratch space.
	Decode *Budget
	// Raft: entries in flight in Raft (unstable log, messages to peers,
	// requests waiting for commit).
	Raft *Budget
}

// Budgets is the split of the node's one memory setting.
type Budgets struct {
	Total    int64 // the memory setting; also the Go memory limit
	Reserve  int64 // kept out of every budget: Go runtime, GC headroom, stacks, metadata
	PerShard int64 // what each shard's budgets add up to
	Shards   []ShardBudgets
}

// The split, in percent. ReservePercent of the total is kept out of the
// budgets (the Go runtime needs headroom under its memory limit, and
// goroutine stacks, connection state and cluster metadata are not
// budgeted); the rest is divided equally between shards, and each shard's
// share between its subsystems:
//
//	total ─┬─ 20% reserve
//	       └─ 80% ÷ shards ─┬─ 10% inbox
//	                        ├─ 25% write-behind
//	                        ├─ 35% batch cache
//	                        ├─ 15% decode
//	                        └─ 15% raft
const (
	ReservePercent = 20
	// MinSubsystemBytes is the least any subsystem of any shard gets; a
	// memory setting that cannot give it is refused.
	MinSubsystemBytes = 256 << 10
)

var subsystems = []struct {
	name    string
	percent int64
	field   func(*ShardBudgets) **Budget
}{
	{"inbox", 10, func(b *ShardBudgets) **Budget { return &b.Inbox }},
	{"write_behind", 25, func(b *ShardBudgets) **Budget { return &b.WriteBehind }},
	{"batch_cache", 35, func(b *ShardBudgets) **Budget { return &b.BatchCache }},
	{"decode", 15, func(b *ShardBudgets) **Budget { return &b.Decode }},
	{"raft", 15, func(b *ShardBudgets) **Budget { return &b.Raft }},
}

// SplitMemory divides memory bytes between shards and their subsystems as
// drawn above. It fails when a subsystem would get less than
// MinSubsystemBytes.
func SplitMemory(memory int64, shards int) (Budgets, error) {
	if shards <= 0 {
		return Budgets{}, fmt.Errorf("shard: split memory over %d shards", shards)
	}
	reserve := memory / 100 * ReservePercent
	per := (memory - reserve) / int64(shards)
	b := Budgets{Total: memory, Reserve: reserve, PerShard: per, Shards: make([]ShardBudgets, shards)}
	for i := range b.Shards {
		for _, sub := range subsystems {
			n := per / 100 * sub.percent
			if n < MinSubsystemBytes {
				return Budgets{}, fmt.Errorf("shard: memory %d bytes over %d shards gives %s %d bytes, under the minimum %d",
					memory, shards, sub.name, n, MinSubsystemBytes)
			}
			*sub.field(&b.Shards[i]) = NewBudget(fmt.Sprintf("shard %d %s", i, sub.name), n)
		}
	}
	return b, nil
}

// SetGoMemoryLimit sets the Go runtime's soft memory limit to memory bytes
// and returns the previous limit. The node calls it once at start-up with
// the memory setting (see MemoryFromRAM); nothing does at package init.
func SetGoMemoryLimit(memory int64) (previous int64) {
	return debug.SetMemoryLimit(memory)
}

// MemoryFromRAM returns percent % of the memory available to the process:
// the smaller of physical RAM and the cgroup limit when one is set (a
// container's RAM is its limit, not the host's).
func MemoryFromRAM(percent int) (int64, error) {
	if percent <= 0 || percent > 100 {
		return 0, fmt.Errorf("shard: memory share %d%% not in (0, 100]", percent)
	}
	ram, err := availableRAM()
	if err != nil {
		return 0, err
	}
	return ram / 100 * int64(percent), nil
}
