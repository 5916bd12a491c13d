package petrel_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/node"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// testCluster is an in-process cluster: n brokers, each with its own data
// dir, Kafka and RPC listeners on loopback.
type testCluster struct {
	t       *testing.T
	dirs    []string
	rpc     []string
	kafka   []string // kept across restarts, as clients' seeds are
	seeds   []string // nil: every node's RPC address (all are founders)
	brokers []*petrel.Broker
	tune    func(*petrel.Config) // nil: the defaults below
}

// freeAddr finds a free loopback port below the ephemeral range (so a
// listener on port 0 cannot take it before the node binds it).
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 100 {
		addr := "127.0.0.1:" + strconv.Itoa(20000+rand.IntN(10000))
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free port in [20000, 30000)")
	return ""
}

func startCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	return startClusterWith(t, n, nil)
}

// startClusterWith starts n founders whose configuration tune changes
// (on every start, restarts and added nodes included).
func startClusterWith(t *testing.T, n int, tune func(*petrel.Config)) *testCluster {
	t.Helper()
	var errs []error
	for attempt := range 3 {
		c, err := tryStartCluster(t, n, attempt, tune)
		if err == nil {
			return c
		}
		errs = append(errs, err)
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
		// Another test process took a port between our check and the
		// bind: try again with other ports.
	}
	t.Fatalf("starting a %d-node cluster: %v", n, errors.Join(errs...))
	return nil
}

func tryStartCluster(t *testing.T, n, attempt int, tune func(*petrel.Config)) (*testCluster, error) {
	c := &testCluster{t: t, brokers: make([]*petrel.Broker, n), tune: tune}
	root := filepath.Join(t.TempDir(), "attempt"+strconv.Itoa(attempt))
	for i := range n {
		c.dirs = append(c.dirs, filepath.Join(root, "node"+strconv.Itoa(i)))
		c.rpc = append(c.rpc, freeAddr(t))
		c.kafka = append(c.kafka, freeAddr(t))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.brokers[i], errs[i] = c.startCtx(ctx, i); errs[i] != nil {
				cancel() // the others wait for this one to form: stop them
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, b := range c.brokers {
			if b != nil {
				_ = b.Close()
			}
		}
		return nil, err
	}
	t.Cleanup(func() {
		for _, b := range c.brokers {
			if b != nil {
				_ = b.Close()
			}
		}
	})
	return c, nil
}

func (c *testCluster) start(i int) (*petrel.Broker, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return c.startCtx(ctx, i)
}

func (c *testCluster) startCtx(ctx context.Context, i int) (*petrel.Broker, error) {
	seeds := c.seeds
	if seeds == nil {
		seeds = c.rpc
	}
	cfg := petrel.Config{DataDir: c.dirs[i], NodeID: int32(i), RPCAddr: c.rpc[i], Seeds: seeds, AdminAddr: "127.0.0.1:0", KafkaAddr: c.kafka[i],
		Shards: 2, MemoryBytes: 256 << 20, JournalBytes: 16 << 20, GroupInitialRebalanceDelay: -1}
	if c.tune != nil {
		c.tune(&cfg)
	}
	return petrel.Start(ctx, cfg)
}

// stop closes node i; restart starts it again on its data dir.
func (c *testCluster) stop(i int) {
	c.t.Helper()
	if err := c.brokers[i].Close(); err != nil {
		c.t.Errorf("close node %d: %v", i, err)
	}
	c.brokers[i] = nil
}

func (c *testCluster) restart(i int) {
	c.t.Helper()
	b, err := c.start(i)
	if err != nil {
		c.t.Fatalf("restart node %d: %v", i, err)
	}
	c.brokers[i] = b
}

func (c *testCluster) addrs() []string { return c.kafka }

func (c *testCluster) client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.addrs()...), kgo.RequiredAcks(kgo.AllISRAcks())}, opts...)...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(cl.Close)
	return cl
}

// produceN produces n records to topic, keys k<from>…, and fails on any
// error; it returns the offsets by partition.
func produceN(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, from, n int) map[int32][]int64 {
	t.Helper()
	out := map[int32][]int64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for i := from; i < from+n; i++ {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte("k" + strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))},
			func(r *kgo.Record, err error) {
				defer wg.Done()
				mu.Lock()
				defer mu.Unlock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				out[r.Partition] = append(out[r.Partition], r.Offset)
			})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("produce: %v", firstErr)
	}
	return out
}

// consumeAll reads topic from the start until it has n records.
func consumeAll(ctx context.Context, t *testing.T, c *testCluster, topic string, n int) map[string]int {
	t.Helper()
	cl := c.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := map[string]int{}
	for len(seen) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d: %v", len(seen), n, ctx.Err())
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
	}
	return seen
}

func TestClusterProduceConsume(t *testing.T) {
	t0 := time.Now()
	c := startCluster(t, 3)
	t.Logf("cluster started in %v", time.Since(t0))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cl := c.client()
	adm := kadm.NewClient(cl)
	res, err := adm.CreateTopics(ctx, 3, -1, nil, "replicated")
	if err != nil || res["replicated"].Err != nil {
		t.Fatalf("create: %v %v", err, res["replicated"].Err)
	}
	md, err := adm.Metadata(ctx, "replicated")
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Brokers) != 3 {
		t.Fatalf("metadata lists %d brokers, want 3: %v", len(md.Brokers), md.Brokers)
	}
	for _, p := range md.Topics["replicated"].Partitions {
		if len(p.Replicas) != 3 {
			t.Errorf("partition %d has replicas %v, want 3 (default replication factor)", p.Partition, p.Replicas)
		}
	}
	t.Logf("topic created at %v", time.Since(t0))
	const n = 600
	produceN(ctx, t, cl, "replicated", 0, n)
	t.Logf("produced at %v", time.Since(t0))
	seen := consumeAll(ctx, t, c, "replicated", n)
	t.Logf("consumed at %v", time.Since(t0))
	for i := range n {
		if seen[strconv.Itoa(i)] != 1 {
			t.Fatalf("record %d read %d times", i, seen[strconv.Itoa(i)])
		}
	}
	// The debug endpoint's Raft state: one serving leader whose view of
	// every member matches its commit, followers that know it.
	leader := leaderOf(ctx, t, cl, "replicated", 0)
	for i, b := range c.brokers {
		var st struct {
			NodeID   int32  `json:"node_id"`
			State    string `json:"state"`
			Lead     uint64 `json:"lead"`
			Commit   uint64 `json:"commit"`
			Serving  bool   `json:"serving"`
			Progress []struct {
				Match uint64 `json:"match"`
			} `json:"progress"`
		}
		url := fmt.Sprintf("http://%s/v1/debug/partitions/kafka/replicated/0/raft", b.AdminAddr())
		if err := getJSON(ctx, url, &st); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		isLeader := int32(i) == leader
		if st.NodeID != int32(i) || (st.State == "StateLeader") != isLeader || st.Serving != isLeader || st.Lead == 0 {
			t.Errorf("node %d (leader %d): raft status %+v", i, leader, st)
		}
		if isLeader && len(st.Progress) != 3 {
			t.Errorf("leader's progress %+v, want 3 members", st.Progress)
		}
		// The transport's counters: both peers, Raft traffic both ways.
		var rs struct {
			Peers []struct {
				Node                                   int32
				RaftMessagesSent, RaftMessagesReceived uint64
			}
		}
		if err := getJSON(ctx, fmt.Sprintf("http://%s/v1/debug/rpc", b.AdminAddr()), &rs); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		if len(rs.Peers) != 2 || rs.Peers[0].RaftMessagesSent == 0 || rs.Peers[1].RaftMessagesReceived == 0 {
			t.Errorf("node %d: transport stats %+v", i, rs.Peers)
		}
	}
}

// getJSON decodes a 200 answer of the admin API.
func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %s: %s", url, resp.Status, body)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// leaderOf asks the cluster who leads a partition.
func leaderOf(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, p int32) int32 {
	t.Helper()
	adm := kadm.NewClient(cl)
	for ctx.Err() == nil {
		md, err := adm.Metadata(ctx, topic)
		if err == nil {
			if pd, ok := md.Topics[topic].Partitions[p]; ok && pd.Leader >= 0 && pd.Err == nil {
				return pd.Leader
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no leader for %s/%d: %v", topic, p, ctx.Err())
	return -1
}

// TestClusterFailover stops the leader of a partition under an idempotent
// producer: a new leader is elected, writes go on, and after the old
// leader returns every acknowledged record is read back once, at the
// offset it was acknowledged at.
func TestClusterFailover(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	// A short metadata min age: the figure is the broker's failover, not
	// franz-go's 5 s default between metadata refreshes.
	cl := c.client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0), kgo.MetadataMinAge(100*time.Millisecond))
	adm := kadm.NewClient(cl)
	if res, err := adm.CreateTopics(ctx, 1, 3, nil, "failover"); err != nil || res["failover"].Err != nil {
		t.Fatalf("create: %v %v", err, res["failover"].Err)
	}
	acked := map[string]int64{}
	produce := func(from, n int) {
		for i := from; i < from+n; i++ {
			r := &kgo.Record{Topic: "failover", Partition: 0, Value: []byte(strconv.Itoa(i))}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
			acked[string(r.Value)] = r.Offset
		}
	}
	produce(0, 100)
	old := leaderOf(ctx, t, cl, "failover", 0)
	md, err := adm.Metadata(ctx, "failover")
	if err != nil {
		t.Fatal(err)
	}
	firstEpoch := md.Topics["failover"].Partitions[0].LeaderEpoch
	t0 := time.Now()
	c.stop(int(old))
	stopped := time.Since(t0)
	produce(100, 100)
	t.Logf("node %d stopped in %v; 100 records acknowledged by the new leader %v later", old, stopped, time.Since(t0)-stopped)
	if now := leaderOf(ctx, t, cl, "failover", 0); now == old {
		// A replica may name the old leader for a moment after the move.
		time.Sleep(time.Second)
		if now := leaderOf(ctx, t, cl, "failover", 0); now == old {
			t.Fatalf("leader still node %d a second after it stopped", old)
		}
	}
	// Metadata leaves the stopped broker out once its peers notice.
	for {
		md, err := kadm.NewClient(cl).Metadata(ctx)
		if err == nil && len(md.Brokers) == 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("metadata still lists %d brokers with node %d stopped", len(md.Brokers), old)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// OffsetForLeaderEpoch on the new leader: the old epoch ends where
	// the new leader's first batch begins (offset 100).
	oreq := kmsg.NewPtrOffsetForLeaderEpochRequest()
	ot := kmsg.NewOffsetForLeaderEpochRequestTopic()
	ot.Topic = "failover"
	op := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	op.Partition, op.CurrentLeaderEpoch, op.LeaderEpoch = 0, -1, firstEpoch
	ot.Partitions = append(ot.Partitions, op)
	oreq.Topics = append(oreq.Topics, ot)
	oresp, err := oreq.RequestWith(ctx, cl.Broker(int(leaderOf(ctx, t, cl, "failover", 0))))
	if err != nil {
		t.Fatal(err)
	}
	if rp := oresp.Topics[0].Partitions[0]; rp.ErrorCode != 0 || rp.EndOffset != 100 || rp.LeaderEpoch != firstEpoch {
		t.Fatalf("OffsetForLeaderEpoch(%d) after the failover: epoch %d end %d (%v), want epoch %d end 100",
			firstEpoch, rp.LeaderEpoch, rp.EndOffset, kerr.ErrorForCode(rp.ErrorCode), firstEpoch)
	}
	c.restart(int(old))
	produce(200, 100)

	// Read everything back from the start: each record once, at its
	// acknowledged offset.
	rd := c.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"failover": {0: kgo.NewOffset().AtStart()}}))
	got := map[string]int64{}
	for len(got) < len(acked) && ctx.Err() == nil {
		rd.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if prev, dup := got[string(r.Value)]; dup {
				t.Errorf("record %s read twice (offsets %d, %d)", r.Value, prev, r.Offset)
			}
			got[string(r.Value)] = r.Offset
		})
	}
	for v, off := range acked {
		if g, ok := got[v]; !ok || g != off {
			t.Errorf("record %s acknowledged at offset %d, read at %d (found %v)", v, off, g, ok)
		}
	}
	c.sameReplicas(ctx, "failover", 0)
}

// replicaDigest is the admin API's digest of a local replica.
type replicaDigest struct {
	HighWatermark int64  `json:"high_watermark"`
	CRC32C        uint32 `json:"crc32c"`
	Batches       int    `json:"batches"`
}

// digest asks broker b for its replica's digest below upto (-1: its high
// watermark).
func (c *testCluster) digest(b *petrel.Broker, topic string, p int, upto int64) (replicaDigest, error) {
	url := fmt.Sprintf("http://%s/v1/debug/partitions/kafka/%s/%d/digest", b.AdminAddr(), topic, p)
	if upto >= 0 {
		url += fmt.Sprintf("?upto=%d", upto)
	}
	resp, err := http.Get(url)
	if err != nil {
		return replicaDigest{}, err
	}
	defer resp.Body.Close()
	var d replicaDigest
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return d, fmt.Errorf("%s: %s", resp.Status, body)
	}
	return d, json.NewDecoder(resp.Body).Decode(&d)
}

// sameReplicas waits until every node's replica of a partition has the
// same high watermark, then checks their logs are identical below it.
func (c *testCluster) sameReplicas(ctx context.Context, topic string, p int) {
	c.t.Helper()
	var nodes []int
	for i := range c.brokers {
		nodes = append(nodes, i)
	}
	c.sameReplicasOn(ctx, topic, p, nodes)
}

// sameReplicasOn is sameReplicas over the replicas on the given nodes.
func (c *testCluster) sameReplicasOn(ctx context.Context, topic string, p int, nodes []int) {
	c.t.Helper()
	for {
		var hws []int64
		for _, i := range nodes {
			d, err := c.digest(c.brokers[i], topic, p, -1)
			if err != nil {
				c.t.Fatalf("digest of node %d: %v", i, err)
			}
			hws = append(hws, d.HighWatermark)
		}
		if slices.Min(hws) == slices.Max(hws) {
			var ds []replicaDigest
			for _, i := range nodes {
				d, err := c.digest(c.brokers[i], topic, p, hws[0])
				if err != nil {
					c.t.Fatalf("digest of node %d: %v", i, err)
				}
				ds = append(ds, d)
			}
			for i, d := range ds {
				if d != ds[0] || d.Batches == 0 {
					c.t.Fatalf("replica on node %d of %s/%d differs from node %d's (or is empty): %+v vs %+v", nodes[i], topic, p, nodes[0], d, ds[0])
				}
			}
			return
		}
		if ctx.Err() != nil {
			c.t.Fatalf("replicas' high watermarks never met: %v", hws)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterIdentity: a node restarted with another node id, or with an
// empty data dir after it was a member, is refused with a message saying
// why; restarted properly it rejoins.
func TestClusterIdentity(t *testing.T) {
	c := startCluster(t, 3)
	c.stop(2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := petrel.Start(ctx, petrel.Config{DataDir: c.dirs[2], NodeID: 7, RPCAddr: c.rpc[2], Seeds: c.rpc,
		Shards: 1, MemoryBytes: 256 << 20, JournalBytes: 16 << 20})
	if err == nil || !strings.Contains(err.Error(), "--node-id 2") {
		t.Fatalf("restart with another node id: %v, want a refusal naming --node-id 2", err)
	}
	if err := os.RemoveAll(c.dirs[2]); err != nil {
		t.Fatal(err)
	}
	_, err = c.start(2)
	if err == nil || !strings.Contains(err.Error(), "lost its data") {
		t.Fatalf("restart with an empty data dir: %v, want a refusal", err)
	}
}

// TestClusterElectPreferred: after the preferred leader of a partition
// stops and returns, ElectLeaders (or the balancer, whichever comes
// first) gives it the leadership back.
func TestClusterElectPreferred(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := c.client(kgo.MetadataMinAge(100 * time.Millisecond))
	adm := kadm.NewClient(cl)
	if res, err := adm.CreateTopics(ctx, 1, 3, nil, "pref"); err != nil || res["pref"].Err != nil {
		t.Fatalf("create: %v %v", err, res["pref"].Err)
	}
	md, err := adm.Metadata(ctx, "pref")
	if err != nil {
		t.Fatal(err)
	}
	pref := md.Topics["pref"].Partitions[0].Replicas[0]
	if l := leaderOf(ctx, t, cl, "pref", 0); l != pref {
		t.Fatalf("new partition led by %d, not its preferred replica %d", l, pref)
	}
	c.stop(int(pref))
	// A replica may name the old leader for a moment after the move.
	for leaderOf(ctx, t, cl, "pref", 0) == pref {
		time.Sleep(20 * time.Millisecond)
	}
	c.restart(int(pref))
	produceN(ctx, t, cl, "pref", 0, 10)
	set := kadm.TopicsSet{}
	set.Add("pref", 0)
	var results kadm.ElectLeadersResults
	for ctx.Err() == nil {
		results, err = adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, set)
		if err != nil {
			t.Fatal(err)
		}
		if r := results["pref"][0]; r.Err == nil || errors.Is(r.Err, kerr.ElectionNotNeeded) {
			break
		}
		time.Sleep(100 * time.Millisecond) // the returned node may still be catching up
	}
	// Every replica names the new leader within moments.
	deadline := time.Now().Add(5 * time.Second)
	for l := leaderOf(ctx, t, cl, "pref", 0); l != pref; l = leaderOf(ctx, t, cl, "pref", 0) {
		if time.Now().After(deadline) {
			t.Fatalf("after ElectLeaders (%v) led by %d, want the preferred replica %d", results["pref"][0].Err, l, pref)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterIdempotenceFailover: an idempotent producer's retry of a
// batch the old leader committed, sent to the new leader after a
// failover, is answered with its original offset and not appended again;
// the next sequence follows it (producer state moves with leadership).
func TestClusterIdempotenceFailover(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := c.client(kgo.MetadataMinAge(100 * time.Millisecond))
	if res, err := kadm.NewClient(cl).CreateTopics(ctx, 1, 3, nil, "idem"); err != nil || res.Error() != nil {
		t.Fatalf("create: %v %v", err, res.Error())
	}
	addrOf := func(id int32) string { return c.brokers[id].Addr() }
	rt := func(addr string, req kmsg.Request) kmsg.Response {
		t.Helper()
		nc := dialRaw(t, addr)
		defer nc.Close()
		if _, err := nc.Write(kmsg.NewRequestFormatter().AppendRequest(nil, req, 1)); err != nil {
			t.Fatal(err)
		}
		return readResponse(t, nc, req.Key(), req.GetVersion(), 1)
	}
	leader := leaderOf(ctx, t, cl, "idem", 0)
	ipid := kmsg.NewPtrInitProducerIDRequest()
	ipid.Version, ipid.TransactionTimeoutMillis = 4, 60000
	ir := rt(addrOf(leader), ipid).(*kmsg.InitProducerIDResponse)
	if ir.ErrorCode != 0 {
		t.Fatalf("InitProducerID: %v", kerr.ErrorForCode(ir.ErrorCode))
	}
	send := func(addr string, seq int32) kmsg.ProduceResponseTopicPartition {
		resp := rt(addr, produceReq(9, "idem", 0, idemBatch(ir.ProducerID, ir.ProducerEpoch, seq))).(*kmsg.ProduceResponse)
		return resp.Topics[0].Partitions[0]
	}
	for seq := range int32(3) {
		if p := send(addrOf(leader), seq); p.ErrorCode != 0 || p.BaseOffset != int64(seq) {
			t.Fatalf("seq %d: %v offset %d", seq, kerr.ErrorForCode(p.ErrorCode), p.BaseOffset)
		}
	}
	c.stop(int(leader))
	var now int32
	for now = leaderOf(ctx, t, cl, "idem", 0); now == leader; now = leaderOf(ctx, t, cl, "idem", 0) {
		time.Sleep(20 * time.Millisecond)
	}
	// The retry of sequence 2 (as if its answer had been lost).
	for {
		p := send(addrOf(now), 2)
		if p.ErrorCode == kerr.NotLeaderForPartition.Code && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond) // the new leader is not serving yet
			continue
		}
		if p.ErrorCode != 0 || p.BaseOffset != 2 {
			t.Fatalf("retry of sequence 2 on the new leader %d: %v offset %d, want its original offset 2", now, kerr.ErrorForCode(p.ErrorCode), p.BaseOffset)
		}
		break
	}
	if p := send(addrOf(now), 3); p.ErrorCode != 0 || p.BaseOffset != 3 {
		t.Fatalf("sequence 3 on the new leader: %v offset %d, want 3", kerr.ErrorForCode(p.ErrorCode), p.BaseOffset)
	}
	if p := send(addrOf(now), 5); p.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("sequence 5 after 3: %v, want OUT_OF_ORDER_SEQUENCE_NUMBER", kerr.ErrorForCode(p.ErrorCode))
	}
}

// TestClusterRollingRestart restarts every node in turn (clean stops,
// which hand leadership over first) under an idempotent acks=all
// producer: the producer's errors are reported (a figure, not asserted),
// and every acknowledged record is read back once at its offset.
func TestClusterRollingRestart(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cl := c.client(kgo.MetadataMinAge(100*time.Millisecond), kgo.ProducerLinger(0))
	if res, err := kadm.NewClient(cl).CreateTopics(ctx, 3, 3, nil, "rolling"); err != nil || res.Error() != nil {
		t.Fatalf("create: %v %v", err, res.Error())
	}
	var mu sync.Mutex
	acked := map[string][2]int64{} // value → partition, offset
	errs := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 100000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r := &kgo.Record{Topic: "rolling", Value: []byte(strconv.Itoa(i))}
			err := cl.ProduceSync(ctx, r).FirstErr()
			mu.Lock()
			if err != nil {
				errs++
			} else {
				acked[string(r.Value)] = [2]int64{int64(r.Partition), r.Offset}
			}
			mu.Unlock()
		}
	}()
	waitAcked := func(n int) {
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			got := len(acked)
			mu.Unlock()
			if got >= n {
				return
			}
		}
		t.Fatalf("fewer than %d records acknowledged in 20 s", n)
	}
	waitAcked(100)
	for i := range c.brokers {
		mu.Lock()
		before := len(acked)
		mu.Unlock()
		c.stop(i)
		c.restart(i)
		waitAcked(before + 100)
	}
	close(stop)
	wg.Wait()
	mu.Lock()
	t.Logf("rolling restart of 3 nodes: %d records acknowledged, %d producer errors", len(acked), errs)
	mu.Unlock()

	rd := c.client(kgo.ConsumeTopics("rolling"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string][2]int64{}
	for len(got) < len(acked) && ctx.Err() == nil {
		rd.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if prev, dup := got[string(r.Value)]; dup {
				t.Errorf("record %s read twice (at %v and %d/%d)", r.Value, prev, r.Partition, r.Offset)
			}
			got[string(r.Value)] = [2]int64{int64(r.Partition), r.Offset}
		})
	}
	for v, at := range acked {
		if got[v] != at {
			t.Errorf("record %s acknowledged at %v, read at %v", v, at, got[v])
		}
	}
}

// addNode starts one more node, not among the seeds: it joins the
// cluster they formed. It returns the node's index.
func (c *testCluster) addNode(ctx context.Context) int {
	c.t.Helper()
	i := len(c.brokers)
	c.dirs = append(c.dirs, filepath.Join(filepath.Dir(c.dirs[0]), "node"+strconv.Itoa(i)))
	c.rpc = append(c.rpc, freeAddr(c.t))
	c.kafka = append(c.kafka, freeAddr(c.t))
	c.brokers = append(c.brokers, nil)
	c.seeds = c.rpc[:3]
	c.restart(i)
	return i
}

// TestClusterJoin: a fourth node, not among the seeds, joins the formed
// cluster through them; new topics place replicas on it, it serves them,
// and after a restart it rejoins with its identity.
func TestClusterJoin(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	joined := c.addNode(ctx)
	cl := c.client(kgo.MetadataMinAge(100 * time.Millisecond))
	adm := kadm.NewClient(cl)
	if res, err := adm.CreateTopics(ctx, 4, 1, nil, "spread"); err != nil || res.Error() != nil {
		t.Fatalf("create: %v %v", err, res.Error())
	}
	// Brokers learn of the topic as they apply the controller's log: the
	// one answering may not have it yet (UNKNOWN_TOPIC_OR_PARTITION).
	var md kadm.Metadata
	waitFor(ctx, t, "every broker's metadata has the topic", func() (bool, string) {
		var err error
		if md, err = adm.Metadata(ctx, "spread"); err != nil {
			return false, err.Error()
		}
		td := md.Topics["spread"]
		return td.Err == nil && len(td.Partitions) == 4, fmt.Sprintf("topic error %v, %d partitions", td.Err, len(td.Partitions))
	})
	if len(md.Brokers) != 4 {
		t.Fatalf("metadata lists %d brokers, want 4", len(md.Brokers))
	}
	onNew := false
	for _, p := range md.Topics["spread"].Partitions {
		onNew = onNew || slices.Contains(p.Replicas, int32(joined))
	}
	if !onNew {
		t.Fatalf("no partition of a new topic placed on the joined node: %v", md.Topics["spread"].Partitions)
	}
	const n = 200
	produceN(ctx, t, cl, "spread", 0, n)
	c.stop(joined)
	c.restart(joined)
	produceN(ctx, t, cl, "spread", n, n)
	if seen := consumeAll(ctx, t, c, "spread", 2*n); len(seen) != 2*n {
		t.Fatalf("read %d distinct records, want %d", len(seen), 2*n)
	}
}

// TestClusterReassign moves a partition's replicas from nodes {0,1,2} to
// {3,1,2} under writes (AlterPartitionReassignments): the move
// completes, the new replica holds the same log, node 0 drops its copy,
// and every record is still there.
func TestClusterReassign(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	added := c.addNode(ctx)
	cl := c.client(kgo.MetadataMinAge(100*time.Millisecond), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	createAssigned(ctx, t, cl, "moving", 0, 1, 2)
	const n = 200
	produceN(ctx, t, cl, "moving", 0, n)
	req := kadm.AlterPartitionAssignmentsReq{}
	req.Assign("moving", 0, []int32{int32(added), 1, 2})
	res, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		t.Fatalf("alter: %v", err)
	}
	if e := res["moving"][0].Err; e != nil {
		t.Fatalf("alter: %v", e)
	}
	produceN(ctx, t, cl, "moving", n, n)
	for {
		md, err := adm.Metadata(ctx, "moving")
		lr, lerr := adm.ListPartitionReassignments(ctx, nil)
		if err == nil && lerr == nil {
			p := md.Topics["moving"].Partitions[0]
			if len(lr) == 0 && slices.Equal(p.Replicas, []int32{int32(added), 1, 2}) {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("move never completed: %v %v %v", md.Topics["moving"].Partitions[0], lr, errors.Join(err, lerr))
		}
		time.Sleep(50 * time.Millisecond)
	}
	produceN(ctx, t, cl, "moving", 2*n, n)
	if seen := consumeAll(ctx, t, c, "moving", 3*n); len(seen) != 3*n {
		t.Fatalf("read %d distinct records, want %d", len(seen), 3*n)
	}
	c.sameReplicasOn(ctx, "moving", 0, []int{added, 1, 2})
	// Node 0 removes its replica once the move is complete.
	for {
		if _, err := c.digest(c.brokers[0], "moving", 0, -1); err != nil && strings.Contains(err.Error(), "404") {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("node 0 still hosts the partition it was moved off")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterDecommission drains node 0 of a 4-node cluster through the
// admin API: every replica it held moves to another node, the progress
// endpoint says so, and the data is all still readable.
func TestClusterDecommission(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c.addNode(ctx)
	cl := c.client(kgo.MetadataMinAge(100 * time.Millisecond))
	adm := kadm.NewClient(cl)
	if res, err := adm.CreateTopics(ctx, 4, 3, nil, "drain"); err != nil || res.Error() != nil {
		t.Fatalf("create: %v %v", err, res.Error())
	}
	const n = 300
	produceN(ctx, t, cl, "drain", 0, n)
	type progress struct {
		Draining  bool `json:"draining"`
		Finished  bool `json:"finished"`
		Remaining int  `json:"partitions_remaining"`
	}
	call := func(method string) progress {
		t.Helper()
		code, body := adminDo(t, c.brokers[1], method, "/v1/brokers/0/decommission", "")
		if code != http.StatusOK {
			t.Fatalf("%s decommission: %d %s", method, code, body)
		}
		var p progress
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := call(http.MethodPut); !p.Draining || p.Remaining == 0 {
		t.Fatalf("after PUT: %+v, want draining with partitions remaining", p)
	}
	for p := call(http.MethodGet); !p.Finished; p = call(http.MethodGet) {
		if ctx.Err() != nil {
			t.Fatalf("decommission never finished: %+v", p)
		}
		time.Sleep(100 * time.Millisecond)
	}
	md, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, td := range md.Topics {
		for _, p := range td.Partitions {
			if slices.Contains(p.Replicas, 0) {
				t.Errorf("%s/%d still has a replica on the decommissioned node: %v", td.Topic, p.Partition, p.Replicas)
			}
		}
	}
	if seen := consumeAll(ctx, t, c, "drain", n); len(seen) != n {
		t.Fatalf("read %d distinct records, want %d", len(seen), n)
	}
}

// TestClusterFiveNodes: five nodes; topics get three replicas
// (min(3, brokers)) with preferred leaders spread over all five; writes
// go on, and nothing is lost, when a node stops.
func TestClusterFiveNodes(t *testing.T) {
	c := startCluster(t, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cl := c.client(kgo.MetadataMinAge(100 * time.Millisecond))
	adm := kadm.NewClient(cl)
	if res, err := adm.CreateTopics(ctx, 5, -1, nil, "five"); err != nil || res.Error() != nil {
		t.Fatalf("create: %v %v", err, res.Error())
	}
	md, err := adm.Metadata(ctx, "five")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range md.Topics["five"].Partitions {
		if len(p.Replicas) != 3 {
			t.Fatalf("partition %d has %d replicas, want 3 (min(3, brokers))", p.Partition, len(p.Replicas))
		}
	}
	// Placement balances preferred leaders over every topic
	// (__consumer_offsets included): at most one apart.
	all, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leads := map[int32]int{}
	for _, td := range all.Topics {
		for _, p := range td.Partitions {
			leads[p.Replicas[0]]++
		}
	}
	counts := slices.Collect(maps.Values(leads))
	if len(leads) != 5 || slices.Max(counts)-slices.Min(counts) > 1 {
		t.Errorf("preferred leaders not balanced over the 5 nodes: %v", leads)
	}
	const n = 500
	produceN(ctx, t, cl, "five", 0, n)
	c.stop(4)
	produceN(ctx, t, cl, "five", n, n)
	if seen := consumeAll(ctx, t, c, "five", 2*n); len(seen) != 2*n {
		t.Fatalf("read %d distinct records, want %d", len(seen), 2*n)
	}
}

// TestClusterStorageFailure: when a node's storage fails (fsync errors on
// every file of node 2), its groups stop; the node leaves the cluster so
// the others elect leaders among themselves, and writes go on.
func TestClusterStorageFailure(t *testing.T) {
	var failing atomic.Bool
	inj := vfs.InjectorFunc(func(op vfs.Op) error {
		if failing.Load() && op.Kind == vfs.OpSync {
			return syscall.EIO
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, kafkas := startNodes(ctx, t, 3, func(i int, fs vfs.FS) vfs.FS {
		if i == 2 {
			return vfs.NewErrorFS(fs, inj)
		}
		return fs
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkas...), kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	createAssigned(ctx, t, cl, "sick", 2, 0, 1) // node 2 leads
	produceN(ctx, t, cl, "sick", 0, 50)
	time.Sleep(time.Second) // let the group go idle: followers quiesce
	failing.Store(true)
	t0 := time.Now()
	// A write local to node 2 (the new log start of DeleteRecords) fails
	// its shard while the followers sleep: nothing but node 2 leaving
	// the cluster wakes them.
	os := kadm.Offsets{}
	os.Add(kadm.Offset{Topic: "sick", Partition: 0, At: 10})
	_, _ = kadm.NewClient(cl).DeleteRecords(ctx, os) // its answer may come before its round fails
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	produceN(wctx, t, cl, "sick", 50, 50) // must get through on nodes 0 and 1
	t.Logf("writes went on %v after node 2's storage started failing", time.Since(t0))
}

// createAssigned creates a one-partition topic on the given replicas (the
// first is its preferred leader).
func createAssigned(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, replicas ...int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition, ra.Replicas = 0, replicas
	ct.ReplicaAssignment = append(ct.ReplicaAssignment, ra)
	req.Topics = append(req.Topics, ct)
	req.TimeoutMillis = 30000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	if code := resp.Topics[0].ErrorCode; code != 0 {
		t.Fatalf("create %s: %v", topic, kerr.ErrorForCode(code))
	}
}

// startNodes starts an n-node cluster of node.Nodes (for what petrel.Broker
// does not expose), node i on wrap(i, the OS file system).
func startNodes(ctx context.Context, t *testing.T, n int, wrap func(int, vfs.FS) vfs.FS) ([]*node.Node, []string) {
	t.Helper()
	root := t.TempDir()
	var rpcs, kafkas []string
	for range n {
		rpcs, kafkas = append(rpcs, freeAddr(t)), append(kafkas, freeAddr(t))
	}
	nodes := make([]*node.Node, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = node.Start(ctx, node.Config{DataDir: filepath.Join(root, strconv.Itoa(i)), NodeID: model.NodeID(i),
				KafkaAddr: kafkas[i], RPCAddr: rpcs[i], Seeds: rpcs, Shards: 2, MemoryBytes: 256 << 20, JournalBytes: 16 << 20,
				FS: wrap(i, vfs.NewOS())})
		}()
	}
	wg.Wait()
	for i, nd := range nodes {
		if nd != nil {
			t.Cleanup(func() { _ = nd.Close(context.Background()) })
		}
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
	}
	return nodes, kafkas
}

// TestClusterQuiesce: once idle, no group of a 3-node cluster with 60
// partitions is ticked any more (leaders and followers quiesced), and a
// write wakes only what it needs, which sleeps again.
func TestClusterQuiesce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	nodes, kafkas := startNodes(ctx, t, 3, func(_ int, fs vfs.FS) vfs.FS { return fs })
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkas...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if res, err := kadm.NewClient(cl).CreateTopics(ctx, 60, 3, nil, "sleepy"); err != nil || res.Error() != nil {
		t.Fatalf("create: %v %v", err, res.Error())
	}
	asleep := func(what string) {
		t.Helper()
		for {
			var awake []int64
			for _, nd := range nodes {
				awake = append(awake, nd.AwakeGroups())
			}
			if slices.Max(awake) == 0 {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: groups still awake per node: %v", what, awake)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	asleep("after creating 60 partitions")
	produceN(ctx, t, cl, "sleepy", 0, 100)
	asleep("after writes")
}
