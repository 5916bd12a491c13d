package petrel_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchSpy wraps a client's connections and decodes the Fetch requests
// it writes, counting the incremental ones (a session id and an epoch
// above 0): proof the client fetches through sessions.
type fetchSpy struct {
	full, incremental atomic.Int64
	bad               atomic.Value // first decode error
}

func (s *fetchSpy) dial(ctx context.Context, network, host string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	return &spyConn{Conn: c, spy: s}, nil
}

type spyConn struct {
	net.Conn
	spy *fetchSpy
	mu  sync.Mutex
	buf []byte
}

func (c *spyConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.buf = append(c.buf, p...)
	for len(c.buf) >= 4 {
		n := int(binary.BigEndian.Uint32(c.buf))
		if len(c.buf) < 4+n {
			break
		}
		c.spy.frame(c.buf[4 : 4+n])
		c.buf = c.buf[4+n:]
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// frame decodes one request frame (header v1/v2, then body) if it is a
// Fetch.
func (s *fetchSpy) frame(f []byte) {
	if len(f) < 10 || binary.BigEndian.Uint16(f) != 1 {
		return
	}
	req := kmsg.NewPtrFetchRequest()
	req.Version = int16(binary.BigEndian.Uint16(f[2:]))
	f = f[8:] // key, version, correlation id
	if n := int16(binary.BigEndian.Uint16(f)); n > 0 {
		f = f[2+int(n):]
	} else {
		f = f[2:]
	}
	if req.IsFlexible() {
		r := bytes.NewReader(f)
		tags, _ := binary.ReadUvarint(r)
		for range tags {
			binary.ReadUvarint(r)
			size, _ := binary.ReadUvarint(r)
			r.Seek(int64(size), 1)
		}
		f = f[len(f)-r.Len():]
	}
	if err := req.ReadFrom(f); err != nil {
		s.bad.CompareAndSwap(nil, err)
		return
	}
	if req.SessionID != 0 && req.SessionEpoch > 0 {
		s.incremental.Add(1)
	} else {
		s.full.Add(1)
	}
}

// A franz-go consumer (which fetches through sessions) reads a 4-partition
// topic while it is being produced to: every record arrives exactly once,
// in offset order per partition.
func TestFetchSessionConsumerExactlyOnce(t *testing.T) {
	b := startBroker(t, t.TempDir())
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const topic, parts, rounds, perRound = "sessions", 4, 40, 50

	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if res, err := kadm.NewClient(prod).CreateTopics(ctx, parts, 1, nil, topic); err != nil || res[topic].Err != nil {
		t.Fatalf("create: %v %v", err, res[topic].Err)
	}

	spy := &fetchSpy{}
	cons, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.Dialer(spy.dial),
		kgo.FetchMaxWait(300*time.Millisecond), kgo.FetchMaxPartitionBytes(2048))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()

	prodErr := make(chan error, 1)
	go func() {
		for r := range rounds {
			batch := make([]*kgo.Record, perRound)
			for i := range batch {
				batch[i] = &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "v%d", r*perRound+i)}
			}
			if err := prod.ProduceSync(ctx, batch...).FirstErr(); err != nil {
				prodErr <- err
				return
			}
		}
		prodErr <- nil
	}()

	const n = rounds * perRound
	seen := make(map[string]bool, n)
	next := map[int32]int64{}
	for len(seen) < n {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d: %v", len(seen), n, err)
		}
		select {
		case err := <-prodErr:
			if err != nil {
				t.Fatalf("produce: %v", err)
			}
		default:
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if seen[string(r.Value)] {
				t.Fatalf("duplicate %s at %d/%d", r.Value, r.Partition, r.Offset)
			}
			seen[string(r.Value)] = true
			if r.Offset != next[r.Partition] {
				t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
			}
			next[r.Partition]++
		})
	}
	for i := range n {
		if !seen[fmt.Sprintf("v%d", i)] {
			t.Fatalf("v%d never consumed", i)
		}
	}
	if len(next) != parts {
		t.Fatalf("records from %d partitions, want %d", len(next), parts)
	}
	if err, _ := spy.bad.Load().(error); err != nil {
		t.Fatalf("decoding the client's fetch: %v", err)
	}
	if spy.incremental.Load() == 0 {
		t.Fatalf("no incremental fetch among %d: the client never got a session", spy.full.Load())
	}
	t.Logf("fetches: %d full, %d incremental", spy.full.Load(), spy.incremental.Load())
}

// Raw Fetch requests walk a session through its states.
func TestFetchSessionRaw(t *testing.T) {
	b := startBroker(t, t.TempDir())
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "raw"
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if res, err := adm.CreateTopics(ctx, 2, 1, nil, topic); err != nil || res[topic].Err != nil {
		t.Fatalf("create: %v %v", err, res[topic].Err)
	}
	details, err := adm.ListTopics(ctx, topic)
	if err != nil || details[topic].Err != nil {
		t.Fatalf("list: %v %v", err, details[topic].Err)
	}
	id := details[topic].ID
	produce := func(p int32, v string) {
		t.Helper()
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce to %d: %v", p, err)
		}
	}
	produce(0, "a")
	produce(1, "b")

	type part struct {
		p      int32
		offset int64
	}
	fetch := func(sid, epoch int32, wait time.Duration, parts []part, forget ...int32) *kmsg.FetchResponse {
		t.Helper()
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, int32(wait/time.Millisecond), 1, 1<<20
		req.SessionID, req.SessionEpoch = sid, epoch
		if len(parts) > 0 {
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic, rt.TopicID = topic, id
			for _, p := range parts {
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p.p, p.offset, 1<<20
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		if len(forget) > 0 {
			ft := kmsg.NewFetchRequestForgottenTopic()
			ft.Topic, ft.TopicID, ft.Partitions = topic, id, forget
			req.ForgottenTopics = append(req.ForgottenTopics, ft)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		if resp.Version < 13 {
			t.Fatalf("fetch answered at v%d; this test wants topic ids (v13+)", resp.Version)
		}
		return resp
	}
	// got lists "partition:error:records hw" per returned partition.
	got := func(resp *kmsg.FetchResponse) string {
		s := ""
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				n := batchRecordCount(t, rp.RecordBatches)
				s += fmt.Sprintf("%d:%d:%d/%d ", rp.Partition, rp.ErrorCode, n, rp.HighWatermark)
			}
		}
		return s
	}

	// Full fetch creating a session: both partitions, a session id.
	resp := fetch(0, 0, 0, []part{{0, 0}, {1, 0}})
	if resp.SessionID == 0 || resp.ErrorCode != 0 || got(resp) != "0:0:1/1 1:0:1/1 " {
		t.Fatalf("create: session %d error %d partitions %q", resp.SessionID, resp.ErrorCode, got(resp))
	}
	sid := resp.SessionID

	// The client read both records: offsets advance, nothing else
	// changed, the long poll runs out, no partitions.
	start := time.Now()
	resp = fetch(sid, 1, 300*time.Millisecond, []part{{0, 1}, {1, 1}})
	if resp.SessionID != sid || resp.ErrorCode != 0 || got(resp) != "" {
		t.Fatalf("no change: session %d error %d partitions %q", resp.SessionID, resp.ErrorCode, got(resp))
	}
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Fatalf("idle incremental fetch returned after %v, before its MaxWait", waited)
	}

	// An incremental fetch naming no partition long-polls the whole
	// session: a produce to partition 1 answers it with just that one.
	done := make(chan *kmsg.FetchResponse, 1)
	go func() { done <- fetch(sid, 2, 20*time.Second, nil) }()
	produce(1, "c")
	select {
	case resp = <-done:
	case <-ctx.Done():
		t.Fatal("incremental fetch never answered")
	}
	if resp.ErrorCode != 0 || got(resp) != "1:0:1/2 " {
		t.Fatalf("after produce: error %d partitions %q", resp.ErrorCode, got(resp))
	}

	// A repeated epoch, an unknown id.
	if resp = fetch(sid, 2, 0, nil); resp.ErrorCode != kerr.InvalidFetchSessionEpoch.Code || len(resp.Topics) != 0 {
		t.Fatalf("wrong epoch: error %d partitions %q", resp.ErrorCode, got(resp))
	}
	if resp = fetch(sid+1, 1, 0, nil); resp.ErrorCode != kerr.FetchSessionIDNotFound.Code || len(resp.Topics) != 0 {
		t.Fatalf("unknown id: error %d partitions %q", resp.ErrorCode, got(resp))
	}

	// Partition 1 is read (offset 2); partition 0 forgotten. A produce
	// to partition 0 is then not answered.
	produce(0, "d")
	if resp = fetch(sid, 3, 200*time.Millisecond, []part{{1, 2}}, 0); resp.ErrorCode != 0 || got(resp) != "" {
		t.Fatalf("forget: error %d partitions %q", resp.ErrorCode, got(resp))
	}

	// An unknown topic id joins the session: answered UNKNOWN_TOPIC_ID
	// now and in every response until forgotten.
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MaxBytes, req.SessionID, req.SessionEpoch = -1, 0, 1<<20, sid, 4
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = [16]byte{0xde, 0xad}
	rp := kmsg.NewFetchRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	if resp, err = req.RequestWith(ctx, cl); err != nil || resp.ErrorCode != 0 || got(resp) != fmt.Sprintf("0:%d:0/-1 ", kerr.UnknownTopicID.Code) ||
		resp.Topics[0].TopicID != rt.TopicID {
		t.Fatalf("unknown topic id: %v error %d partitions %q", err, resp.ErrorCode, got(resp))
	}
	if resp = fetch(sid, 5, 0, nil); got(resp) != fmt.Sprintf("0:%d:0/-1 ", kerr.UnknownTopicID.Code) {
		t.Fatalf("unknown topic id again: error %d partitions %q", resp.ErrorCode, got(resp))
	}

	// Epoch -1 closes the session: a full answer without a session, and
	// the id is gone.
	resp = fetch(sid, -1, 0, []part{{0, 0}, {1, 0}})
	if resp.SessionID != 0 || resp.ErrorCode != 0 || got(resp) != "0:0:2/2 1:0:2/2 " {
		t.Fatalf("final: session %d error %d partitions %q", resp.SessionID, resp.ErrorCode, got(resp))
	}
	if resp = fetch(sid, 6, 0, nil); resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("closed session: error %d", resp.ErrorCode)
	}
}

// batchRecordCount sums the record counts of v2 record batches (count at
// byte 57 of a batch; length at 8 counts from byte 12).
func batchRecordCount(t *testing.T, b []byte) int {
	t.Helper()
	n := 0
	for len(b) > 0 {
		if len(b) < 61 {
			t.Fatalf("short batch: %d bytes", len(b))
		}
		size := 12 + int(binary.BigEndian.Uint32(b[8:]))
		if size > len(b) {
			t.Fatalf("batch of %d bytes, %d left", size, len(b))
		}
		n += int(binary.BigEndian.Uint32(b[57:]))
		b = b[size:]
	}
	return n
}
