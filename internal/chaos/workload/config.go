package workload

import (
	"context"
	"log/slog"
	"time"

	"github.com/petrel-streaming/petrel/internal/chaos/history"
)

// Topic names.
const (
	Topic    = "chaos"
	LinTopic = "lin"
	Group    = "chaos-group"
	// Header is the record header carrying the value id.
	Header = "petrel-chaos"
)

// Config shapes a workload. Zero values mean the defaults.
type Config struct {
	Seeds  []string
	Rec    *history.Recorder
	Seed   uint64
	Logger *slog.Logger

	Partitions  int32 // topic chaos (default 6)
	Replication int16 // default 1; 3 on a cluster of 3 or more
	// ProbeNodes are the node ids probed straight (one prober each, a
	// direct produce every ProbeEvery; see probe.go): the minority-ack
	// check's evidence. Empty: no probes (one node).
	ProbeNodes    []int32
	Producers     int           // idempotent producers (default 3), plus one non-idempotent
	Rate          int           // records/s over every producer (default 300)
	ValueMin      int           // bytes (default 100)
	ValueMax      int           // bytes (default 1000)
	LinRate       int           // ops/s on topic lin (default 20)
	RecreateEvery time.Duration // producers and assign consumers (default 30 s)
	// SendTimeout bounds one send's delivery (default 10 s): past it the
	// send is info.
	SendTimeout time.Duration
	// PollTimeout bounds one poll (default 1 s).
	PollTimeout time.Duration
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Producers, 3)
	def(&c.Rate, 300)
	def(&c.ValueMin, 100)
	def(&c.ValueMax, 1000)
	def(&c.LinRate, 20)
	if c.Partitions == 0 {
		c.Partitions = 6
	}
	if c.Replication == 0 {
		c.Replication = 1
	}
	if c.RecreateEvery == 0 {
		c.RecreateEvery = 30 * time.Second
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = 10 * time.Second
	}
	if c.PollTimeout == 0 {
		c.PollTimeout = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// bucket is a token bucket: Take waits for one of rate tokens per second
// (burst: a tenth of a second's worth).
type bucket struct{ tokens chan struct{} }

func newBucket(ctx context.Context, rate int) *bucket {
	burst := max(rate/10, 1)
	b := &bucket{tokens: make(chan struct{}, burst)}
	go func() {
		const tick = 10 * time.Millisecond
		t := time.NewTicker(tick)
		defer t.Stop()
		var owed float64
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for owed += float64(rate) * tick.Seconds(); owed >= 1; owed-- {
				select {
				case b.tokens <- struct{}{}:
				default: // full: the tokens of an idle period are dropped
				}
			}
		}
	}()
	return b
}

// Take waits for a token; false when ctx ended first.
func (b *bucket) Take(ctx context.Context) bool {
	select {
	case <-b.tokens:
		return true
	case <-ctx.Done():
		return false
	}
}
