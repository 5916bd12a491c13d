package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Client settings shared by every client of the test: metadata may be
// refreshed every 250 ms (kgo's 5 s default would measure the client's
// back-off rather than the broker's failover).
func clientOpts(seeds []string, more ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.MetadataMinAge(250 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond })}, more...)
}

func newClient(t *testing.T, seeds []string, more ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(clientOpts(seeds, more...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// eventLog is a kgo.Logger that counts the client's info, warning and
// error messages (with their err value): the retriable produce errors the
// client absorbs, which never reach a record's promise. Bounded: at most
// 64 kinds, the rest counted under one.
type eventLog struct {
	mu     sync.Mutex
	counts map[string]int
}

func (e *eventLog) Level() kgo.LogLevel { return kgo.LogLevelInfo }

func (e *eventLog) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	if level > kgo.LogLevelInfo {
		return
	}
	for i := 0; i+1 < len(keyvals); i += 2 {
		if keyvals[i] == "err" {
			msg += ": " + fmt.Sprint(keyvals[i+1])
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.counts[msg]; !ok && len(e.counts) >= 64 {
		msg = "(other messages)"
	}
	e.counts[msg]++
}

// snapshot copies the counts.
func (e *eventLog) snapshot() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.counts)
}

// producer produces numbered records round-robin to the partitions, at
// most one every tick, with at most inflight unacknowledged per partition
// (a partition without a leader does not stall the others), recording
// every outcome in the ledger.
type producer struct {
	cl       *kgo.Client
	l        *ledger
	stop     chan struct{}
	done     chan struct{}
	produced int // valid after done
	events   *eventLog
}

func startProducer(ctx context.Context, t *testing.T, seeds []string, topic string, partitions int, l *ledger) *producer {
	const (
		tick       = 5 * time.Millisecond // ≤ 200 records/s
		inflight   = 32
		maxRecords = 200_000
	)
	events := &eventLog{counts: map[string]int{}}
	cl := newClient(t, seeds, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RecordDeliveryTimeout(20*time.Second), kgo.WithLogger(events))
	pr := &producer{cl: cl, l: l, stop: make(chan struct{}), done: make(chan struct{}), events: events}
	sems := make([]chan struct{}, partitions)
	for i := range sems {
		sems[i] = make(chan struct{}, inflight)
	}
	go func() {
		defer close(pr.done)
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for i := 0; pr.produced < maxRecords; i++ {
			select {
			case <-pr.stop:
				return
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			p := int32(i % partitions)
			select {
			case sems[p] <- struct{}{}:
			default:
				continue // this partition is full: try the next one next tick
			}
			seq := pr.produced
			pr.produced++
			r := &kgo.Record{Topic: topic, Partition: p, Value: []byte(value(seq))}
			cl.Produce(ctx, r, func(r *kgo.Record, err error) {
				<-sems[r.Partition]
				if err != nil {
					l.produceErr(err)
					return
				}
				l.ack(rec{p: r.Partition, off: r.Offset, v: string(r.Value)}, time.Now())
			})
		}
	}()
	return pr
}

// finish stops producing, waits (≤ 30 s) for the records in flight and
// closes the client (whatever is still unacknowledged then fails and is
// counted as a produce error). It returns how many records were produced.
func (pr *producer) finish() int {
	close(pr.stop)
	<-pr.done
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pr.cl.Flush(ctx); err != nil {
		pr.l.produceErr(fmt.Errorf("flush at the end: %w", err))
	}
	pr.cl.Close()
	return pr.produced
}

// startConsumer reads every partition from its start while the faults
// run, recording what it reads; the returned function stops it and waits.
func startConsumer(ctx context.Context, t *testing.T, seeds []string, topic string, partitions int, l *ledger) func() {
	offs := map[int32]kgo.Offset{}
	for p := range partitions {
		offs[int32(p)] = kgo.NewOffset().AtStart()
	}
	cl := newClient(t, seeds, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}),
		kgo.FetchMaxWait(500*time.Millisecond))
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachError(func(_ string, _ int32, err error) {
				if !errors.Is(err, context.Canceled) {
					l.readErr(err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) { l.read(rec{p: r.Partition, off: r.Offset, v: string(r.Value)}) })
		}
	})
	return func() {
		cancel()
		wg.Wait()
		cl.Close()
	}
}

// readAll reads every partition from its start up to end[p] with a fresh
// consumer (ctx bounds it) and returns the records by partition, in
// offset order.
func readAll(ctx context.Context, t *testing.T, seeds []string, topic string, end map[int32]int64) (map[int32][]rec, error) {
	offs := map[int32]kgo.Offset{}
	out := map[int32][]rec{}
	left := 0
	for p, e := range end {
		offs[p] = kgo.NewOffset().AtStart()
		out[p] = nil
		if e > 0 {
			left++
		}
	}
	cl := newClient(t, seeds, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}))
	defer cl.Close()
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachError(func(_ string, p int32, err error) { t.Logf("final read, partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end[r.Partition] {
				return // produced after the end was taken: none are expected
			}
			out[r.Partition] = append(out[r.Partition], rec{p: r.Partition, off: r.Offset, v: string(r.Value)})
			if r.Offset == end[r.Partition]-1 {
				left--
			}
		})
	}
	if left > 0 {
		var got []string
		for p, e := range end {
			got = append(got, fmt.Sprintf("%d: %d of %d", p, len(out[p]), e))
		}
		return out, fmt.Errorf("final read incomplete (%v): %v", ctx.Err(), got)
	}
	return out, nil
}

// leadership is one partition's state in Metadata.
type leadership struct {
	leader int32
	epoch  int32
	isr    []int32
}

// partitionsState asks the cluster (any live node) for every partition's
// leader, epoch and ISR; a partition without a leader is absent.
func partitionsState(ctx context.Context, adm *kadm.Client, topic string) (map[int32]leadership, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return nil, err
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return nil, fmt.Errorf("topic %s: %v", topic, td.Err)
	}
	out := map[int32]leadership{}
	for p, pd := range td.Partitions {
		if pd.Err == nil && pd.Leader >= 0 {
			out[p] = leadership{leader: pd.Leader, epoch: pd.LeaderEpoch, isr: pd.ISR}
		}
	}
	return out, nil
}

// poll calls f every 50 ms until it returns true or limit passes (ctx
// bounds it too); it returns whether f succeeded and how long it took.
func poll(ctx context.Context, limit time.Duration, f func() bool) (bool, time.Duration) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tk := time.NewTicker(50 * time.Millisecond)
	defer tk.Stop()
	for {
		if f() {
			return true, time.Since(start)
		}
		select {
		case <-ctx.Done():
			return false, time.Since(start)
		case <-tk.C:
		}
	}
}
