package partition

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/producers"
	"github.com/petrel-streaming/petrel/internal/shard"
	"github.com/petrel-streaming/petrel/internal/storage/engine"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// host runs one shard whose loop is a Manager over an engine on fs.
type host struct {
	t  *testing.T
	rt *shard.Runtime
	m  *Manager
}

func startHost(t *testing.T, fs vfs.FS) *host {
	t.Helper()
	eng, err := engine.Open(engine.Options{FS: fs, Dir: "/data", JournalFileBytes: 1 << 20, JournalFiles: 4})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := shard.New(shard.Config{Shards: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &host{t: t, rt: rt, m: NewManager(eng, nil)}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	h.on(func(s *shard.Shard) { s.SetLoop(h.m) })
	return h
}

func (h *host) on(fn func(*shard.Shard)) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.rt.InvokeOn(ctx, 0, fn); err != nil {
		h.t.Fatal(err)
	}
}

// stop stops the shard; close says whether the engine closes cleanly
// (false models a killed process: the files are abandoned as they are).
func (h *host) stop(close bool) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.rt.Stop(ctx); err != nil {
		h.t.Fatal(err)
	}
	if close {
		if err := h.m.Close(); err != nil {
			h.t.Fatal(err)
		}
	}
}

func testBatch(n int, payload string) []byte {
	var recs []byte
	for i := 0; i < n; i++ {
		// A record: length, attributes, timestamp delta, offset delta,
		// key (null), value, headers (0); varints zigzag-encoded.
		body := []byte{0, 0, byte(i << 1), 1}
		body = append(body, byte(len(payload)<<1))
		body = append(body, payload...)
		body = append(body, 0)
		recs = append(recs, byte(len(body)<<1))
		recs = append(recs, body...)
	}
	return model.AppendBatch(nil, model.BatchFields{
		LastOffsetDelta: int32(n - 1), BaseTimestamp: 1000, MaxTimestamp: 1000,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, RecordCount: int32(n),
	}, recs)
}

var testKey = model.PartitionKey{Topic: model.TopicID{1}, Partition: 0}

// produce proposes batches on the shard and waits for all of them.
func (h *host) produce(r *Replica, batches ...[]byte) []ProduceResult {
	h.t.Helper()
	res := make([]ProduceResult, len(batches))
	done := make(chan int, len(batches))
	h.on(func(*shard.Shard) {
		for i, b := range batches {
			r.Produce(b, func(pr ProduceResult) { res[i] = pr; done <- i })
		}
	})
	for range batches {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			h.t.Fatal("produce did not complete")
		}
	}
	return res
}

func (h *host) open(cfg Config) *Replica {
	var r *Replica
	var err error
	h.on(func(*shard.Shard) { r, err = h.m.Open(cfg) })
	if err != nil {
		h.t.Fatal(err)
	}
	waitFor(h.t, func() bool { return r.State().Leader })
	return r
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestProduceAssignsDenseOffsets(t *testing.T) {
	h := startHost(t, vfs.NewMem())
	r := h.open(Config{Key: testKey, Node: 1})
	var batches [][]byte
	for i := 0; i < 20; i++ {
		batches = append(batches, testBatch(i%4+1, fmt.Sprintf("v%d", i)))
	}
	res := h.produce(r, batches...)
	want := model.Offset(0)
	for i, pr := range res {
		if pr.Err != nil {
			t.Fatalf("batch %d: %v", i, pr.Err)
		}
		if pr.BaseOffset != want {
			t.Fatalf("batch %d base %d, want %d", i, pr.BaseOffset, want)
		}
		want += model.Offset(i%4 + 1)
	}
	st := r.State()
	if st.HighWatermark != want || st.LogEnd != want {
		t.Fatalf("hw %d end %d, want %d", st.HighWatermark, st.LogEnd, want)
	}
	if st.LeaderEpoch < 1 {
		t.Fatalf("leader epoch %d", st.LeaderEpoch)
	}
	got, err := st.View.ReadBatches(0, 1<<20, st.HighWatermark, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n model.Offset
	for len(got) > 0 {
		b, rest, err := model.ParseBatch(got)
		if err != nil {
			t.Fatal(err)
		}
		if b.BaseOffset() != n || b.LeaderEpoch() != st.LeaderEpoch {
			t.Fatalf("batch at %d: base %d epoch %d", n, b.BaseOffset(), b.LeaderEpoch())
		}
		if err := b.VerifyCRC(); err != nil {
			t.Fatal(err)
		}
		n += model.Offset(b.LastOffsetDelta()) + 1
		got = rest
	}
	if n != want {
		t.Fatalf("read %d offsets, want %d", n, want)
	}
	h.stop(true)
}

func TestRestartKeepsAcknowledged(t *testing.T) {
	for _, clean := range []bool{true, false} {
		t.Run(fmt.Sprintf("clean=%v", clean), func(t *testing.T) {
			fs := vfs.NewMem()
			h := startHost(t, fs)
			r := h.open(Config{Key: testKey, Node: 1})
			res := h.produce(r, testBatch(3, "a"), testBatch(2, "b"))
			if res[1].Err != nil || res[1].BaseOffset != 3 {
				t.Fatalf("%+v", res)
			}
			var reopen vfs.FS = fs
			if !clean {
				// A power cut right after the acknowledgements: only what
				// was synced survives.
				reopen = fs.CrashClone(vfs.CrashCloneOptions{})
			}
			h.stop(clean)
			h2 := startHost(t, reopen)
			r2 := h2.open(Config{Key: testKey, Node: 1})
			// Serving (Leader) means the high watermark is complete at
			// once, though the stored commit index may lag the acks.
			if hw := r2.State().HighWatermark; hw != 5 {
				t.Fatalf("high watermark %d when the restarted replica serves, want 5", hw)
			}
			res = h2.produce(r2, testBatch(1, "c"))
			if res[0].Err != nil || res[0].BaseOffset != 5 {
				t.Fatalf("after restart: %+v", res[0])
			}
			st := r2.State()
			if st.LeaderEpoch <= 1 {
				t.Fatalf("leader epoch %d did not grow across restart", st.LeaderEpoch)
			}
			h2.stop(true)
		})
	}
}

func idempotentBatch(pid int64, epoch int16, seq int32, n int) []byte {
	b := testBatch(n, "x")
	return model.AppendBatch(nil, model.BatchFields{
		LastOffsetDelta: int32(n - 1), BaseTimestamp: 1000, MaxTimestamp: 1000,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, RecordCount: int32(n),
	}, b[model.BatchHeaderSize:])
}

func TestIdempotentProducer(t *testing.T) {
	fs := vfs.NewMem()
	h := startHost(t, fs)
	r := h.open(Config{Key: testKey, Node: 1})
	res := h.produce(r, idempotentBatch(7, 0, 0, 2), idempotentBatch(7, 0, 2, 3))
	if res[0].BaseOffset != 0 || res[1].BaseOffset != 2 || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("%+v", res)
	}
	// A retry of the first batch answers with its original offset and
	// appends nothing; a gap in sequence is refused.
	res = h.produce(r, idempotentBatch(7, 0, 0, 2), idempotentBatch(7, 0, 9, 1))
	if res[0].Err != nil || res[0].BaseOffset != 0 {
		t.Fatalf("duplicate: %+v", res[0])
	}
	if !errors.Is(res[1].Err, producers.ErrOutOfOrderSequence) {
		t.Fatalf("gap: %+v", res[1])
	}
	if end := r.State().LogEnd; end != 5 {
		t.Fatalf("log end %d after a duplicate, want 5", end)
	}
	h.stop(true)
	// The state is rebuilt from the log on restart.
	h2 := startHost(t, fs)
	r2 := h2.open(Config{Key: testKey, Node: 1})
	res = h2.produce(r2, idempotentBatch(7, 0, 2, 3), idempotentBatch(7, 0, 5, 1))
	if res[0].Err != nil || res[0].BaseOffset != 2 || res[1].Err != nil || res[1].BaseOffset != 5 {
		t.Fatalf("after restart: %+v", res)
	}
	h2.stop(true)
}
