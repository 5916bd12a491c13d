package engine

import (
	"encoding/binary"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/storage"
)

// batch returns a valid record batch v2 of size bytes (at least the
// header) declaring count records at base with max timestamp ts; the
// records section is filler, which storage never decodes.
func batch(base model.Offset, count int32, ts int64, size int, fill byte) []byte {
	size = max(size, model.BatchHeaderSize)
	b := make([]byte, size)
	binary.BigEndian.PutUint64(b[0:], uint64(base))
	binary.BigEndian.PutUint32(b[8:], uint32(size-12))
	b[16] = 2
	binary.BigEndian.PutUint32(b[23:], uint32(count-1))
	binary.BigEndian.PutUint64(b[27:], uint64(ts))
	binary.BigEndian.PutUint64(b[35:], uint64(ts))
	binary.BigEndian.PutUint64(b[43:], ^uint64(0))
	binary.BigEndian.PutUint16(b[51:], 0xFFFF)
	binary.BigEndian.PutUint32(b[53:], 0xFFFFFFFF)
	binary.BigEndian.PutUint32(b[57:], uint32(count))
	for i := model.BatchHeaderSize; i < size; i++ {
		b[i] = fill + byte(i)
	}
	binary.BigEndian.PutUint32(b[17:], model.CRC32C(b[21:]))
	return b
}

// dataEntry encodes one data entry carrying a batch at offset o.
func dataEntry(dst []byte, i model.Index, t model.Term, o model.Offset, count int32, size int, fill byte) []byte {
	return storage.AppendEntry(dst, storage.EntryHeader{
		Index: i, Term: t, Offset: o, Type: storage.EntryData, Count: uint32(count),
	}, batch(o, count, 1_700_000_000_000+int64(i), size, fill))
}

// internalEntry encodes one Raft-only entry at the next offset o.
func internalEntry(dst []byte, i model.Index, t model.Term, o model.Offset, payload []byte) []byte {
	return storage.AppendEntry(dst, storage.EntryHeader{
		Index: i, Term: t, Offset: o, Type: storage.EntryInternal,
	}, payload)
}

func key(n int) model.PartitionKey {
	var id model.TopicID
	id[0], id[15] = 0xAB, byte(n>>8)
	return model.PartitionKey{Topic: id, Partition: model.PartitionID(n)}
}
