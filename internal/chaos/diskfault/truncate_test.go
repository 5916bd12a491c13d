package diskfault_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
	"github.com/petrel-streaming/petrel/internal/chaos/diskfault"
)

// TestTruncateTailRepaired: acked records, SIGKILL, a mid-batch cut of a
// journal-covered tail; the restarted broker serves every acked record at
// its offset (repaired from the journal), and the cut really happened.
func TestTruncateTailRepaired(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	root, err := cluster.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, err := cluster.Build(ctx, cluster.BuildOptions{ModuleDir: root, Out: filepath.Join(dir, "petrel"), Race: cluster.RaceBuild()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.New(cluster.Config{Binary: bin, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	n := c.Node(0)
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	acked := map[[2]int64]string{}
	for i := range 300 {
		v := fmt.Sprintf("v%d-%0*d", i, 50+rng.IntN(200), i)
		r := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Partition: int32(i % 2), Value: []byte(v)})
		rec, err := r.First()
		if err != nil {
			t.Fatal(err)
		}
		acked[[2]int64{int64(rec.Partition), rec.Offset}] = v
	}
	cl.Close()
	if err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	cut, err := diskfault.TruncateTail(n.DataDir, rng)
	if err != nil {
		t.Fatal(err) // kill -9 right after produce: the journal must still cover the tail
	}
	t.Logf("cut: %v", cut)
	if st, err := os.Stat(cut.Segment); err != nil || st.Size() != cut.To || cut.To >= cut.From {
		t.Fatalf("segment after the cut: %v %v, cut %+v", st, err, cut)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	got := readAll(ctx, t, n.KafkaAddr, 2)
	for k, v := range acked {
		if got[k] != v {
			t.Fatalf("acked %q at %v, read %q after the cut", v, k, got[k])
		}
	}
	if p := c.Problems(0); len(p) > 0 {
		t.Fatal(p)
	}
}

// TestTruncateTailNothingCovered: after a clean shutdown (checkpointed) the
// journal covers nothing, and the fault cuts nothing.
func TestTruncateTailNothingCovered(t *testing.T) {
	_, err := diskfault.TruncateTail(t.TempDir(), rand.New(rand.NewPCG(1, 2)))
	if !errors.Is(err, diskfault.ErrNothingCovered) {
		t.Fatalf("empty data dir: %v", err)
	}
}

func readAll(ctx context.Context, t *testing.T, addr string, parts int32) map[[2]int64]string {
	t.Helper()
	adm, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, "t")
	if err != nil || ends.Error() != nil {
		t.Fatal(err, ends.Error())
	}
	want := 0
	for p := range parts {
		o, _ := ends.Lookup("t", p)
		want += int(o.Offset)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("t"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[[2]int64]string{}
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d: %v", len(out), want, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) { out[[2]int64{int64(r.Partition), r.Offset}] = string(r.Value) })
	}
	return out
}
