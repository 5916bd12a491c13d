package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel/internal/chaos/history"
)

// Workload runs the clients of one chaos run. Run and FinalRead are called
// from one goroutine, in that order.
type Workload struct {
	cfg Config
}

// New returns a workload; nothing connects until Setup.
func New(cfg Config) *Workload {
	cfg.setDefaults()
	return &Workload{cfg: cfg}
}

// Config is the workload's configuration with the defaults filled in.
func (w *Workload) Config() Config { return w.cfg }

// baseOpts are the options every client shares: quick metadata refresh
// and short backoffs, so clients find a restarted broker fast.
func (w *Workload) baseOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(w.cfg.Seeds...),
		kgo.MetadataMinAge(250 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
		kgo.DialTimeout(2 * time.Second),
	}
}

// Setup creates the topics chaos and lin, retrying for up to a minute.
func (w *Workload) Setup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(w.baseOpts()...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, t := range []struct {
		name  string
		parts int32
	}{{Topic, w.cfg.Partitions}, {LinTopic, 1}} {
		for {
			res, err := adm.CreateTopic(ctx, t.parts, w.cfg.Replication, nil, t.name)
			if err == nil && res.Err == nil || errors.Is(res.Err, kerr.TopicAlreadyExists) {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("workload: create topic %s: %v %v", t.name, err, res.Err)
			}
			time.Sleep(200 * time.Millisecond) // retry pacing, bounded by ctx
		}
	}
	return nil
}

// Run runs every client until ctx ends and waits for them to stop.
func (w *Workload) Run(ctx context.Context) {
	var wg sync.WaitGroup
	b := newBucket(ctx, w.cfg.Rate)
	proc := 0
	next := func() int { proc++; return proc - 1 }
	for i := range w.cfg.Producers + 1 {
		p := &producer{w: w, proc: next(), idempotent: i < w.cfg.Producers, bucket: b,
			rng: rand.New(rand.NewPCG(w.cfg.Seed, uint64(proc)))}
		wg.Go(func() { p.run(ctx) })
	}
	for range 2 {
		a := &assign{w: w, proc: next()}
		wg.Go(func() { a.run(ctx) })
	}
	g := &groupMember{w: w, proc: next()}
	wg.Go(func() { g.run(ctx) })
	lp := next()
	wg.Go(func() { w.listOffsetsLoop(ctx, lp) })
	for i := range 2 {
		l := &lin{w: w, proc: next(), rng: rand.New(rand.NewPCG(w.cfg.Seed, uint64(1000+i)))}
		wg.Go(func() { l.run(ctx, max(w.cfg.LinRate/2, 1)) })
	}
	for _, n := range w.cfg.ProbeNodes {
		pb := &prober{w: w, proc: next(), node: n}
		wg.Go(func() { pb.run(ctx) })
	}
	wg.Wait()
}

// listOffsetsLoop polls earliest and latest of every chaos partition five
// times a second: one ListOffsets op per partition.
func (w *Workload) listOffsetsLoop(ctx context.Context, proc int) {
	cl, err := kgo.NewClient(w.baseOpts()...)
	if err != nil {
		w.cfg.Logger.Error("list-offsets client", "err", err)
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for i := 0; i < 10_000_000 && ctx.Err() == nil; i++ {
		w.listOffsets(ctx, adm, proc, Topic, w.cfg.Partitions)
		waitTick(ctx, tick)
	}
}

// listOffsets records one ListOffsets op per partition of topic around one
// pair of requests (latest, then earliest).
func (w *Workload) listOffsets(ctx context.Context, adm *kadm.Client, proc int, topic string, parts int32) {
	rec := w.cfg.Rec
	invs := make([]history.Op, parts)
	for p := range parts {
		invs[p] = rec.Invoke(history.Op{Process: proc, Type: history.ListOffsets, Topic: topic, Partition: p})
	}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(rctx, topic)
	var starts kadm.ListedOffsets
	if err == nil {
		starts, err = adm.ListStartOffsets(rctx, topic)
	}
	for p := range parts {
		end, ok1 := ends.Lookup(topic, p)
		start, ok2 := starts.Lookup(topic, p)
		perr := err
		switch {
		case perr != nil:
		case !ok1 || !ok2:
			perr = errors.New("partition missing from the response")
		case end.Err != nil:
			perr = end.Err
		case start.Err != nil:
			perr = start.Err
		}
		if perr != nil {
			rec.Complete(invs[p], history.Info, func(o *history.Op) { o.Err = perr.Error() })
			continue
		}
		rec.Complete(invs[p], history.OK, func(o *history.Op) {
			o.Offset, o.Earliest, o.LeaderEpoch = end.Offset, start.Offset, end.LeaderEpoch
		})
	}
}

// definite reports whether a produce error is a definite rejection: a Kafka
// error code that says the broker did not append the batch. Anything else
// (timeouts, disconnects, retries exhausted, a closed client, retriable
// codes) is indeterminate: the record may or may not be in the log.
func definite(err error) bool {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return false
	}
	switch ke {
	case kerr.MessageTooLarge, kerr.CorruptMessage, kerr.InvalidRecord, kerr.RecordListTooLarge,
		kerr.InvalidTopicException, kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed,
		kerr.InvalidRequiredAcks, kerr.UnsupportedForMessageFormat, kerr.InvalidTimestamp:
		return true
	}
	return false
}
