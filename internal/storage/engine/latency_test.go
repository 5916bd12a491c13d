package engine

import (
	"testing"
	"time"
)

// TestLatencySeeds: a disk measurement seeds the direct-path threshold
// (sync latency × bandwidth, within the bounds); without one the built-in
// seeds hold; rounds move it.
func TestLatencySeeds(t *testing.T) {
	var l latency
	l.init(64<<10, 1<<20, 0, 0)
	if got, want := l.directThreshold(), 500_000; got != want { // 500 µs at 1 GB/s
		t.Fatalf("built-in seeds: threshold %d, want %d", got, want)
	}
	l.init(64<<10, 1<<20, 250*time.Microsecond, 500e6)
	if got, want := l.directThreshold(), 125_000; got != want { // 250 µs at 500 MB/s
		t.Fatalf("measured seeds: threshold %d, want %d", got, want)
	}
	l.init(64<<10, 1<<20, 10*time.Millisecond, 1e9)
	if got := l.directThreshold(); got != 1<<20 {
		t.Fatalf("a slow sync: threshold %d, want the upper bound", got)
	}
	l.init(64<<10, 1<<20, 250*time.Microsecond, 500e6)
	for range 100 {
		l.observe(4<<10, 2*time.Millisecond) // small rounds far slower than measured
	}
	if got := l.directThreshold(); got <= 125_000 {
		t.Fatalf("threshold %d did not follow slower small rounds", got)
	}
}
