package kafka

// Produce (key 0) decode guard, shared by Petrel's Produce handler
// (00_produce.go) and any other server built on this package (the bench
// package's null broker).
//
// Produce is the one request whose frames are large (up to
// MaxRequestBytes), so it cannot be charged the measured decode bound of
// amplify.go (86×: a partition without records encodes in 6 bytes and
// decodes to a 40-byte element). ProduceCheck walks the body before it is
// decoded, adds up exactly what the hardened decoder will allocate for it
// (array elements with their preallocation and doubling, string copies;
// record bytes alias the frame and cost nothing) and refuses a body that
// would cost more than produceAmplification × its length. The key file
// registers:
//
//	API{Key: 0, …, MaxBodyBytes: math.MaxInt32,
//	    Check: ProduceCheck, Amplification: produceAmplification}
//
// so the decode budget charge of a Produce frame is (1 + 2) × its size.
//
// What real clients send passes with room: every partition of a real
// Produce carries a record batch, at least a 61-byte v2 header and one
// record, which makes the densest real body ~70 bytes per partition
// against ≤ 3 × 40 bytes of elements (in the doubling phase), under 2×.
// A body of partitions without records (null or a few bytes) is refused.
//
// Layout walked (v3+; flexible from v9: compact lengths and tag sections):
//
//	transactional id  nullable string
//	acks              int16
//	timeout ms        int32
//	topics            [name string (v0–12) | topic id uuid (v13+)
//	                   partitions [partition int32 | records nullable bytes | tags]
//	                   tags]
//	tags

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// produceAmplification is the decoded-bytes per body-byte ratio a Produce
// body may reach (see ProduceCheck): the API.Amplification of Produce.
const produceAmplification = 2

const (
	produceTopicBytes     = int64(unsafe.Sizeof(kmsg.ProduceRequestTopic{}))
	producePartitionBytes = int64(unsafe.Sizeof(kmsg.ProduceRequestTopicPartition{}))
	stringPointerBytes    = 16 // a nullable string's header, Go's smallest size class
)

var (
	errProduceDense     = errors.New("produce body decodes to too much memory for its size")
	errProduceTruncated = errors.New("produce body truncated")
)

// ProduceCheck is the API.Check of Produce: it refuses a body (the bytes
// after the request header) that does not walk as a Produce request of
// version, or whose decoded structure would take more than
// produceAmplification × len(body) bytes of heap. It allocates nothing
// that grows with the body and runs in one pass.
func ProduceCheck(version int16, body []byte) error {
	cost, err := produceDecodeCost(version, body)
	if err != nil {
		return err
	}
	if limit := produceAmplification * int64(len(body)); cost > limit {
		return fmt.Errorf("%w: %d bytes decode to %d, limit %d", errProduceDense, len(body), cost, limit)
	}
	return nil
}

// produceDecodeCost is what decodeProduceRequest allocates for body,
// counted while walking it the same way.
func produceDecodeCost(version int16, body []byte) (int64, error) {
	flexible := version >= 9
	b := kbin.Reader{Src: body}
	var cost int64
	arrayLen := func() int32 {
		if flexible {
			return b.CompactArrayLen()
		}
		return b.ArrayLen()
	}
	if version >= 3 {
		var id *string
		if flexible {
			id = b.UnsafeCompactNullableString()
		} else {
			id = b.UnsafeNullableString()
		}
		if id != nil {
			cost += stringPointerBytes + int64(len(*id))
		}
	}
	b.Int16() // acks
	b.Int32() // timeout
	topics := arrayLen()
	var topicsSeen int32
	for ; topicsSeen < topics && b.Ok(); topicsSeen++ {
		if version <= 12 {
			var name string
			if flexible {
				name = b.UnsafeCompactString()
			} else {
				name = b.UnsafeString()
			}
			cost += int64(len(name))
		} else {
			b.Uuid()
		}
		parts := arrayLen()
		if !b.Ok() {
			break
		}
		var partsSeen int32
		for ; partsSeen < parts && b.Ok(); partsSeen++ {
			b.Int32()
			if flexible {
				b.CompactNullableBytes()
				skipTags(&b)
			} else {
				b.NullableBytes()
			}
		}
		cost += arrayAllocBytes(parts, partsSeen, producePartitionBytes)
		if flexible {
			skipTags(&b)
		}
	}
	cost += arrayAllocBytes(topics, topicsSeen, produceTopicBytes)
	if flexible {
		skipTags(&b)
	}
	if !b.Ok() {
		return cost, errProduceTruncated
	}
	return cost, nil
}

// arrayAllocBytes is the heap the hardened decoders allocate for an array
// of elemBytes elements that announces count and decodes seen of them: a
// first capacity of min(count, arrayPreallocMax), then appendZero's
// doubling, every abandoned array included, each allocation rounded up as
// Go's allocator rounds it.
func arrayAllocBytes(count, seen int32, elemBytes int64) int64 {
	if count <= 0 {
		return 0
	}
	c := int64(min(count, arrayPreallocMax))
	total := heapRounded(c * elemBytes)
	for c < int64(seen) {
		c = max(2*c, arrayPreallocMax)
		total += heapRounded(c * elemBytes)
	}
	return total
}

// heapRounded bounds what an allocation of n bytes occupies: small objects
// go to size classes that waste at most 1/8, large ones whole 8 KiB pages.
func heapRounded(n int64) int64 {
	const smallMax, page = 32 << 10, 8 << 10
	if n <= smallMax {
		return n + n/8 + 16
	}
	return (n + page - 1) / page * page
}
