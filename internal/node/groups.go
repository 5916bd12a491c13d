package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/group"
	"github.com/petrel-streaming/petrel/internal/kafka"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
)

// offsetsTopic holds group state and offsets, in Kafka's format.
const offsetsTopic = "__consumer_offsets"

// offsetsPartitions is the partition count of __consumer_offsets when this
// node creates it (Kafka's offsets.topic.num.partitions is 50; a partition
// here is a Raft group and a coordinator goroutine, and idle ones cost
// nothing, but one node needs fewer).
const offsetsPartitions = 16

// groups hosts the group coordinators of __consumer_offsets, as Kafka
// does: the coordinator of a partition (a group.Service, persisting its
// records as ordinary batches of that partition) runs on this node only
// while this node's replica is the partition's serving leader. It is
// loaded when leadership arrives (a new Service replays the partition's
// committed records, then starts) and unloaded when it leaves (the
// Service closes: its parked requests answer NOT_COORDINATOR, and the
// client looks the coordinator up again). One goroutine per partition
// watches the replica's published ReadState and does both; an idle node
// waits on ReadState.Changed and runs no timer.
//
// On one node every replica leads: every coordinator loads at start-up,
// and start-up fails if one does not.
type groups struct {
	n      *Node
	cfg    group.Config
	slots  []*coordinator
	loaded atomic.Bool // slots is set and final
	stop   chan struct{}
	wg     sync.WaitGroup
}

// coordinator is one partition's place for its Service. svc is read by
// any goroutine (Do) and written only by the partition's watcher (and by
// start and close, before and after the watchers run), so a request sees
// either nothing or a Service that was loaded and started; one that
// closes under it answers ErrClosed, which Do turns into NOT_COORDINATOR.
// The other fields belong to the watcher.
type coordinator struct {
	id  model.PartitionID
	key model.PartitionKey
	svc atomic.Pointer[group.Service]

	epoch     int32     // leader epoch svc was loaded in
	failures  int       // consecutive failed loads or failed Services in failEpoch
	failEpoch int32     // leader epoch of the last failure
	notBefore time.Time // no new load before, after a failure
}

// Bounds of a coordinator's life: how long closing waits for a pending
// append before aborting it, and the back-off between attempts to load
// a partition whose load or Service failed (doubling from the first).
const (
	coordinatorCloseTimeout = 5 * time.Second
	coordinatorRetryFirst   = 100 * time.Millisecond
	coordinatorRetryMax     = 10 * time.Second
)

func newGroups(n *Node) *groups { return &groups{n: n, stop: make(chan struct{})} }

func (g *groups) register(reg *kafka.Registry) error { return kafka.RegisterGroups(reg, g.n, g) }

// start creates __consumer_offsets if needed, loads the coordinators of
// the partitions this node leads, and starts one watcher per partition.
func (g *groups) start(ctx context.Context) error {
	n := g.n
	if err := n.waitFounders(ctx); err != nil {
		return err
	}
	tp, ok := n.Tables().TopicByName(offsetsTopic)
	if !ok {
		cmd, err := n.Tables().PlanCreateTopic(cluster.TopicRequest{Name: offsetsTopic, Partitions: offsetsPartitions,
			ReplicationFactor: -1, Configs: map[string]string{}}, kafka.NewTopicID(), n.Defaults())
		if err != nil {
			return fmt.Errorf("node: plan %s: %w", offsetsTopic, err)
		}
		if err := n.CreateTopic(ctx, cmd); err != nil && !errors.Is(err, cluster.ErrTopicExists) {
			return fmt.Errorf("node: create %s: %w", offsetsTopic, err)
		}
		if tp, ok = n.Tables().TopicByName(offsetsTopic); !ok {
			return fmt.Errorf("node: %s missing after create", offsetsTopic)
		}
	}
	if err := n.waitServing(ctx, tp.ID); err != nil {
		return err
	}
	g.cfg = group.DefaultConfig()
	switch d := n.cfg.GroupInitialRebalanceDelay; {
	case d < 0:
		g.cfg.InitialRebalanceDelay = 0
	case d > 0:
		g.cfg.InitialRebalanceDelay = d
	}
	g.slots = make([]*coordinator, 0, len(tp.Partitions))
	for _, p := range tp.Partitions {
		g.slots = append(g.slots, &coordinator{id: p.ID, key: model.PartitionKey{Topic: tp.ID, Partition: p.ID}})
	}
	for _, c := range g.slots {
		if err := g.loadAtStart(ctx, c); err != nil {
			g.unloadAll(ctx)
			return err
		}
	}
	g.loaded.Store(true)
	for _, c := range g.slots {
		g.wg.Add(1)
		go g.watch(c)
	}
	return nil
}

// loadAtStart loads c if this node leads its partition, waiting for a
// leader this node serves as to catch up; it returns at once when the
// partition is led elsewhere or (in a cluster) not hosted here.
func (g *groups) loadAtStart(ctx context.Context, c *coordinator) error {
	n := g.n
	for {
		rs := n.ReadState(c.key)
		switch {
		case rs == nil && n.transport != nil:
			return nil // hosted elsewhere
		case rs == nil:
			return fmt.Errorf("node: load groups of partition %d: partition not open", c.id)
		case rs.Leader && rs.HighWatermark >= rs.LogEnd:
			if err := g.load(c, rs); err != nil {
				return fmt.Errorf("node: load groups of partition %d: %w", c.id, err)
			}
			return nil
		case !rs.Leader && rs.LeaderID >= 0 && rs.LeaderID != n.cfg.NodeID:
			return nil // the watcher loads it if leadership comes here
		}
		select {
		case <-rs.Changed():
		case <-ctx.Done():
			return fmt.Errorf("node: load groups of partition %d: %w", c.id, ctx.Err())
		}
	}
}

// watch keeps c's Service in line with the partition's leadership until
// the groups close: it wakes when the replica publishes a new state, when
// the Service stops on its own (a failed append), when the reconciler
// has opened or removed replicas, or when a back-off after a failure
// ends.
func (g *groups) watch(c *coordinator) {
	defer g.wg.Done()
	for {
		var changed, done <-chan struct{}
		var retry <-chan time.Time // a timer only after a failure (collected once dropped, Go 1.23+)
		// Taken before the replica is looked up: a replica removed
		// (moved away) publishes nothing more, the reconciler wakes us.
		reconciled := g.n.ctrl.nextReconcile()
		if rs := g.n.ReadState(c.key); rs == nil {
			g.unload(c)
		} else {
			if wait := g.sync(c, rs, time.Now()); wait > 0 {
				retry = time.After(wait)
			}
			changed = rs.Changed()
		}
		if s := c.svc.Load(); s != nil {
			done = s.Done()
		}
		select {
		case <-g.stop:
			return
		case <-changed:
		case <-reconciled:
		case <-done:
		case <-retry:
		}
	}
}

// sync brings c in line with rs: it unloads a Service that stopped or
// whose leadership ended (or changed epoch: another leader may have
// written in between), and loads one when this replica leads and has
// committed everything in its log (the tail of a Service that failed
// has been decided). It returns how long to wait before trying again
// after a failure, or 0.
func (g *groups) sync(c *coordinator, rs *partition.ReadState, now time.Time) time.Duration {
	if s := c.svc.Load(); s != nil {
		stopped := isDone(s.Done())
		if !stopped && rs.Leader && rs.LeaderEpoch == c.epoch {
			return 0
		}
		g.unload(c)
		if stopped {
			g.failed(c, c.epoch, now)
		}
	}
	if !rs.Leader || rs.HighWatermark < rs.LogEnd {
		return 0
	}
	if rs.LeaderEpoch == c.failEpoch && now.Before(c.notBefore) {
		return c.notBefore.Sub(now)
	}
	if err := g.load(c, rs); err != nil {
		g.n.log.Error("group coordinator load failed", "partition", int32(c.id), "epoch", rs.LeaderEpoch, "err", err)
		g.failed(c, rs.LeaderEpoch, now)
		return c.notBefore.Sub(now)
	}
	return 0
}

// failed records a failure in epoch and sets the back-off.
func (g *groups) failed(c *coordinator, epoch int32, now time.Time) {
	if epoch != c.failEpoch {
		c.failures = 0
	}
	c.failEpoch = epoch
	c.notBefore = now.Add(min(coordinatorRetryFirst<<min(c.failures, 10), coordinatorRetryMax))
	c.failures++
}

// load builds c's Service from the partition's committed records as rs
// shows them, starts it and publishes it.
func (g *groups) load(c *coordinator, rs *partition.ReadState) error {
	n := g.n
	svc, err := group.NewService(g.cfg, offsetsLog{n: n, key: c.key}, n.log.With("coordinator", int32(c.id)), time.Now)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := svc.Load(replay(rs)); err != nil {
		_ = svc.Close(context.Background()) // never started: closes at once
		return err
	}
	svc.Start()
	c.epoch = rs.LeaderEpoch
	c.svc.Store(svc)
	n.log.Debug("group coordinator loaded", "partition", int32(c.id), "epoch", rs.LeaderEpoch,
		"records_through", rs.HighWatermark, "took", time.Since(t0))
	return nil
}

// unload withdraws c's Service and closes it: requests parked in it
// answer ErrClosed, a pending append is aborted after
// coordinatorCloseTimeout.
func (g *groups) unload(c *coordinator) {
	s := c.svc.Swap(nil)
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), coordinatorCloseTimeout)
	defer cancel()
	_ = s.Close(ctx)
	g.n.log.Debug("group coordinator unloaded", "partition", int32(c.id), "epoch", c.epoch)
}

func (g *groups) unloadAll(ctx context.Context) {
	for _, c := range g.slots {
		if s := c.svc.Swap(nil); s != nil {
			_ = s.Close(ctx)
		}
	}
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// nextReconcile is closed the next time the reconciler catches up (it
// may have opened replicas).
func (c *controller) nextReconcile() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reconciled
}

// replay yields the committed records of an offsets partition, up to the
// high watermark of rs.
func replay(rs *partition.ReadState) iter.Seq2[group.Record, error] {
	return func(yield func(group.Record, error) bool) {
		for from := rs.LogStart; from < rs.HighWatermark; {
			data, err := rs.View.ReadBatches(from, 1<<20, rs.HighWatermark, nil)
			if err == nil && len(data) == 0 {
				err = fmt.Errorf("no batch at offset %d below %d: %w", from, rs.HighWatermark, model.ErrCorrupt)
			}
			if err != nil {
				yield(group.Record{}, err)
				return
			}
			for len(data) > 0 {
				b, rest, err := model.ParseBatch(data)
				if err != nil {
					yield(group.Record{}, err)
					return
				}
				if err := eachRecord(b, func(k, v []byte) bool { return yield(group.Record{Key: k, Value: v}, nil) }); err != nil {
					if !errors.Is(err, errStop) {
						yield(group.Record{}, err)
					}
					return
				}
				from = b.LastOffset() + 1
				data = rest
			}
		}
	}
}

// services yields the coordinators loaded here now, by partition (the
// lag metrics range over it); one may close while the caller uses it.
func (g *groups) services(yield func(int, *group.Service) bool) {
	if !g.loaded.Load() {
		return
	}
	for i, c := range g.slots {
		if s := c.svc.Load(); s != nil && !yield(i, s) {
			return
		}
	}
}

// Partitions implements kafka.Groups.
func (g *groups) Partitions() int {
	if !g.loaded.Load() {
		return 1
	}
	return len(g.slots)
}

// Do implements kafka.Groups: a partition whose coordinator is not
// loaded here answers NOT_COORDINATOR, as does one that closes or fails
// while the request waits (a stale coordinator's append fails with
// NOT_LEADER: nothing is acknowledged, and the client finds the new one).
func (g *groups) Do(ctx context.Context, p int32, c group.Client, req kmsg.Request) (kmsg.Response, error) {
	if !g.loaded.Load() || p < 0 || int(p) >= len(g.slots) {
		return notCoordinator(req), nil
	}
	s := g.slots[p].svc.Load()
	if s == nil {
		return notHere(req), nil
	}
	resp, err := s.Do(ctx, c, req)
	if errors.Is(err, group.ErrLogFailed) || errors.Is(err, group.ErrClosed) {
		return notHere(req), nil
	}
	return resp, err
}

// notHere answers a request for a coordinator this node does not run:
// NOT_COORDINATOR, except ListGroups, which (as in Kafka) each broker
// answers with the groups of the coordinators it runs, none here.
func notHere(req kmsg.Request) kmsg.Response {
	if _, ok := req.(*kmsg.ListGroupsRequest); ok {
		return req.ResponseKind()
	}
	return notCoordinator(req)
}

// notCoordinator answers a group request with NOT_COORDINATOR, so the
// client looks the coordinator up again and retries.
func notCoordinator(req kmsg.Request) kmsg.Response {
	resp := req.ResponseKind()
	code := kerr.NotCoordinator.Code
	switch r := resp.(type) {
	case *kmsg.JoinGroupResponse:
		r.ErrorCode = code
	case *kmsg.SyncGroupResponse:
		r.ErrorCode = code
	case *kmsg.HeartbeatResponse:
		r.ErrorCode = code
	case *kmsg.LeaveGroupResponse:
		r.ErrorCode = code
	case *kmsg.OffsetFetchResponse:
		r.ErrorCode = code
		// v8+ answers per group; the top-level code is not read there.
		for _, g := range req.(*kmsg.OffsetFetchRequest).Groups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, code
			r.Groups = append(r.Groups, rg)
		}
	case *kmsg.ListGroupsResponse:
		r.ErrorCode = code
	case *kmsg.OffsetDeleteResponse:
		r.ErrorCode = code
	case *kmsg.OffsetCommitResponse:
		for _, t := range req.(*kmsg.OffsetCommitRequest).Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			r.Topics = append(r.Topics, rt)
		}
	case *kmsg.DescribeGroupsResponse:
		for _, id := range req.(*kmsg.DescribeGroupsRequest).Groups {
			d := kmsg.NewDescribeGroupsResponseGroup()
			d.Group, d.ErrorCode = id, code
			r.Groups = append(r.Groups, d)
		}
	case *kmsg.DeleteGroupsResponse:
		for _, id := range req.(*kmsg.DeleteGroupsRequest).Groups {
			d := kmsg.NewDeleteGroupsResponseGroup()
			d.Group, d.ErrorCode = id, code
			r.Groups = append(r.Groups, d)
		}
	}
	return resp
}

// close stops the watchers and closes every loaded coordinator.
func (g *groups) close(ctx context.Context) {
	select {
	case <-g.stop:
		return
	default:
		close(g.stop)
	}
	g.wg.Wait()
	g.unloadAll(ctx)
}

// offsetsLog is a coordinator's log: its records become one uncompressed
// batch on its partition, acknowledged once committed.
type offsetsLog struct {
	n   *Node
	key model.PartitionKey
}

func (l offsetsLog) Append(ctx context.Context, recs []group.Record) error {
	if len(recs) == 0 {
		return nil
	}
	batch := encodeRecords(recs, time.Now().UnixMilli())
	done := make(chan partition.ProduceResult, 1)
	l.n.Produce(ctx, []kafka.ProduceBatch{{Key: l.key, Batch: batch, ProducerID: -1, Count: int32(len(recs))}},
		func(_ int, r partition.ProduceResult) { done <- r })
	select {
	case r := <-done:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// encodeRecords builds a v2 batch of key/value records (nil value: a
// tombstone), uncompressed, no headers.
func encodeRecords(recs []group.Record, nowMs int64) []byte {
	var body, rec []byte
	for i, r := range recs {
		rec = rec[:0]
		rec = append(rec, 0)                     // attributes
		rec = binary.AppendVarint(rec, 0)        // timestamp delta
		rec = binary.AppendVarint(rec, int64(i)) // offset delta
		rec = appendVarBytes(rec, r.Key)
		rec = appendVarBytes(rec, r.Value)
		rec = binary.AppendVarint(rec, 0) // headers
		body = binary.AppendVarint(body, int64(len(rec)))
		body = append(body, rec...)
	}
	return model.AppendBatch(nil, model.BatchFields{
		LastOffsetDelta: int32(len(recs) - 1), BaseTimestamp: nowMs, MaxTimestamp: nowMs,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, RecordCount: int32(len(recs)),
	}, body)
}

func appendVarBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	return append(binary.AppendVarint(dst, int64(len(b))), b...)
}

var errStop = errors.New("stop")

// eachRecord walks the records of an uncompressed batch written by
// encodeRecords (or any uncompressed v2 batch), calling fn with each key
// and value; fn returning false stops the walk with errStop.
func eachRecord(b model.Batch, fn func(k, v []byte) bool) error {
	if b.Codec() != 0 {
		return fmt.Errorf("offsets batch at %d is compressed: %w", b.BaseOffset(), model.ErrCorrupt)
	}
	data := b[model.BatchHeaderSize:]
	bad := fmt.Errorf("offsets batch at %d: bad record: %w", b.BaseOffset(), model.ErrCorrupt)
	for i := int32(0); i < b.RecordCount(); i++ {
		l, n := binary.Varint(data)
		if n <= 0 || l < 0 || int64(len(data)-n) < l {
			return bad
		}
		rec := data[n : n+int(l)]
		data = data[n+int(l):]
		if len(rec) < 1 {
			return bad
		}
		rec = rec[1:]
		for j := 0; j < 2; j++ { // timestamp and offset deltas
			if _, n := binary.Varint(rec); n <= 0 {
				return bad
			} else {
				rec = rec[n:]
			}
		}
		var kv [2][]byte
		for j := range kv {
			l, n := binary.Varint(rec)
			if n <= 0 || l < -1 || int64(len(rec)-n) < l {
				return bad
			}
			rec = rec[n:]
			if l >= 0 {
				kv[j] = rec[:l]
				rec = rec[l:]
			}
		}
		if !fn(kv[0], kv[1]) {
			return errStop
		}
	}
	return nil
}
