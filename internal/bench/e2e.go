package bench

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// E2EResult is an end-to-end run: the produce side and the latency from a
// record's due time to its arrival at a consumer tailing the topic.
type E2EResult struct {
	Produce  ProduceResult `json:"produce"`
	Consumed int64         `json:"consumed"`
	Latency  Latency       `json:"e2e_latency"`
}

// e2eDrainTimeout bounds waiting for the last records after producing ends.
const e2eDrainTimeout = 30 * time.Second

// E2E produces o (usually at a rate) while a consumer tails the topic from
// its end offsets, and measures produce→consume latency from each record's
// due time, carried in its first 8 value bytes. A broker that does not
// return what was produced (the null peer) fails the run.
func E2E(ctx context.Context, o ProduceOptions, logger *slog.Logger) (E2EResult, error) {
	o.stamp = true
	pcl, err := newProducer(ctx, o)
	if err != nil {
		return E2EResult{}, err
	}
	defer pcl.Close()
	ranges, err := listRanges(ctx, pcl, o.Topic)
	if err != nil {
		return E2EResult{}, err
	}
	start := map[int32]kgo.Offset{}
	for p, r := range ranges {
		start[p] = kgo.NewOffset().At(r.end)
	}
	ccl, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.Topic: start}),
		kgo.FetchMaxWait(time.Second))
	if err != nil {
		return E2EResult{}, err
	}
	defer ccl.Close()

	lat := newLatencies()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var consumed atomic.Int64
	var bad atomic.Pointer[error]
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for cctx.Err() == nil {
			ccl.PollFetches(cctx).EachRecord(func(r *kgo.Record) {
				due, ok := dueTime(r.Value)
				if !ok {
					err := fmt.Errorf("%w: record %d/%d carries no due time", ErrIncomplete, r.Partition, r.Offset)
					bad.CompareAndSwap(nil, &err)
					cancel()
					return
				}
				lat.record(time.Since(due))
				consumed.Add(1)
			})
		}
	}()
	pres, err := runProduce(ctx, pcl, o, logger)
	if err != nil {
		return E2EResult{Produce: pres}, err
	}
	// Wait for the consumer to see every acknowledged record.
	deadline := time.Now().Add(e2eDrainTimeout)
	for consumed.Load() < pres.Records && cctx.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-stopped
	n := consumed.Load()
	res := E2EResult{Produce: pres, Consumed: n, Latency: lat.summary()}
	if err := bad.Load(); err != nil {
		return res, *err
	}
	if n != pres.Records {
		return res, fmt.Errorf("%w: %d acknowledged, %d consumed", ErrIncomplete, pres.Records, n)
	}
	return res, nil
}
