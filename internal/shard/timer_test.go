package shard

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

// inBubble runs f with a started runtime inside a synctest bubble: time is
// virtual, so hours pass instantly, and synctest.Wait returns once every
// shard goroutine is blocked.
func inBubble(t *testing.T, cfg Config, f func(t *testing.T, r *Runtime)) {
	synctest.Test(t, func(t *testing.T) {
		r, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { // also after t.Fatal: the bubble must end with no goroutine left
			if err := r.Stop(context.Background()); err != nil {
				t.Error(err)
			}
		}()
		f(t, r)
	})
}

func on(t *testing.T, r *Runtime, fn func(*Shard)) {
	t.Helper()
	if err := r.InvokeOn(context.Background(), 0, fn); err != nil {
		t.Fatal(err)
	}
}

func wakeups(r *Runtime) (n uint64) {
	for _, s := range r.Stats() {
		n += s.Wakeups
	}
	return n
}

// 1,000 registered tickers and 1,000 cancelled timers that are all idle cost
// nothing: across an hour of (virtual) time no shard goroutine wakes up.
// One awake ticker costs one wakeup per tick, and none once it sleeps.
func TestIdleShardsDoNotWake(t *testing.T) {
	inBubble(t, Config{Shards: 2, TickInterval: 100 * time.Millisecond}, func(t *testing.T, r *Runtime) {
		tickers := make([][]*Ticker, r.Len())
		ticks := 0
		for i := 0; i < r.Len(); i++ {
			if err := r.InvokeOn(context.Background(), model.ShardID(i), func(s *Shard) {
				for k := 0; k < 500; k++ {
					tk := s.NewTicker(func(*Shard) { ticks++ })
					tk.Wake()
					tk.Sleep() // registered, then quiesced
					tickers[i] = append(tickers[i], tk)
					s.AfterFunc(time.Minute, func(*Shard) { t.Error("cancelled timer fired") }).Stop()
				}
			}); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		before := wakeups(r)
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := wakeups(r) - before; got != 0 {
			t.Fatalf("idle runtime woke %d times in an hour", got)
		}
		st := r.Stats()
		if st[0].Tickers != 500 || st[1].Tickers != 500 || st[0].ActiveTickers != 0 {
			t.Fatalf("stats %+v", st)
		}

		on(t, r, func(*Shard) { tickers[0][7].Wake() })
		synctest.Wait()
		before = wakeups(r)
		time.Sleep(time.Second)
		synctest.Wait()
		var got int
		on(t, r, func(*Shard) { got = ticks; tickers[0][7].Sleep() })
		// 10 ticks, plus the wakeup that ran the function reading them.
		if w := wakeups(r) - before; got != 10 || w != 11 {
			t.Fatalf("one awake ticker for 1s at 100ms: %d ticks, %d wakeups; want 10, 11", got, w)
		}
		synctest.Wait()
		before = wakeups(r)
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := wakeups(r) - before; got != 0 {
			t.Fatalf("runtime woke %d times after the last ticker slept", got)
		}
		on(t, r, func(*Shard) {
			for _, tk := range tickers[0] {
				tk.Close()
			}
		})
		if n := r.Stats()[0].Tickers; n != 0 {
			t.Fatalf("%d tickers registered after closing all", n)
		}
	})
}

// Timers fire in deadline order (ties in scheduling order), Stop cancels,
// Reset moves, and a callback re-arming itself with d=0 does not spin
// inside one batch.
func TestTimers(t *testing.T) {
	inBubble(t, Config{Shards: 1}, func(t *testing.T, r *Runtime) {
		var fired []string
		start := time.Now()
		var at []time.Duration
		rec := func(name string) func(*Shard) {
			return func(*Shard) { fired = append(fired, name); at = append(at, time.Since(start)) }
		}
		on(t, r, func(s *Shard) {
			s.AfterFunc(30*time.Millisecond, rec("c"))
			s.AfterFunc(10*time.Millisecond, rec("a"))
			s.AfterFunc(10*time.Millisecond, rec("b"))
			if !s.AfterFunc(20*time.Millisecond, rec("cancelled")).Stop() {
				t.Error("Stop of a pending timer reported false")
			}
			s.AfterFunc(5*time.Millisecond, rec("moved")).Reset(40 * time.Millisecond)
		})
		time.Sleep(time.Second)
		synctest.Wait()
		var got []string
		var times []time.Duration
		on(t, r, func(*Shard) { got, times = fired, at })
		want := []string{"a", "b", "c", "moved"}
		wantAt := []time.Duration{10, 10, 30, 40}
		if len(got) != len(want) {
			t.Fatalf("fired %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] || times[i] != wantAt[i]*time.Millisecond {
				t.Fatalf("fired %v at %v, want %v at %v ms", got, times, want, wantAt)
			}
		}

		var spins int
		var again func(s *Shard)
		again = func(s *Shard) {
			if spins++; spins < 5 {
				s.AfterFunc(0, again)
			}
		}
		on(t, r, func(s *Shard) { s.AfterFunc(0, again) })
		time.Sleep(time.Millisecond)
		synctest.Wait()
		on(t, r, func(*Shard) {})
		if spins != 5 {
			t.Fatalf("self re-arming timer ran %d times, want 5", spins)
		}
	})
}
