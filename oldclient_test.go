package petrel_test

// TestOldClient: a franz-go client capped at Kafka 2.1's protocol versions
// (kgo.MaxVersions(kversion.V2_1_0())) creates a topic, produces
// idempotently at acks=all and consumes everything back at the offsets it
// was acknowledged at. A dialer wrapper reads the header of every request
// the client writes, so the test proves which versions went over the wire
// (Produce v7, Fetch v10, ...) rather than trusting the cap. When the
// broker advertises consumer groups (JoinGroup), a group consumer of the
// same old versions reads the topic and commits, and OffsetFetch returns
// the commits.

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/petrel-streaming/petrel"
)

func TestOldClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := petrel.Start(ctx, petrel.Config{DataDir: t.TempDir(), Shards: 2, MemoryBytes: 512 << 20,
		GroupInitialRebalanceDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	v21 := kversion.V2_1_0()
	seen := &versionLog{max: map[int16]int16{}}
	opts := []kgo.Opt{kgo.SeedBrokers(b.Addr()), kgo.MaxVersions(v21), kgo.Dialer(seen.dial)}

	cl, err := kgo.NewClient(append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const topic, partitions, n = "old", 2, 200
	res, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, 1, nil, topic)
	if err != nil || res[topic].Err != nil {
		t.Fatalf("create topic with CreateTopics v%d: %v %v", seen.get(19), err, res[topic].Err)
	}
	acked := map[string]ackedRecord{}
	next := map[int32]int64{}
	for i := 0; i < n; i += 20 {
		var rs []*kgo.Record
		for j := i; j < i+20; j++ {
			rs = append(rs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", j%5), Value: fmt.Appendf(nil, "old-%d", j)})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce with Produce v%d: %v", seen.get(0), err)
		}
		for _, r := range rs {
			if r.Offset != next[r.Partition] {
				t.Fatalf("record %s acknowledged at %d/%d, want offset %d", r.Value, r.Partition, r.Offset, next[r.Partition])
			}
			next[r.Partition]++
			acked[string(r.Value)] = ackedRecord{r.Partition, r.Offset}
		}
	}

	from := map[int32]kgo.Offset{}
	for p := range int32(partitions) {
		from[p] = kgo.NewOffset().At(0)
	}
	consumer, err := kgo.NewClient(append(opts, kgo.FetchMaxWait(200*time.Millisecond),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	got := consumeN(ctx, t, consumer, n)
	for v, a := range acked {
		if g, ok := got[v]; !ok || g != a {
			t.Fatalf("%s acknowledged at %d/%d, read at %+v (found %v)", v, a.partition, a.offset, g, ok)
		}
	}

	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("ListOffsets v%d: %v %v", seen.get(2), err, ends.Error())
	}
	for p, end := range next {
		if o, _ := ends.Lookup(topic, p); o.Offset != end {
			t.Errorf("partition %d: ListOffsets says %d, %d were acknowledged", p, o.Offset, end)
		}
	}
	keys := []int16{0, 1, 2, 3, 18, 19, 22} // the versions on the wire: 2.1's maxima

	t.Run("group", func(t *testing.T) {
		if !advertises(ctx, t, cl, 11) {
			t.Skip("the broker does not advertise JoinGroup yet")
		}
		oldGroupConsume(ctx, t, opts, topic, n, next)
		keys = append(keys, 8, 9, 10, 11, 13, 14) // OffsetCommit/Fetch, FindCoordinator, Join/Leave/SyncGroup
	})
	for _, key := range keys {
		want, _ := v21.LookupMaxKeyVersion(key)
		if g := seen.get(key); g != want {
			t.Errorf("%s: the client sent v%d at most, want Kafka 2.1's v%d", kmsg.NameForKey(key), g, want)
		}
	}
	t.Logf("versions sent: %v", seen.snapshot())
}

// oldGroupConsume reads the topic as a group member of old versions,
// commits, and checks the committed offsets are the log ends.
func oldGroupConsume(ctx context.Context, t *testing.T, opts []kgo.Opt, topic string, n int, ends map[int32]int64) {
	t.Helper()
	gc, err := kgo.NewClient(append(opts, kgo.ConsumerGroup("old-group"), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	consumeN(ctx, t, gc, n)
	if err := gc.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	offs, err := kadm.NewClient(gc).FetchOffsets(ctx, "old-group")
	if err != nil || offs.Error() != nil {
		t.Fatalf("fetch offsets: %v %v", err, offs.Error())
	}
	for p, end := range ends {
		o, ok := offs.Lookup(topic, p)
		if !ok || o.At != end {
			t.Errorf("partition %d: committed %+v, want %d", p, o, end)
		}
	}
}

// consumeN polls until n distinct records arrived and returns where each
// was read; a repeat or an error fails.
func consumeN(ctx context.Context, t *testing.T, cl *kgo.Client, n int) map[string]ackedRecord {
	t.Helper()
	got := map[string]ackedRecord{}
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d: %v", len(got), n, ctx.Err())
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if _, dup := got[string(r.Value)]; dup {
				t.Fatalf("%s read twice", r.Value)
			}
			got[string(r.Value)] = ackedRecord{r.Partition, r.Offset}
		})
	}
	return got
}

// advertises asks the broker's ApiVersions whether it serves key.
func advertises(ctx context.Context, t *testing.T, cl *kgo.Client, key int16) bool {
	t.Helper()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey == key {
			return true
		}
	}
	return false
}

// versionLog records the highest version per key of the requests written
// on the connections it dials.
type versionLog struct {
	mu  sync.Mutex
	max map[int16]int16
}

func (l *versionLog) dial(ctx context.Context, network, host string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, log: l}, nil
}

func (l *versionLog) get(key int16) int16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if v, ok := l.max[key]; ok {
		return v
	}
	return -1
}

func (l *versionLog) snapshot() map[string]int16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int16{}
	for k, v := range l.max {
		out[kmsg.NameForKey(k)] = v
	}
	return out
}

// recordingConn parses the request frames written through it: a 4-byte
// size, then key and version. It keeps only the bytes of a header not yet
// complete and a count of body bytes still to skip.
type recordingConn struct {
	net.Conn
	log  *versionLog
	head []byte // up to 8 bytes of the next frame's size, key, version
	skip int    // body bytes of the current frame still to come
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.parse(p)
	return c.Conn.Write(p)
}

func (c *recordingConn) parse(p []byte) {
	for len(p) > 0 {
		if c.skip > 0 {
			k := min(c.skip, len(p))
			c.skip -= k
			p = p[k:]
			continue
		}
		k := min(8-len(c.head), len(p))
		c.head = append(c.head, p[:k]...)
		p = p[k:]
		if len(c.head) < 8 {
			return
		}
		size := int(binary.BigEndian.Uint32(c.head))
		key, version := int16(binary.BigEndian.Uint16(c.head[4:])), int16(binary.BigEndian.Uint16(c.head[6:]))
		c.head, c.skip = c.head[:0], size-4
		c.log.mu.Lock()
		if v, ok := c.log.max[key]; !ok || version > v {
			c.log.max[key] = version
		}
		c.log.mu.Unlock()
	}
}
