package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel/internal/chaos/history"
)

// lin is one sequential process on topic lin: each op is a send (2 in 3)
// or a ListOffsets, at rate ops/s, for the linearizability check.
type lin struct {
	w    *Workload
	proc int
	rng  *rand.Rand
}

func (l *lin) run(ctx context.Context, rate int) {
	cfg := l.w.cfg
	name := fmt.Sprintf("p%d.lin", l.proc)
	cl, err := kgo.NewClient(append(l.w.baseOpts(),
		kgo.DefaultProduceTopic(LinTopic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(cfg.SendTimeout))...)
	if err != nil {
		cfg.Logger.Error("lin client", "err", err)
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for seq := 0; seq < 10_000_000 && ctx.Err() == nil; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if l.rng.IntN(3) == 0 {
			l.w.listOffsets(ctx, adm, l.proc, LinTopic, 1)
			continue
		}
		id := fmt.Sprintf("%s-%d", name, seq)
		inv := cfg.Rec.Invoke(history.Op{Process: l.proc, Type: history.Send, Topic: LinTopic, Value: id, Producer: name, Idempotent: true})
		r := &kgo.Record{Topic: LinTopic, Value: []byte(id + ":lin"), Headers: []kgo.RecordHeader{{Key: Header, Value: []byte(id)}}}
		res := cl.ProduceSync(context.WithoutCancel(ctx), r)
		out, err := res.First()
		completeSend(cfg.Rec, inv, out, err)
	}
}
