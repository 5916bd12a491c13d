package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// FailoverOptions describe one failover round: a producer writes to
// partition 0 of Topic, the partition's leader (from Metadata) is killed
// with SIGKILL, and the round measures how long the partition is
// unavailable to that producer.
type FailoverOptions struct {
	Brokers []string
	Topic   string // one partition, created with Replicas if missing
	// Replicas is the topic's replication factor (0: 3).
	Replicas int16
	// Pids maps broker node ids to the PIDs of their processes: the only
	// processes the round may kill. The leader must be among them.
	Pids        map[int32]int
	RecordBytes int
	// Interval is the time between records (0: 2 ms, 500 records/s);
	// at most failoverInflight are unacknowledged at once.
	Interval time.Duration
	// Timeout bounds the round (0: 90 s): topic readiness, the kill and
	// the wait for the first acknowledgement after it.
	Timeout time.Duration
}

// FailoverResult is one round. ToAckMs is the failover time: from the
// return of kill(2) to the acknowledgement of the first record handed to
// the client after it (such a record can only have been written by a new
// leader). ToLeaderMs is the time until Metadata names another leader.
type FailoverResult struct {
	KilledNode int32   `json:"killed_node"`
	KilledPid  int     `json:"killed_pid"`
	NewLeader  int32   `json:"new_leader"`
	ToLeaderMs float64 `json:"to_leader_ms"`
	ToAckMs    float64 `json:"to_ack_ms"`
	Acked      int64   `json:"acked"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
}

const (
	failoverInterval = 2 * time.Millisecond
	failoverTimeout  = 90 * time.Second
	failoverInflight = 256
	// failoverPoll is how often Metadata is asked for the new leader.
	failoverPoll = 20 * time.Millisecond
)

func (o *FailoverOptions) setDefaults() error {
	if o.Replicas == 0 {
		o.Replicas = 3
	}
	if o.Interval <= 0 {
		o.Interval = failoverInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = failoverTimeout
	}
	switch {
	case len(o.Brokers) == 0 || o.Topic == "":
		return fmt.Errorf("%w: brokers and topic are required", ErrUsage)
	case len(o.Pids) == 0:
		return fmt.Errorf("%w: no node PIDs: the round kills only a process it was given", ErrUsage)
	case o.RecordBytes < 0 || o.RecordBytes > maxValueBytes:
		return fmt.Errorf("%w: record size %d", ErrUsage, o.RecordBytes)
	}
	return nil
}

// ParsePids parses "node=pid,node=pid" (e.g. "0=4121,1=4122,2=4130").
func ParsePids(s string) (map[int32]int, error) {
	pids := map[int32]int{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		node, pid, ok := strings.Cut(item, "=")
		n, nerr := strconv.ParseInt(strings.TrimSpace(node), 10, 32)
		p, perr := strconv.Atoi(strings.TrimSpace(pid))
		if !ok || nerr != nil || perr != nil || n < 0 || p <= 1 {
			return nil, fmt.Errorf("%w: %q is not node=pid (node ≥ 0, pid > 1)", ErrUsage, item)
		}
		if _, dup := pids[int32(n)]; dup {
			return nil, fmt.Errorf("%w: node %d given twice", ErrUsage, n)
		}
		pids[int32(n)] = p
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("%w: no node=pid pairs in %q", ErrUsage, s)
	}
	return pids, nil
}

// failoverProducer sends one record per tick to partition 0 and notes the
// first acknowledgement of a record created after killedAt. Its callback
// runs on franz-go's goroutines.
type failoverProducer struct {
	acked, failed atomic.Int64
	firstErr      atomic.Pointer[error]
	killedAt      atomic.Int64 // unix ns, 0 until the kill
	ackAfter      atomic.Int64 // unix ns of the first such ack
	anyAck        chan struct{}
	afterKill     chan struct{}
	onceAny       sync.Once
	onceAfter     sync.Once
}

func (p *failoverProducer) done(created time.Time, err error) {
	if err != nil {
		p.failed.Add(1)
		p.firstErr.CompareAndSwap(nil, &err)
		return
	}
	now := time.Now()
	p.acked.Add(1)
	p.onceAny.Do(func() { close(p.anyAck) })
	if k := p.killedAt.Load(); k != 0 && created.UnixNano() > k {
		p.onceAfter.Do(func() {
			p.ackAfter.Store(now.UnixNano())
			close(p.afterKill)
		})
	}
}

func (p *failoverProducer) run(ctx context.Context, cl *kgo.Client, o FailoverOptions) {
	sem := make(chan struct{}, failoverInflight)
	value := make([]byte, o.RecordBytes)
	tk := time.NewTicker(o.Interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			continue // the partition is unavailable and the window is full
		}
		created := time.Now()
		cl.Produce(ctx, &kgo.Record{Value: value, Partition: 0}, func(_ *kgo.Record, err error) {
			<-sem
			p.done(created, err)
		})
	}
}

// Failover runs one round (see FailoverOptions).
func Failover(ctx context.Context, o FailoverOptions, logger *slog.Logger) (FailoverResult, error) {
	res := FailoverResult{KilledNode: -1, NewLeader: -1}
	if err := o.setDefaults(); err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if err := EnsureTopic(ctx, o.Brokers, o.Topic, 1, o.Replicas); err != nil {
		return res, err
	}
	// Metadata may be refreshed every 250 ms: kgo's 5 s default would
	// measure the client's back-off rather than the broker's failover.
	cl, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...), kgo.DefaultProduceTopic(o.Topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MetadataMinAge(250*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
		kgo.RecordDeliveryTimeout(o.Timeout))
	if err != nil {
		return res, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	p := &failoverProducer{anyAck: make(chan struct{}), afterKill: make(chan struct{})}
	pctx, stopProducing := context.WithCancel(ctx)
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		p.run(pctx, cl, o)
	}()
	finish := func() {
		stopProducing()
		<-produced
		fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = cl.Flush(fctx) // what is still unacknowledged fails at Close and is counted
		fcancel()
		res.Acked, res.Errors = p.acked.Load(), p.failed.Load()
		if e := p.firstErr.Load(); e != nil {
			res.FirstError = (*e).Error()
		}
	}

	select {
	case <-p.anyAck:
	case <-ctx.Done():
		finish()
		return res, fmt.Errorf("%w: no acknowledged write before the kill (%v)", ErrIncomplete, ctx.Err())
	}
	leader, err := partitionLeader(ctx, adm, o.Topic)
	if err != nil {
		finish()
		return res, err
	}
	pid, ok := o.Pids[leader]
	if !ok {
		finish()
		return res, fmt.Errorf("%w: the leader, node %d, has no PID among %v", ErrUsage, leader, o.Pids)
	}
	res.KilledNode, res.KilledPid = leader, pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		finish()
		return res, fmt.Errorf("bench: kill -9 %d (node %d): %w", pid, leader, err)
	}
	killed := time.Now()
	p.killedAt.Store(killed.UnixNano())
	logger.Info("failover: leader killed", "node", leader, "pid", pid)

	afterKill := p.afterKill
	tk := time.NewTicker(failoverPoll)
	defer tk.Stop()
	for res.NewLeader < 0 || res.ToAckMs == 0 {
		select {
		case <-ctx.Done():
			finish()
			return res, fmt.Errorf("%w: partition 0 of %s: new leader %d, no acknowledged write %v after node %d was killed",
				ErrIncomplete, o.Topic, res.NewLeader, time.Since(killed).Round(time.Millisecond), leader)
		case <-afterKill:
			res.ToAckMs = max(ms(time.Unix(0, p.ackAfter.Load()).Sub(killed)), 1e-3)
			afterKill = nil // a closed channel is ready forever
		case <-tk.C:
			if res.NewLeader >= 0 {
				continue
			}
			rctx, rcancel := context.WithTimeout(ctx, time.Second)
			l, err := partitionLeader(rctx, adm, o.Topic)
			rcancel()
			if err == nil && l != leader {
				res.NewLeader, res.ToLeaderMs = l, ms(time.Since(killed))
			}
		}
	}
	finish()
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

// errNoLeader: Metadata names no leader for partition 0 (yet).
var errNoLeader = errors.New("bench: partition 0 has no leader")

// partitionLeader is the leader of partition 0 of topic per Metadata.
func partitionLeader(ctx context.Context, adm *kadm.Client, topic string) (int32, error) {
	topics, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return -1, err
	}
	d := topics[topic]
	p, ok := d.Partitions[0]
	if d.Err != nil || !ok || p.Err != nil || p.Leader < 0 {
		return -1, fmt.Errorf("%w: %s: %v %v", errNoLeader, topic, d.Err, p.Err)
	}
	return p.Leader, nil
}
