package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel/internal/chaos/history"
)

// maxInFlight bounds a producer's sends awaiting their outcome.
const maxInFlight = 64

// producer is one history process sending to topic chaos; it is a new
// client (a new producer id, a new name) every RecreateEvery.
type producer struct {
	w          *Workload
	proc       int
	idempotent bool
	bucket     *bucket
	rng        *rand.Rand
}

func (p *producer) run(ctx context.Context) {
	for gen := 0; gen < 1_000_000 && ctx.Err() == nil; gen++ {
		p.instance(ctx, fmt.Sprintf("p%d.%d", p.proc, gen))
	}
}

// instance runs one client until RecreateEvery passes or ctx ends, then
// flushes (bounded) and closes it: sends still pending end as info.
func (p *producer) instance(ctx context.Context, name string) {
	cfg := p.w.cfg
	opts := append(p.w.baseOpts(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.RecordDeliveryTimeout(cfg.SendTimeout),
		kgo.MaxBufferedRecords(maxInFlight),
	)
	if !p.idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		cfg.Logger.Error("producer client", "err", err)
		return
	}
	var pending sync.WaitGroup
	sem := make(chan struct{}, maxInFlight)
	ictx, cancel := context.WithTimeout(ctx, cfg.RecreateEvery)
	defer cancel()
	for seq := 0; seq < 10_000_000 && p.bucket.Take(ictx); seq++ {
		select {
		case sem <- struct{}{}:
		case <-ictx.Done():
		}
		if ictx.Err() != nil {
			break
		}
		id := fmt.Sprintf("%s-%d", name, seq)
		part := p.rng.Int32N(cfg.Partitions)
		r := &kgo.Record{Topic: Topic, Partition: part, Value: p.value(id),
			Headers: []kgo.RecordHeader{{Key: Header, Value: []byte(id)}}}
		inv := cfg.Rec.Invoke(history.Op{Process: p.proc, Type: history.Send, Topic: Topic, Partition: part,
			Value: id, Producer: name, Idempotent: p.idempotent})
		pending.Add(1)
		// Not ictx: a send is never cancelled by the harness, only by its deadline.
		cl.Produce(context.WithoutCancel(ctx), r, func(r *kgo.Record, err error) {
			defer func() { <-sem; pending.Done() }()
			completeSend(cfg.Rec, inv, r, err)
		})
	}
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.SendTimeout+5*time.Second)
	_ = cl.Flush(fctx)
	fcancel()
	cl.Close() // fails what is still buffered: info
	pending.Wait()
}

// completeSend records a send's outcome.
func completeSend(rec *history.Recorder, inv history.Op, r *kgo.Record, err error) {
	switch {
	case err == nil:
		rec.Complete(inv, history.OK, func(o *history.Op) { o.Offset, o.LeaderEpoch = r.Offset, r.LeaderEpoch })
	case definite(err):
		rec.Complete(inv, history.Fail, func(o *history.Op) { o.Err = err.Error() })
	default:
		rec.Complete(inv, history.Info, func(o *history.Op) { o.Err = err.Error() })
	}
}

// value is "<id>:<filler>", ValueMin to ValueMax bytes in all.
func (p *producer) value(id string) []byte {
	cfg := p.w.cfg
	n := cfg.ValueMin + p.rng.IntN(cfg.ValueMax-cfg.ValueMin+1)
	fill := max(n-len(id)-1, 0)
	return []byte(id + ":" + strings.Repeat("x", fill))
}

// valueID is the value id of a record: everything before the first ':'.
func valueID(v []byte) string {
	s := string(v)
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return s[:i]
	}
	return s
}
