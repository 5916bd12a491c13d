package petrel_test

// Raw Kafka frames, record batches and requests for the bad-input test:
// requests are built with kmsg and framed with kmsg's RequestFormatter;
// batches are encoded here so a test can break any byte of them.
//
// Record batch v2 offsets used below:
//
//	0 baseOffset int64 | 8 batchLength int32 | 12 partitionLeaderEpoch int32 |
//	16 magic int8 | 17 crc uint32 (CRC-32C of bytes 21..end) | 21 attributes int16 |
//	23 lastOffsetDelta int32 | 27 firstTimestamp int64 | 35 maxTimestamp int64 |
//	43 producerId int64 | 51 producerEpoch int16 | 53 baseSequence int32 |
//	57 recordCount int32 | 61 records

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// --- frames and batches ---

func be32(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

// rawFrame is a request with a v1 header (null client id), plus the empty
// tag section of a v2 header when the body starts with one (flexible keys
// are given their body with it).
func rawFrame(key, version int16, body []byte) []byte {
	b := be32(0)
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, 1)
	b = append(b, 0xff, 0xff)
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchWith is a v2 record batch of count records (records already
// encoded, or compressed with codec) with its CRC-32C.
func batchWith(codec int16, records []byte, count int32) []byte {
	now := time.Now().UnixMilli()
	rb := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, Attributes: codec,
		LastOffsetDelta: count - 1, FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: count, Records: records}
	return fixCRC(withLength(rb.AppendTo(nil), -2))
}

// batchOf is an uncompressed batch holding one record per value.
func batchOf(values ...string) []byte {
	var recs []byte
	for i, v := range values {
		body := []byte{0}                        // attributes
		body = kbin.AppendVarlong(body, 0)       // timestamp delta
		body = kbin.AppendVarint(body, int32(i)) // offset delta
		body = kbin.AppendVarint(body, -1)       // null key
		body = kbin.AppendVarintBytes(body, []byte(v))
		body = kbin.AppendVarint(body, 0) // headers
		recs = kbin.AppendVarint(recs, int32(len(body)))
		recs = append(recs, body...)
	}
	return batchWith(0, recs, int32(len(values)))
}

func gzipZeros(n int) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zero := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(zero))
		_, _ = zw.Write(zero[:k])
		n -= k
	}
	_ = zw.Close()
	return buf.Bytes()
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// withLength sets a batch's length field (-2: the true length).
func withLength(b []byte, n int32) []byte {
	b = clone(b)
	if n == -2 {
		n = int32(len(b) - 12)
	}
	binary.BigEndian.PutUint32(b[8:], uint32(n))
	return b
}

// fixCRC recomputes a batch's CRC-32C (attributes to the end).
func fixCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

func patch32(b []byte, at int, v int32) []byte {
	b = clone(b)
	binary.BigEndian.PutUint32(b[at:], uint32(v))
	return b
}

func patch64(b []byte, at int, v int64) []byte {
	b = clone(b)
	binary.BigEndian.PutUint64(b[at:], uint64(v))
	return b
}

func patchByte(b []byte, at int, v byte) []byte {
	b = clone(b)
	b[at] = v
	return b
}

// --- requests ---

func produceReq(version int16, topic string, partition int32, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = version, -1, 5000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = topic
	p := kmsg.NewProduceRequestTopicPartition()
	p.Partition, p.Records = partition, records
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	return req
}

func produceReqID(id [16]byte, records []byte) *kmsg.ProduceRequest {
	req := produceReq(13, "", 0, records)
	req.Topics[0].TopicID = id
	return req
}

func withAcks(req *kmsg.ProduceRequest, acks int16) *kmsg.ProduceRequest {
	req.Acks = acks
	return req
}

func withTxn(req *kmsg.ProduceRequest) *kmsg.ProduceRequest {
	req.TransactionID = kmsg.StringPtr("txn")
	return req
}

func fetchReq(version int16, topic string, partition int32, offset int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = version, -1, 100, 1, 1<<20
	t := kmsg.NewFetchRequestTopic()
	t.Topic = topic
	p := kmsg.NewFetchRequestTopicPartition()
	p.Partition, p.FetchOffset, p.PartitionMaxBytes, p.CurrentLeaderEpoch = partition, offset, 1<<20, -1
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	return req
}

func fetchReqID(id [16]byte, offset int64) *kmsg.FetchRequest {
	req := fetchReq(13, "", 0, offset)
	req.Topics[0].TopicID = id
	return req
}

func withWait(req *kmsg.FetchRequest, waitMs, minBytes int32) *kmsg.FetchRequest {
	req.MaxWaitMillis, req.MinBytes = waitMs, minBytes
	return req
}

func withMaxBytes(req *kmsg.FetchRequest, total, partition int32) *kmsg.FetchRequest {
	req.MaxBytes, req.Topics[0].Partitions[0].PartitionMaxBytes = total, partition
	return req
}

func withEpoch(req *kmsg.FetchRequest, epoch int32) *kmsg.FetchRequest {
	req.Topics[0].Partitions[0].CurrentLeaderEpoch = epoch
	return req
}

func listOffsetsReq(topic string, timestamp int64, epoch int32) *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version, req.ReplicaID = 7, -1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = topic
	p := kmsg.NewListOffsetsRequestTopicPartition()
	p.Partition, p.Timestamp, p.CurrentLeaderEpoch = 0, timestamp, epoch
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	return req
}

func metadataReq(version int16, topic string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = version
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	return req
}

func createReq(name string, partitions int32, rf int16) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.TimeoutMillis = 5, 10000
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = name, partitions, rf
	req.Topics = append(req.Topics, t)
	return req
}
