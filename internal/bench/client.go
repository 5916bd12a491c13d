package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Sentinels of this package.
var (
	// ErrUsage: options that do not describe a run.
	ErrUsage = errors.New("bench: bad usage")
	// ErrIncomplete: a run ended (time out, errors) before it counted
	// everything it was asked to.
	ErrIncomplete = errors.New("bench: run incomplete")
)

const (
	// topicReadyTimeout bounds waiting for a created topic's leaders.
	topicReadyTimeout = 60 * time.Second
	// latencyMax is the largest latency the histograms hold (larger ones
	// count as this).
	latencyMax = time.Minute
)

// EnsureTopic creates topic with partitions and replication factor
// replicas (1 on a one-node cluster; -1: the broker's default) unless it
// exists, and waits until every partition has a leader and, when replicas
// > 1, that many in-sync replicas.
func EnsureTopic(ctx context.Context, brokers []string, topic string, partitions int, replicas int16) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(ctx, int32(partitions), replicas, nil, topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("bench: create topic %s: %w (%s)", topic, err, resp.ErrMessage)
	}
	ctx, cancel := context.WithTimeout(ctx, topicReadyTimeout)
	defer cancel()
	for {
		topics, err := adm.ListTopics(ctx, topic)
		if err == nil && topicReady(topics[topic], int(replicas)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: topic %s has no leaders (or in-sync replicas) after %v (last error %v)", ErrIncomplete, topic, topicReadyTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// topicReady: every partition of d has a leader and, if isr > 1, at least
// isr in-sync replicas.
func topicReady(d kadm.TopicDetail, isr int) bool {
	ready := d.Err == nil && len(d.Partitions) > 0
	for _, p := range d.Partitions {
		ready = ready && p.Err == nil && p.Leader >= 0 && (isr <= 1 || len(p.ISR) >= isr)
	}
	return ready
}

// latencies is a concurrent HdrHistogram of durations in microseconds.
// Any goroutine.
type latencies struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

func newLatencies() *latencies {
	return &latencies{h: hdrhistogram.New(1, latencyMax.Microseconds(), 3)}
}

func (l *latencies) record(d time.Duration) {
	us := min(max(d.Microseconds(), 1), latencyMax.Microseconds())
	l.mu.Lock()
	_ = l.h.RecordValue(us) // in range by construction
	l.mu.Unlock()
}

// Latency is a summary of a latency histogram, in microseconds.
type Latency struct {
	Count  int64 `json:"count"`
	P50us  int64 `json:"p50_us"`
	P99us  int64 `json:"p99_us"`
	P999us int64 `json:"p999_us"`
	MaxUs  int64 `json:"max_us"`
}

func (l *latencies) summary() Latency {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Latency{
		Count:  l.h.TotalCount(),
		P50us:  l.h.ValueAtQuantile(50),
		P99us:  l.h.ValueAtQuantile(99),
		P999us: l.h.ValueAtQuantile(99.9),
		MaxUs:  l.h.Max(),
	}
}

// rate is bytes per second in MB/s (10^6) over seconds.
func mbps(bytes int64, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return float64(bytes) / seconds / 1e6
}
