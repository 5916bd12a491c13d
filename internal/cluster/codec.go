package cluster

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Bounds on every length and count the decoders accept. They are far above
// what a real cluster uses and far below what would let a hostile or
// corrupt input allocate much: a count is also checked against the bytes
// left before anything is allocated.
const (
	MaxTopicNameLen       = 249       // Kafka's limit
	MaxPartitionsPerTopic = 1 << 16   // INVALID_PARTITIONS above
	MaxReplicationFactor  = 32        // replicas of one partition
	MaxConfigsPerCommand  = 256       // keys set or deleted at once
	MaxConfigKeyLen       = 255       // bytes
	MaxConfigValueLen     = 16 << 10  // bytes
	MaxAddrLen            = 255       // host:port, bytes
	MaxRackLen            = 255       // bytes
	MaxBrokers            = 1 << 12   // brokers in a snapshot
	MaxTopics             = 1 << 20   // topics in a snapshot
	MaxProducerIDBlock    = 1 << 20   // ids one AllocateProducerIDs may take
	maxSnapshotPartitions = 1 << 24   // partitions over all topics in a snapshot
	maxStringLen          = 1<<16 - 1 // what a u16 length can say
)

// appendString appends a u16 length and the bytes of s. Callers keep s
// within their field's bound (Validate does; the encoders cut nothing), and
// the decoders refuse anything longer.
func appendString(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

func appendNodeIDs(dst []byte, ids []model.NodeID) []byte {
	dst = append(dst, uint8(len(ids)))
	for _, id := range ids {
		dst = binary.BigEndian.AppendUint32(dst, uint32(id))
	}
	return dst
}

// appendAssignment encodes replicas per partition: u32 count, then per
// partition a u8 replica count and that many i32 node ids.
func appendAssignment(dst []byte, a [][]model.NodeID) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(a)))
	for _, r := range a {
		dst = appendNodeIDs(dst, r)
	}
	return dst
}

// appendConfigs encodes a map as u16 count and key/value strings in key
// order, so the same map always gives the same bytes.
func appendConfigs(dst []byte, m map[string]string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		dst = appendString(dst, k)
		dst = appendString(dst, m[k])
	}
	return dst
}

func appendStrings(dst []byte, ss []string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(ss)))
	for _, s := range ss {
		dst = appendString(dst, s)
	}
	return dst
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// reader decodes with a sticky error: the first failure is kept, every
// later read returns zero values, and the caller checks err once at the
// end. It never panics and never allocates more than the bytes left could
// describe.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("cluster: "+format+": %w", append(args, model.ErrCorrupt)...)
	}
	r.b = nil
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.fail("%s: need %d bytes, have %d", what, n, len(r.b))
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8(what string) uint8 {
	if v := r.take(1, what); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16(what string) uint16 {
	if v := r.take(2, what); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32(what string) uint32 {
	if v := r.take(4, what); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64(what string) uint64 {
	if v := r.take(8, what); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *reader) bool(what string) bool {
	switch v := r.u8(what); v {
	case 0:
		return false
	case 1:
		return true
	default:
		r.fail("%s: bool byte %d", what, v)
		return false
	}
}

func (r *reader) string(what string, maxLen int) string {
	n := int(r.u16(what))
	if r.err == nil && n > maxLen {
		r.fail("%s: length %d above %d", what, n, maxLen)
	}
	return string(r.take(n, what))
}

// count reads a u32 (or u16/u8, by width) count and checks it against max
// and against the bytes left, given each element needs at least minSize.
func (r *reader) count(what string, width, max, minSize int) int {
	var n int
	switch width {
	case 1:
		n = int(r.u8(what))
	case 2:
		n = int(r.u16(what))
	default:
		n = int(r.u32(what))
	}
	if r.err != nil {
		return 0
	}
	if n > max {
		r.fail("%s: count %d above %d", what, n, max)
		return 0
	}
	if n*minSize > len(r.b) {
		r.fail("%s: count %d needs at least %d bytes, have %d", what, n, n*minSize, len(r.b))
		return 0
	}
	return n
}

func (r *reader) topicID(what string) model.TopicID {
	var id model.TopicID
	copy(id[:], r.take(len(id), what))
	return id
}

func (r *reader) nodeIDs(what string) []model.NodeID {
	n := r.count(what, 1, MaxReplicationFactor, 4)
	if n == 0 {
		return nil
	}
	ids := make([]model.NodeID, n)
	for i := range ids {
		ids[i] = model.NodeID(int32(r.u32(what)))
	}
	return ids
}

func (r *reader) assignment(what string, max int) [][]model.NodeID {
	n := r.count(what, 4, max, 1)
	if n == 0 {
		return nil
	}
	a := make([][]model.NodeID, n)
	for i := range a {
		a[i] = r.nodeIDs(what)
	}
	return a
}

func (r *reader) configs(what string) map[string]string {
	n := r.count(what, 2, MaxConfigsPerCommand, 4)
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := r.string(what+" key", MaxConfigKeyLen)
		m[k] = r.string(what+" value", MaxConfigValueLen)
	}
	if r.err == nil && len(m) != n {
		r.fail("%s: duplicate key", what)
	}
	return m
}

func (r *reader) strings(what string, max, maxLen int) []string {
	n := r.count(what, 2, max, 2)
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = r.string(what, maxLen)
	}
	return ss
}

// done fails if bytes are left over: an encoding has exactly one length.
func (r *reader) done(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%s: %d trailing bytes", what, len(r.b))
	}
	return r.err
}
