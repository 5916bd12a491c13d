package shard

import (
	"encoding/binary"
	"hash/fnv"
	"math/bits"

	"github.com/petrel-streaming/petrel/internal/model"
)

// ShardFor maps a 64-bit key hash to one of n shards. The mapping is
// stable: the same hash and n give the same shard in every process and
// every release (a test pins known values), and it is uniform even when
// the input hashes are not (it mixes before reducing). n must be > 0.
func ShardFor(hash uint64, n int) model.ShardID {
	hi, _ := bits.Mul64(mix64(hash), uint64(n))
	return model.ShardID(hi)
}

// mix64 is the SplitMix64 finaliser: a bijection that spreads every input
// bit over the output.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// HashPartition is the ownership hash of a partition: FNV-1a over the topic
// ID and the big-endian partition number.
func HashPartition(k model.PartitionKey) uint64 {
	h := fnv.New64a()
	h.Write(k.Topic[:])
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], uint32(k.Partition))
	h.Write(p[:])
	return h.Sum64()
}
