package shard

import (
	"context"
	"errors"
	"testing"
)

// Round trip of a blocking call from an outside goroutine.
func BenchmarkInvokeOn(b *testing.B) {
	r, err := New(Config{Shards: 1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Start(); err != nil {
		b.Fatal(err)
	}
	defer r.Stop(context.Background())
	ctx := context.Background()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		if err := r.InvokeOn(ctx, 0, func(*Shard) { n++ }); err != nil {
			b.Fatal(err)
		}
	}
}

// Fire-and-forget throughput: the shard drains in batches.
func BenchmarkSubmit(b *testing.B) {
	r, err := New(Config{Shards: 1, InboxLen: 1 << 14}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Start(); err != nil {
		b.Fatal(err)
	}
	defer r.Stop(context.Background())
	n := 0
	fn := func(*Shard) { n++ }
	b.ReportAllocs()
	for b.Loop() {
		for {
			err := r.Submit(0, fn)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrInboxFull) {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	if err := r.InvokeOn(context.Background(), 0, func(*Shard) {}); err != nil {
		b.Fatal(err)
	}
	st := r.Stats()[0]
	b.ReportMetric(float64(st.Tasks)/float64(st.Batches), "msgs/batch")
}

// Shard-to-shard round trip with Call (never blocking).
func BenchmarkCall(b *testing.B) {
	r, err := New(Config{Shards: 2}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Start(); err != nil {
		b.Fatal(err)
	}
	defer r.Stop(context.Background())
	done := make(chan struct{})
	left := b.N
	var ping func(s *Shard)
	ping = func(s *Shard) {
		if left == 0 {
			close(done)
			return
		}
		left--
		if err := s.Call(1, func(*Shard) {}, ping); err != nil {
			panic(err)
		}
	}
	b.ResetTimer()
	if err := r.Submit(0, ping); err != nil {
		b.Fatal(err)
	}
	<-done
}
