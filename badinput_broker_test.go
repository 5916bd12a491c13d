package petrel_test

// TestBadInputBroker: malformed requests against the whole embedded broker
// over raw TCP (CHAOS.md §3, invariant 6). Each case runs on its own
// connection and asserts either the exact Kafka error code (and that the
// same connection still answers ApiVersions) or that the broker closes the
// connection within 10 s without answering. After every case a franz-go
// client produces a record and fetches it back, the "bad" partition's high
// watermark is still 0 (no rejected batch was stored) and the case
// allocated boundedly; at the end the goroutine count is back to where it
// started.
//
// Fetch between the high watermark and the log end: on one node a batch is
// above the high watermark only between its append and its fsync, which a
// test cannot hold open from outside, so the cases check the two edges
// instead: a fetch at the high watermark is empty with no error, and one
// past the log end (= high watermark on a quiet partition) is
// OFFSET_OUT_OF_RANGE. internal/kafka's handler documents the middle.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// wantClose marks a case whose answer is a closed connection.
const wantClose = math.MinInt16

type badCase struct {
	name      string
	req       kmsg.Request // encoded by kmsg, then mutate (if set) edits the frame
	mutate    func([]byte) []byte
	raw       []byte // sent as is instead of req
	halfClose bool   // close our write side after sending (truncated frames)
	want      int16  // Kafka error code, or wantClose
	check     func(t *testing.T, resp kmsg.Response)
	allocMiB  uint64 // heap the case may allocate (default 32 MiB)
}

func TestBadInputBroker(t *testing.T) {
	b := startBroker(t, t.TempDir())
	t.Cleanup(func() { _ = b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	res, err := adm.CreateTopics(ctx, 1, 1, nil, "bad", "fix", "ok")
	if err != nil || res.Error() != nil {
		t.Fatalf("create topics: %v %v", err, res.Error())
	}
	for i := range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "fix", Value: fmt.Appendf(nil, "fix-%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	meta := rawMetadata(t, b.Addr(), "fix")
	fixID, epoch := meta.Topics[0].TopicID, meta.Topics[0].Partitions[0].LeaderEpoch
	okID := rawMetadata(t, b.Addr(), "ok").Topics[0].TopicID

	baseGoroutines := runtime.NumGoroutine()
	for i, tc := range badInputCases(fixID, epoch) {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			runBadCase(t, b.Addr(), tc)
			runtime.ReadMemStats(&after)
			limit := max(tc.allocMiB, 32) << 20
			if grew := after.TotalAlloc - before.TotalAlloc; grew > limit {
				t.Errorf("the case allocated %d MiB (limit %d MiB)", grew>>20, limit>>20)
			}
			checkStillServes(ctx, t, cl, adm, okID, i)
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseGoroutines+10 && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	if n := runtime.NumGoroutine(); n > baseGoroutines+10 {
		t.Errorf("goroutines: %d before the cases, %d after", baseGoroutines, n)
	}
}

func badInputCases(fixID [16]byte, epoch int32) []badCase {
	ok := batchOf("v")
	huge := batchOf(strings.Repeat("x", 1100<<10))
	gzipBomb := batchWith(1, gzipZeros(65<<20), 1)
	gzipGarbage := batchWith(1, []byte("this is not gzip at all"), 1)
	setAttr := func(attr int16) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint16(b[21:], uint16(attr)); return fixCRC(b) }
	}
	cases := []badCase{
		// §3.1 framing: closed before anything is allocated.
		{name: "size -1", raw: be32(-1), want: wantClose},
		{name: "size 0", raw: be32(0), want: wantClose},
		{name: "size 5", raw: append(be32(5), 0, 3, 0, 1, 0), want: wantClose},
		{name: "size INT32_MAX", raw: append(be32(math.MaxInt32), 0, 0, 0, 9), want: wantClose},
		{name: "size above 100 MiB", raw: append(be32(100<<20+1), 0, 0, 0, 9), want: wantClose},
		{name: "truncated frame", raw: append(be32(200), rawFrame(3, 1, nil)[4:]...), halfClose: true, want: wantClose},
		{name: "HTTP GET", raw: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), want: wantClose},
		// §3.2 header and body.
		{name: "unknown key 32767", raw: rawFrame(32767, 0, nil), want: wantClose},
		{name: "unknown key -1", raw: rawFrame(-1, 0, nil), want: wantClose},
		{name: "produce v14 unsupported", raw: rawFrame(0, 14, []byte{0, 0, 0xff, 0xff, 0, 0, 0x13, 0x88, 1, 0}), want: wantClose},
		{name: "fetch v3 unsupported", req: fetchReq(3, "fix", 0, 0), want: wantClose},
		{name: "fetch v99 unsupported", raw: rawFrame(1, 99, []byte{0}), want: wantClose},
		{name: "metadata v99 unsupported", raw: rawFrame(3, 99, []byte{0, 0}), want: wantClose},
		{name: "ApiVersions v99", raw: rawFrame(18, 99, nil), want: kerr.UnsupportedVersion.Code,
			check: func(t *testing.T, resp kmsg.Response) {
				if len(resp.(*kmsg.ApiVersionsResponse).ApiKeys) == 0 {
					t.Error("UNSUPPORTED_VERSION without our ranges")
				}
			}},
		{name: "metadata array INT32_MAX", raw: rawFrame(3, 1, []byte{0x7f, 0xff, 0xff, 0xff, 0, 1, 'a'}), want: wantClose},
		{name: "produce topics INT32_MAX", raw: rawFrame(0, 7, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0x13, 0x88, 0x7f, 0xff, 0xff, 0xff, 0, 1, 'a'}), want: wantClose},
		{name: "fetch topics INT32_MAX", raw: rawFrame(1, 11, append(make([]byte, 25), 0x7f, 0xff, 0xff, 0xff, 0, 1, 'a')), want: wantClose},
		{name: "produce partitions without records", req: produceReq(7, "bad", 0, nil), want: wantClose},
		{name: "trailing bytes after body", req: metadataReq(4, "fix"), mutate: func(b []byte) []byte {
			b = append(b, 1, 2, 3)
			binary.BigEndian.PutUint32(b, uint32(len(b)-4))
			return b
		}, want: wantClose},
		// §3.3 produce: the partition's code, nothing stored.
		{name: "bad CRC", req: produceReq(9, "bad", 0, patchByte(ok, 20, ok[20]^0xff)), want: kerr.CorruptMessage.Code},
		{name: "bad CRC in a value byte", req: produceReq(9, "bad", 0, patchByte(ok, len(ok)-2, 'w')), want: kerr.CorruptMessage.Code},
		{name: "magic 1", req: produceReq(9, "bad", 0, patchByte(ok, 16, 1)), want: kerr.InvalidRecord.Code},
		{name: "magic 0", req: produceReq(9, "bad", 0, patchByte(ok, 16, 0)), want: kerr.InvalidRecord.Code},
		{name: "magic 3 (from the future)", req: produceReq(9, "bad", 0, patchByte(ok, 16, 3)), want: kerr.InvalidRecord.Code},
		{name: "batch length past the end", req: produceReq(9, "bad", 0, withLength(ok, int32(len(ok))+100)), want: kerr.CorruptMessage.Code},
		{name: "batch length negative", req: produceReq(9, "bad", 0, withLength(ok, -1)), want: kerr.CorruptMessage.Code},
		{name: "record count != lastOffsetDelta+1", req: produceReq(9, "bad", 0, fixCRC(patch32(ok, 57, 2))), want: kerr.InvalidRecord.Code},
		{name: "client base offset", req: produceReq(9, "bad", 0, patch64(ok, 0, 7)), want: kerr.InvalidRecord.Code},
		{name: "two batches", req: produceReq(9, "bad", 0, append(append([]byte(nil), ok...), ok...)), want: kerr.InvalidRecord.Code},
		{name: "trailing bytes after batch", req: produceReq(9, "bad", 0, append(append([]byte(nil), ok...), 0, 0, 0)), want: kerr.CorruptMessage.Code},
		{name: "codec 5", req: produceReq(9, "bad", 0, setAttr(5)(clone(ok))), want: kerr.UnsupportedCompressionType.Code},
		{name: "LogAppendTime from producer", req: produceReq(9, "bad", 0, setAttr(8)(clone(ok))), want: kerr.InvalidTimestamp.Code},
		{name: "control batch from producer", req: produceReq(9, "bad", 0, setAttr(0x20)(clone(ok))), want: kerr.InvalidRecord.Code},
		{name: "corrupt gzip", req: produceReq(9, "bad", 0, gzipGarbage), want: kerr.CorruptMessage.Code},
		// Decompression stops at records.DefaultMaxUncompressedBytes (64
		// MiB), but the doubling buffer plus its last 1-byte growth step
		// allocate ~176 MiB for it (measured), none of it charged to the
		// decode budget (a 65 KB frame is charged ~200 KB).
		{name: "gzip bomb 65 MiB", req: produceReq(9, "bad", 0, gzipBomb), want: kerr.MessageTooLarge.Code, allocMiB: 256},
		{name: "oversized batch 1.1 MiB", req: produceReq(9, "bad", 0, huge), want: kerr.MessageTooLarge.Code},
		{name: "acks 2", req: withAcks(produceReq(9, "bad", 0, ok), 2), want: kerr.InvalidRequiredAcks.Code},
		{name: "transactional produce", req: withTxn(produceReq(9, "bad", 0, ok)), want: kerr.InvalidRequest.Code},
		{name: "produce unknown topic", req: produceReq(9, "nope", 0, ok), want: kerr.UnknownTopicOrPartition.Code},
		{name: "produce unknown partition", req: produceReq(9, "bad", 99, ok), want: kerr.UnknownTopicOrPartition.Code},
		{name: "produce partition -1", req: produceReq(9, "bad", -1, ok), want: kerr.UnknownTopicOrPartition.Code},
		{name: "produce v13 unknown topic id", req: produceReqID([16]byte{1, 2, 3}, ok), want: kerr.UnknownTopicID.Code},
		// §3.4 fetch and offsets ("fix" holds offsets 0-2).
		{name: "fetch unknown topic", req: fetchReq(12, "nope", 0, 0), want: kerr.UnknownTopicOrPartition.Code},
		{name: "fetch v13 unknown topic id", req: fetchReqID([16]byte{9}, 0), want: kerr.UnknownTopicID.Code},
		{name: "fetch unknown partition", req: fetchReq(12, "fix", 7, 0), want: kerr.UnknownTopicOrPartition.Code},
		{name: "fetch past log end", req: fetchReq(12, "fix", 0, 4), want: kerr.OffsetOutOfRange.Code},
		{name: "fetch offset -1", req: fetchReq(12, "fix", 0, -1), want: kerr.OffsetOutOfRange.Code},
		{name: "fetch offset INT64_MAX", req: fetchReq(12, "fix", 0, math.MaxInt64), want: kerr.OffsetOutOfRange.Code},
		{name: "fetch at high watermark", req: fetchReq(12, "fix", 0, 3), want: 0, check: fetchEmptyAt(3)},
		{name: "fetch min bytes huge waits boundedly", req: withWait(fetchReq(12, "fix", 0, 3), 200, math.MaxInt32), want: 0, check: fetchEmptyAt(3)},
		{name: "fetch v13 by id", req: fetchReqID(fixID, 1), want: 0, check: fetchHas("fix-1")},
		{name: "fetch max bytes 0", req: withMaxBytes(fetchReq(12, "fix", 0, 0), 0, 0), want: 0, check: fetchHas("fix-0")},
		{name: "fetch max bytes negative", req: withMaxBytes(fetchReq(12, "fix", 0, 0), -1, -1), want: 0, check: fetchHas("fix-0")},
		{name: "fetch future leader epoch", req: withEpoch(fetchReq(12, "fix", 0, 0), epoch+100), want: kerr.UnknownLeaderEpoch.Code},
		{name: "list offsets unknown topic", req: listOffsetsReq("nope", -1, -1), want: kerr.UnknownTopicOrPartition.Code},
		{name: "list offsets timestamp -7", req: listOffsetsReq("fix", -7, -1), want: kerr.InvalidRequest.Code},
		{name: "list offsets future leader epoch", req: listOffsetsReq("fix", -1, epoch+100), want: kerr.UnknownLeaderEpoch.Code},
		{name: "metadata unknown topic", req: metadataReq(4, "nope"), want: kerr.UnknownTopicOrPartition.Code},
		// §3.2 (13) topic names, partitions, replication.
		{name: "create topic empty name", req: createReq("", 1, 1), want: kerr.InvalidTopicException.Code},
		{name: "create topic 250 chars", req: createReq(strings.Repeat("a", 250), 1, 1), want: kerr.InvalidTopicException.Code},
		{name: "create topic ..", req: createReq("..", 1, 1), want: kerr.InvalidTopicException.Code},
		{name: "create topic slash", req: createReq("a/b", 1, 1), want: kerr.InvalidTopicException.Code},
		{name: "create topic NUL", req: createReq("a\x00b", 1, 1), want: kerr.InvalidTopicException.Code},
		{name: "create topic 0 partitions", req: createReq("zero", 0, 1), want: kerr.InvalidPartitions.Code},
		{name: "create topic RF 3 on one node", req: createReq("rf3", 1, 3), want: kerr.InvalidReplicationFactor.Code},
		{name: "create existing topic", req: createReq("fix", 1, 1), want: kerr.TopicAlreadyExists.Code},
	}
	if epoch > 0 {
		cases = append(cases, badCase{name: "fetch fenced leader epoch",
			req: withEpoch(fetchReq(12, "fix", 0, 0), epoch-1), want: kerr.FencedLeaderEpoch.Code})
	}
	return cases
}

// runBadCase sends tc on a new connection and checks its answer.
func runBadCase(t *testing.T, addr string, tc badCase) {
	t.Helper()
	nc := dialRaw(t, addr)
	frame := tc.raw
	if frame == nil {
		frame = kmsg.NewRequestFormatter(kmsg.FormatterClientID("badinput")).AppendRequest(nil, tc.req, 1)
		if tc.mutate != nil {
			frame = tc.mutate(frame)
		}
	}
	if _, err := nc.Write(frame); err != nil {
		t.Fatalf("write: %v", err)
	}
	if tc.halfClose {
		_ = nc.(*net.TCPConn).CloseWrite()
	}
	if tc.want == wantClose {
		expectClose(t, nc)
		return
	}
	key, version := int16(18), int16(0) // ApiVersions above our range: a v0 answer
	if tc.req != nil {
		key, version = tc.req.Key(), tc.req.GetVersion()
	}
	resp := readResponse(t, nc, key, version, 1)
	if got := errorCodeOf(t, resp); got != tc.want {
		t.Fatalf("error code %d (%v), want %d (%v)", got, kerr.ErrorForCode(got), tc.want, kerr.ErrorForCode(tc.want))
	}
	if tc.check != nil {
		tc.check(t, resp)
	}
	// An error code leaves the connection usable.
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	av.ClientSoftwareName, av.ClientSoftwareVersion = "badinput", "1"
	if _, err := nc.Write(kmsg.NewRequestFormatter().AppendRequest(nil, av, 2)); err != nil {
		t.Fatalf("write after an error code: %v", err)
	}
	if c := readResponse(t, nc, 18, 3, 2).(*kmsg.ApiVersionsResponse).ErrorCode; c != 0 {
		t.Fatalf("ApiVersions after the case: %d", c)
	}
}

// expectClose reads until the broker closes; any response is a failure.
func expectClose(t *testing.T, nc net.Conn) {
	t.Helper()
	start := time.Now()
	n, err := io.Copy(io.Discard, nc)
	var ne net.Error
	switch {
	case n > 0:
		t.Fatalf("got %d bytes of response, want a closed connection", n)
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("connection still open after %v", time.Since(start))
	case err != nil && !errors.Is(err, syscall.ECONNRESET):
		t.Fatalf("read: %v", err)
	}
}

// readResponse reads one response frame and decodes it as key at version.
func readResponse(t *testing.T, nc net.Conn, key, version int16, corr int32) kmsg.Response {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		t.Fatalf("reading response size: %v", err)
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > 64<<20 {
		t.Fatalf("response size %d", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(nc, body); err != nil {
		t.Fatalf("reading response: %v", err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		t.Fatalf("correlation id %d, want %d", got, corr)
	}
	resp := kmsg.ResponseForKey(key)
	resp.SetVersion(version)
	body = body[4:]
	if resp.IsFlexible() && key != 18 {
		r := kbin.Reader{Src: body}
		for range r.Uvarint() {
			r.Uvarint()
			r.Span(int(r.Uvarint()))
		}
		if err := r.Complete(); err != nil && len(r.Src) == 0 {
			t.Fatalf("response header tags: %v", err)
		}
		body = r.Src
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("decoding %T v%d: %v", resp, version, err)
	}
	return resp
}

// errorCodeOf is the one error a case's response carries: its top-level
// code, else that of its first topic or partition.
func errorCodeOf(t *testing.T, resp kmsg.Response) int16 {
	t.Helper()
	switch r := resp.(type) {
	case *kmsg.ApiVersionsResponse:
		return r.ErrorCode
	case *kmsg.ProduceResponse:
		if len(r.Topics) == 1 && len(r.Topics[0].Partitions) == 1 {
			return r.Topics[0].Partitions[0].ErrorCode
		}
	case *kmsg.FetchResponse:
		if r.ErrorCode != 0 {
			return r.ErrorCode
		}
		if len(r.Topics) == 1 && len(r.Topics[0].Partitions) == 1 {
			return r.Topics[0].Partitions[0].ErrorCode
		}
	case *kmsg.ListOffsetsResponse:
		if len(r.Topics) == 1 && len(r.Topics[0].Partitions) == 1 {
			return r.Topics[0].Partitions[0].ErrorCode
		}
	case *kmsg.MetadataResponse:
		if len(r.Topics) == 1 {
			return r.Topics[0].ErrorCode
		}
	case *kmsg.CreateTopicsResponse:
		if len(r.Topics) == 1 {
			return r.Topics[0].ErrorCode
		}
	}
	t.Fatalf("response %T does not hold one topic and partition: %+v", resp, resp)
	return 0
}

// checkStillServes: franz-go produces a record to "ok" and fetches it back,
// and nothing was stored on "bad".
func checkStillServes(ctx context.Context, t *testing.T, cl *kgo.Client, adm *kadm.Client, okID [16]byte, i int) {
	t.Helper()
	v := fmt.Appendf(nil, "health-%d", i)
	r := &kgo.Record{Topic: "ok", Value: v}
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatalf("produce after the case: %v", err)
	}
	req := fetchReq(12, "ok", 0, r.Offset) // franz-go picks the version: name and id
	req.Topics[0].TopicID = okID
	resp, err := cl.Request(ctx, req)
	if err != nil {
		t.Fatalf("fetch after the case: %v", err)
	}
	fetchHas(string(v))(t, resp)
	ends, err := adm.ListEndOffsets(ctx, "bad")
	if err != nil || ends.Error() != nil {
		t.Fatalf("list offsets: %v %v", err, ends.Error())
	}
	if o, _ := ends.Lookup("bad", 0); o.Offset != 0 {
		t.Fatalf("a rejected batch was stored: bad/0 ends at %d", o.Offset)
	}
}

func fetchEmptyAt(hw int64) func(*testing.T, kmsg.Response) {
	return func(t *testing.T, resp kmsg.Response) {
		p := resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
		if len(p.RecordBatches) != 0 || p.HighWatermark != hw {
			t.Fatalf("%d bytes of records, high watermark %d; want none at %d", len(p.RecordBatches), p.HighWatermark, hw)
		}
	}
}

func fetchHas(value string) func(*testing.T, kmsg.Response) {
	return func(t *testing.T, resp kmsg.Response) {
		fr := resp.(*kmsg.FetchResponse)
		if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
			t.Fatalf("fetch response shape: %+v", fr)
		}
		p := fr.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || !bytes.Contains(p.RecordBatches, []byte(value)) {
			t.Fatalf("fetch: code %d, %d bytes, want %q", p.ErrorCode, len(p.RecordBatches), value)
		}
	}
}

// dialRaw connects to addr; the connection closes at test end and every
// read or write on it fails after 10 s.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return nc
}

func rawMetadata(t *testing.T, addr, topic string) *kmsg.MetadataResponse {
	t.Helper()
	nc := dialRaw(t, addr)
	req := metadataReq(12, topic)
	if _, err := nc.Write(kmsg.NewRequestFormatter().AppendRequest(nil, req, 1)); err != nil {
		t.Fatal(err)
	}
	resp := readResponse(t, nc, 3, 12, 1).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("metadata %s: %+v", topic, resp.Topics)
	}
	return resp
}

// TestBadInputConcurrentBombs: gzip bombs on several connections at once
// must not take the broker's heap past its memory budget. Each 83 KB frame
// decompresses past the cap; the produce handler charges every compressed
// batch twice its cap to a node-wide decompression budget before
// decompressing it (before that fix, 16 connections × 4 pipelined bombs
// measured a 2 GiB peak heap on a broker given 512 MiB).
func TestBadInputConcurrentBombs(t *testing.T) {
	const budget = 512 << 20
	b := startBroker(t, t.TempDir()) // MemoryBytes: 512 MiB
	t.Cleanup(func() { _ = b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := newClient(t, b.Addr())
	defer cl.Close()
	if res, err := kadm.NewClient(cl).CreateTopics(ctx, 1, 1, nil, "bad"); err != nil || res.Error() != nil {
		t.Fatalf("create: %v %v", err, res.Error())
	}
	frame := kmsg.NewRequestFormatter().AppendRequest(nil, produceReq(9, "bad", 0, batchWith(1, gzipZeros(65<<20), 1)), 1)
	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	peak := base.HeapInuse
	const conns, pipelined = 8, 2
	codes := make(chan int16, conns*pipelined)
	for range conns {
		go func() {
			nc, err := net.DialTimeout("tcp", b.Addr(), 5*time.Second)
			if err != nil {
				codes <- -2
				return
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(2 * time.Minute))
			for range pipelined {
				_, _ = nc.Write(frame)
			}
			for range pipelined {
				codes <- readProduceCode(nc)
			}
		}()
	}
	sample := time.NewTicker(10 * time.Millisecond) // measuring, not waiting
	defer sample.Stop()
	for got := 0; got < conns*pipelined; {
		select {
		case c := <-codes:
			got++
			if c != kerr.MessageTooLarge.Code {
				t.Errorf("bomb answered %d, want MESSAGE_TOO_LARGE", c)
			}
		case <-sample.C:
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
		case <-ctx.Done():
			t.Fatal("bombs not answered in 3 minutes")
		}
	}
	t.Logf("%d bombs: heap in use %d MiB before, %d MiB at peak", conns*pipelined, base.HeapInuse>>20, peak>>20)
	if peak-base.HeapInuse > budget {
		t.Fatalf("heap grew by %d MiB for %d KB of input, broker memory is %d MiB",
			(peak-base.HeapInuse)>>20, conns*pipelined*len(frame)>>10, budget>>20)
	}
}

// readProduceCode reads one single-partition Produce v9 response and
// returns its error code, or -2 when the read fails.
func readProduceCode(nc net.Conn) int16 {
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		return -2
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(nc, body); err != nil || len(body) < 5 {
		return -2
	}
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = 9
	if err := resp.ReadFrom(body[5:]); err != nil || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return -2
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}
