package workload

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel/internal/chaos/history"
)

// FinalRead reads every partition of chaos and lin with brand-new clients
// from the log start to the high watermark listed now, within budget, and
// records one Read op per partition (ok with every record, or info with
// what it had when the budget ran out). It returns an error when a
// partition could not be read to its high watermark.
func (w *Workload) FinalRead(ctx context.Context, budget time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	var errs []error
	for _, t := range []struct {
		name  string
		parts int32
	}{{Topic, w.cfg.Partitions}, {LinTopic, 1}} {
		if err := w.finalRead(ctx, t.name, t.parts); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("workload: final read: %v", errs)
	}
	return nil
}

func (w *Workload) finalRead(ctx context.Context, topic string, parts int32) error {
	rec := w.cfg.Rec
	proc := 10_000 // final readers: processes of their own
	invs := make([]history.Op, parts)
	for p := range parts {
		invs[p] = rec.Invoke(history.Op{Process: proc + int(p), Type: history.Read, Topic: topic, Partition: p})
	}
	recs := make([][]history.Rec, parts)
	fail := func(err error) error {
		for p := range parts {
			rec.Complete(invs[p], history.Info, func(o *history.Op) { o.Records, o.Err = recs[p], err.Error() })
		}
		return fmt.Errorf("%s: %w", topic, err)
	}
	adm, err := kgo.NewClient(w.baseOpts()...)
	if err != nil {
		return fail(err)
	}
	defer adm.Close()
	var ends, starts kadm.ListedOffsets
	for ctx.Err() == nil { // retry until the broker answers for every partition
		if ends, err = kadm.NewClient(adm).ListEndOffsets(ctx, topic); err == nil && ends.Error() == nil {
			if starts, err = kadm.NewClient(adm).ListStartOffsets(ctx, topic); err == nil && starts.Error() == nil {
				break
			}
		}
		time.Sleep(200 * time.Millisecond) // retry pacing, bounded by ctx
	}
	if ctx.Err() != nil {
		return fail(fmt.Errorf("list offsets: %v", ctx.Err()))
	}
	hw := make([]int64, parts)
	from := map[int32]kgo.Offset{}
	for p := range parts {
		e, _ := ends.Lookup(topic, p)
		s, _ := starts.Lookup(topic, p)
		hw[p] = e.Offset
		if e.Offset > s.Offset {
			from[p] = kgo.NewOffset().At(s.Offset)
		}
	}
	if len(from) > 0 {
		cl, err := kgo.NewClient(append(w.baseOpts(), kgo.FetchMaxWait(200*time.Millisecond),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))...)
		if err != nil {
			return fail(err)
		}
		defer cl.Close()
		done := func() bool {
			for p := range parts {
				if _, want := from[p]; want && (len(recs[p]) == 0 || recs[p][len(recs[p])-1].Offset < hw[p]-1) {
					return false
				}
			}
			return true
		}
		for i := 0; i < 1_000_000 && !done(); i++ {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return fail(fmt.Errorf("read to the high watermark: %v", ctx.Err()))
			}
			fs.EachRecord(func(r *kgo.Record) {
				if r.Offset < hw[r.Partition] {
					recs[r.Partition] = append(recs[r.Partition], history.Rec{Offset: r.Offset, Value: valueID(r.Value), LeaderEpoch: r.LeaderEpoch})
				}
			})
		}
	}
	for p := range parts {
		rec.Complete(invs[p], history.OK, func(o *history.Op) { o.Records, o.Offset = recs[p], hw[p] })
	}
	return nil
}
