package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel/internal/chaos/workload"
)

// probeOutcome is one direct produce to one node.
type probeOutcome struct {
	p                 int32
	v                 string
	invoked, answered time.Time
	off               int64 // valid when err is nil
	err               error // the partition's error code, or the request's error
}

// prober sends one-record acks=all produces straight to one node (not
// routed by metadata: kgo's Broker handle), one after the other, for the
// partitions given in turn, and keeps every outcome. It models a client
// that still believes the node leads: the minority side of a partition
// must never acknowledge such a produce once cut off. Bounded: at most
// maxProbes sends.
type prober struct {
	mu   sync.Mutex
	outs []probeOutcome

	cancel context.CancelFunc
	done   chan struct{}
}

const (
	probeEvery = 100 * time.Millisecond
	maxProbes  = 2000
)

func startProber(ctx context.Context, cl *kgo.Client, node int32, topic string, id [16]byte, parts []int32, tag string) *prober {
	ctx, cancel := context.WithCancel(ctx)
	pb := &prober{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(pb.done)
		tk := time.NewTicker(probeEvery)
		defer tk.Stop()
		for i := 0; i < maxProbes; i++ {
			p := parts[i%len(parts)]
			o := probeOutcome{p: p, v: fmt.Sprintf("probe-%s-%d", tag, i), invoked: time.Now()}
			o.off, o.err = workload.ProduceTo(ctx, cl, node, topic, id, p, o.v)
			o.answered = time.Now()
			if ctx.Err() != nil {
				return // stopped: this outcome says nothing
			}
			pb.mu.Lock()
			pb.outs = append(pb.outs, o)
			pb.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
		}
	}()
	return pb
}

// stop ends the probes and returns every outcome.
func (pb *prober) stop() []probeOutcome {
	pb.cancel()
	<-pb.done
	pb.mu.Lock()
	defer pb.mu.Unlock()
	return pb.outs
}
