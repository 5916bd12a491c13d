package shard

import (
	"context"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/petrel-streaming/petrel/internal/model"
)

// The mapping must never change between releases: these values are pinned
// (computed independently with a Python SplitMix64 and FNV-1a).
func TestShardForStable(t *testing.T) {
	for _, c := range []struct {
		hash uint64
		n    int
		want model.ShardID
	}{
		{0, 8, 0}, {1, 8, 2}, {2, 8, 6}, {12345, 8, 7}, {1 << 63, 16, 2}, {^uint64(0), 3, 2},
	} {
		if got := ShardFor(c.hash, c.n); got != c.want {
			t.Errorf("ShardFor(%d, %d) = %d, want %d", c.hash, c.n, got, c.want)
		}
	}
	var id model.TopicID
	copy(id[:], "0123456789abcdef")
	if h := HashPartition(model.PartitionKey{Topic: id, Partition: 3}); h != 0x9d7df382da1864b4 {
		t.Errorf("HashPartition = %#x", h)
	}
}

// Sequential partition numbers of one topic spread evenly over shards.
func TestShardForUniform(t *testing.T) {
	const n, parts = 6, 6000
	var counts [n]int
	var id model.TopicID
	for p := 0; p < parts; p++ {
		counts[ShardFor(HashPartition(model.PartitionKey{Topic: id, Partition: model.PartitionID(p)}), n)]++
	}
	for i, c := range counts {
		if c < parts/n*8/10 || c > parts/n*12/10 {
			t.Fatalf("shard %d owns %d of %d partitions: %v", i, c, parts, counts)
		}
	}
	r := newRuntime(t, Config{Shards: n})
	if r.ShardFor(42) != ShardFor(42, n) {
		t.Fatal("Runtime.ShardFor disagrees with ShardFor")
	}
}

// With Pin, each shard's thread is bound to exactly one allowed CPU.
func TestPin(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("pinning is Linux only")
	}
	r := startRuntime(t, Config{Shards: 2, Pin: true})
	for i := 0; i < r.Len(); i++ {
		var set unix.CPUSet
		var err error
		if e := r.InvokeOn(context.Background(), model.ShardID(i), func(*Shard) {
			err = unix.SchedGetaffinity(0, &set)
		}); e != nil {
			t.Fatal(e)
		}
		if err != nil || set.Count() != 1 {
			t.Fatalf("shard %d affinity: %v, %d CPUs", i, err, set.Count())
		}
	}
}
