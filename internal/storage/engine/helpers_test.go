package engine

import (
	"testing"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/storage"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// batch returns a valid record batch v2 of size bytes (at least the
// header) declaring count records at base with max timestamp ts; the
// records section is filler, which storage never decodes.
func batch(base model.Offset, count int32, ts int64, size int, fill byte) []byte {
	body := make([]byte, max(size, model.BatchHeaderSize)-model.BatchHeaderSize)
	for i := range body {
		body[i] = fill + byte(model.BatchHeaderSize+i)
	}
	return model.AppendBatch(nil, model.BatchFields{
		BaseOffset: base, LastOffsetDelta: count - 1, BaseTimestamp: ts, MaxTimestamp: ts,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, RecordCount: count,
	}, body)
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

// openMem opens an engine with crashOptions on a new in-memory FS; the
// test's cleanup closes it.
func openMem(t *testing.T) (*vfs.MemFS, Options, *Engine) {
	t.Helper()
	mem := vfs.NewMem()
	opts := crashOptions(mem)
	e, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return mem, opts, e
}
