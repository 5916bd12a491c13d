package diskfault_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
	"github.com/petrel-streaming/petrel/internal/chaos/diskfault"
)

// TestPowerFailBroker: a real `petrel serve` on the lazy FUSE layer, an
// idempotent acks=all producer, and power failures at random moments
// (SIGKILL, drop everything unsynced, restart): every acknowledged record
// must be read back at its offset after each one.
func TestPowerFailBroker(t *testing.T) {
	if err := diskfault.Supported(); err != nil {
		t.Skip(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	rounds := 8
	if testing.Short() {
		rounds = 3
	}
	root, err := cluster.ModuleRoot(".")
	must(t, err)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin, err := cluster.Build(ctx, cluster.BuildOptions{ModuleDir: root, Out: filepath.Join(dir, "petrel"), Race: cluster.RaceBuild()})
	must(t, err)
	c, err := cluster.New(cluster.Config{Binary: bin, Dir: dir})
	must(t, err)
	n := c.Node(0)
	l, err := diskfault.Mount(diskfault.Config{Dir: filepath.Join(n.Dir, "disk"), Mountpoint: n.DataDir, Mode: diskfault.Mode{Lazy: true}})
	must(t, err)
	t.Cleanup(func() {
		_ = c.Close() // the broker first: it holds the mount
		if err := l.ForceUnmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
		if left, err := diskfault.Mounted(dir); err != nil || len(left) > 0 {
			t.Errorf("mounts left behind: %v %v", left, err)
		}
	})
	must(t, c.Start(ctx))
	adm, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr))
	must(t, err)
	_, err = kadm.NewClient(adm).CreateTopic(ctx, 2, 1, nil, "t")
	adm.Close()
	must(t, err)

	var (
		mu    sync.Mutex
		acked = map[[2]int64]string{}
		lost  diskfault.Loss
	)
	for round := range rounds {
		cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.MaxBufferedRecords(64), kgo.RecordRetries(3))
		must(t, err)
		pctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := 0; pctx.Err() == nil && i < 1_000_000; i++ {
				v := fmt.Sprintf("r%d-%d-%0*d", round, i, i%300, 0)
				cl.Produce(pctx, &kgo.Record{Topic: "t", Partition: int32(i % 2), Value: []byte(v)}, func(r *kgo.Record, err error) {
					if err == nil {
						mu.Lock()
						acked[[2]int64{int64(r.Partition), r.Offset}] = string(r.Value)
						mu.Unlock()
					}
				})
			}
		})
		// Let acks flow, then fail the power at a random moment while
		// the producer keeps sending.
		mu.Lock()
		before := len(acked)
		mu.Unlock()
		waitFor(t, 60*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= before+50 })
		time.Sleep(time.Duration(rng.IntN(700)) * time.Millisecond) // the fault's random moment
		must(t, n.Kill())
		loss, err := l.PowerFail()
		must(t, err)
		stop()
		cl.Close()
		wg.Wait()
		lost.PagesRestore += loss.PagesRestore
		lost.BytesCut += loss.BytesCut
		lost.EntriesGone += loss.EntriesGone
		lost.EntriesBack += loss.EntriesBack
		must(t, n.Start(ctx))
		got := readAll(ctx, t, n.KafkaAddr, 2)
		mu.Lock()
		for k, v := range acked {
			if got[k] != v {
				t.Fatalf("seed %d round %d: acked %q at %v, read %q after the power failure (%v)", seed, round, v, k, got[k], loss)
			}
		}
		t.Logf("round %d: %d acked records all present after the power failure (%v)", round, len(acked), loss)
		mu.Unlock()
	}
	if !lost.Dropped() {
		t.Fatalf("no power failure dropped anything (%v): the layer was not lazy", lost)
	}
	if p := c.Problems(0); len(p) > 0 {
		t.Fatal(p)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
