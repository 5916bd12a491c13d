package petrel_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel"
)

// TestJournalBytes: the journal size is a setting, fixed when the data
// directory is created: each shard gets four files of a quarter of it; a
// restart asking for another size keeps the directory's (its files hold
// records) and still serves what was stored.
func TestJournalBytes(t *testing.T) {
	dir := t.TempDir()
	start := func(journal int64) *petrel.Broker {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		b, err := petrel.Start(ctx, petrel.Config{DataDir: dir, Shards: 1, MemoryBytes: 256 << 20, JournalBytes: journal})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sizes := func() []int64 {
		var out []int64
		files, _ := filepath.Glob(filepath.Join(dir, "shards", "0", "journal", "*.jnl"))
		for _, f := range files {
			st, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, st.Size())
		}
		return out
	}
	b := start(8 << 20)
	if got := sizes(); len(got) != 4 || got[0] != 2<<20 {
		t.Fatalf("journal files %v, want 4 of 2 MiB", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("t"))
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("kept")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = start(64 << 20)
	defer b.Close()
	if got := sizes(); len(got) != 4 || got[0] != 2<<20 {
		t.Fatalf("after a restart asking for 64 MiB: journal files %v, want the directory's 4 of 2 MiB", got)
	}
	cl = newClient(t, b.Addr(), kgo.ConsumeTopics("t"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	fs := cl.PollRecords(ctx, 1)
	if err := fs.Err0(); err != nil || fs.NumRecords() != 1 || string(fs.Records()[0].Value) != "kept" {
		t.Fatalf("after the restart: %v, %d records", fs.Err0(), fs.NumRecords())
	}
}

// TestReadyMeansLeaders: a restarted broker reports ready (Start returns)
// only once every partition has its leader again, so a client's first
// request after it is answered, not LEADER_NOT_AVAILABLE.
func TestReadyMeansLeaders(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := petrel.Start(ctx, petrel.Config{DataDir: dir, Shards: 2, MemoryBytes: 256 << 20, JournalBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b.Addr())
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 16, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		b, err := petrel.Start(ctx, petrel.Config{DataDir: dir, Shards: 2, MemoryBytes: 256 << 20})
		if err != nil {
			t.Fatal(err)
		}
		cl := newClient(t, b.Addr())
		ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "t")
		if err != nil || ends.Error() != nil {
			t.Fatalf("restart %d: first ListOffsets: %v %v", round, err, ends.Error())
		}
		cl.Close()
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
