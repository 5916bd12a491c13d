package workload

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/chaos/history"
)

// pollEvery paces the consumers (a poll every 200 ms at most), which
// bounds the history's size without changing what a poll can see.
const pollEvery = 200 * time.Millisecond

// waitTick waits for the pacing ticker or the end of ctx.
func waitTick(ctx context.Context, t *time.Ticker) {
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// assign is a consumer of every chaos partition, from offset 0, that
// records each poll; recreated every RecreateEvery at its positions.
type assign struct {
	w    *Workload
	proc int
	pos  []int64 // next offset per partition
}

func (a *assign) run(ctx context.Context) {
	a.pos = make([]int64, a.w.cfg.Partitions)
	for gen := 0; gen < 1_000_000 && ctx.Err() == nil; gen++ {
		a.instance(ctx)
	}
}

func (a *assign) instance(ctx context.Context) {
	cfg := a.w.cfg
	from := map[int32]kgo.Offset{}
	for p, o := range a.pos {
		from[int32(p)] = kgo.NewOffset().At(o)
	}
	cl, err := kgo.NewClient(append(a.w.baseOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{Topic: from}),
		kgo.FetchMaxWait(500*time.Millisecond))...)
	if err != nil {
		cfg.Logger.Error("assign client", "err", err)
		return
	}
	defer cl.Close()
	ictx, cancel := context.WithTimeout(ctx, cfg.RecreateEvery)
	defer cancel()
	pace := time.NewTicker(pollEvery)
	defer pace.Stop()
	for i := 0; i < 10_000_000 && ictx.Err() == nil; i++ {
		a.poll(ictx, cl)
		waitTick(ictx, pace)
	}
}

// poll records one Poll op per partition around one PollFetches.
func (a *assign) poll(ctx context.Context, cl *kgo.Client) {
	rec := a.w.cfg.Rec
	invs := make([]history.Op, len(a.pos))
	for p := range a.pos {
		invs[p] = rec.Invoke(history.Op{Process: a.proc, Type: history.Poll, Topic: Topic, Partition: int32(p), Offset: a.pos[p]})
	}
	pctx, cancel := context.WithTimeout(ctx, a.w.cfg.PollTimeout)
	fs := cl.PollFetches(pctx)
	cancel()
	recs := make([][]history.Rec, len(a.pos))
	loss := make([]bool, len(a.pos))
	fs.EachRecord(func(r *kgo.Record) {
		recs[r.Partition] = append(recs[r.Partition], history.Rec{Offset: r.Offset, Value: valueID(r.Value), LeaderEpoch: r.LeaderEpoch})
		a.pos[r.Partition] = r.Offset + 1
	})
	fs.EachError(func(_ string, p int32, err error) {
		var dl *kgo.ErrDataLoss
		if errors.As(err, &dl) && p >= 0 && int(p) < len(loss) {
			loss[p] = true
		}
	})
	for p := range a.pos {
		rec.Complete(invs[p], history.OK, func(o *history.Op) { o.Records, o.DataLoss = recs[p], loss[p] })
	}
}

// groupMember subscribes to topic chaos in Group, commits what each poll
// returned and then fetches the group's offsets.
type groupMember struct {
	w    *Workload
	proc int
}

func (g *groupMember) run(ctx context.Context) {
	cfg := g.w.cfg
	cl, err := kgo.NewClient(append(g.w.baseOpts(),
		kgo.ConsumerGroup(Group), kgo.ConsumeTopics(Topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500*time.Millisecond))...)
	if err != nil {
		cfg.Logger.Error("group client", "err", err)
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	pace := time.NewTicker(pollEvery)
	defer pace.Stop()
	for i := 0; i < 10_000_000 && ctx.Err() == nil; i++ {
		waitTick(ctx, pace)
		pctx, cancel := context.WithTimeout(ctx, cfg.PollTimeout)
		fs := cl.PollFetches(pctx)
		cancel()
		next := map[int32]kgo.EpochOffset{}
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
		})
		if len(next) > 0 {
			g.commit(ctx, cl, next)
		}
		g.fetchOffsets(ctx, adm)
	}
}

// commit records one Commit op per partition around one OffsetCommit.
func (g *groupMember) commit(ctx context.Context, cl *kgo.Client, next map[int32]kgo.EpochOffset) {
	rec := g.w.cfg.Rec
	invs := map[int32]history.Op{}
	for p, eo := range next {
		invs[p] = rec.Invoke(history.Op{Process: g.proc, Type: history.Commit, Topic: Topic, Partition: p, Offset: eo.Offset, Group: Group})
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	done := map[int32]bool{}
	cl.CommitOffsetsSync(cctx, map[string]map[int32]kgo.EpochOffset{Topic: next},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil || resp == nil {
				return
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					inv, ok := invs[p.Partition]
					if !ok || done[p.Partition] || t.Topic != Topic {
						continue
					}
					done[p.Partition] = true
					if p.ErrorCode == 0 {
						rec.Complete(inv, history.OK, nil)
					} else {
						rec.Complete(inv, history.Info, func(o *history.Op) { o.Err = errCode(p.ErrorCode) })
					}
				}
			}
		})
	for p, inv := range invs {
		if !done[p] {
			rec.Complete(inv, history.Info, func(o *history.Op) { o.Err = "commit: no answer for the partition" })
		}
	}
}

// fetchOffsets records one FetchOffset op per partition around one OffsetFetch.
func (g *groupMember) fetchOffsets(ctx context.Context, adm *kadm.Client) {
	cfg := g.w.cfg
	invs := make([]history.Op, cfg.Partitions)
	for p := range cfg.Partitions {
		invs[p] = cfg.Rec.Invoke(history.Op{Process: g.proc, Type: history.FetchOffset, Topic: Topic, Partition: p, Group: Group})
	}
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := adm.FetchOffsets(fctx, Group)
	if err == nil {
		err = resp.Error()
	}
	for p := range cfg.Partitions {
		if err != nil {
			cfg.Rec.Complete(invs[p], history.Info, func(o *history.Op) { o.Err = err.Error() })
			continue
		}
		off := int64(-1)
		if r, ok := resp.Lookup(Topic, p); ok {
			if r.Err != nil {
				cfg.Rec.Complete(invs[p], history.Info, func(o *history.Op) { o.Err = r.Err.Error() })
				continue
			}
			off = r.At
		}
		cfg.Rec.Complete(invs[p], history.OK, func(o *history.Op) { o.Offset = off })
	}
}

// errCode is the text of a Kafka error code.
func errCode(code int16) string {
	if err := kerr.ErrorForCode(code); err != nil {
		return err.Error()
	}
	return "no error"
}
