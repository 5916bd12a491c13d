package engine

import "time"

// latency models the cost of a journal round as base + bytes/bandwidth and
// derives the direct-path threshold from it: a partition whose pending
// bytes take longer to write than the journal's base sync latency is
// cheaper to sync in its own segment than to write twice.
type latency struct {
	baseNs    float64 // EWMA of the sync latency of small journal rounds
	nsPerByte float64 // EWMA of the marginal cost per byte (journal or direct)
	min, max  int
}

const (
	ewmaWeight     = 0.1
	smallRoundSize = 16 << 10
	largeRoundSize = 128 << 10
)

// init seeds the model: from a measurement of the disk (iotune) when
// there is one, else 500 µs and 1 GB/s; rounds refine it as they run.
func (l *latency) init(minBytes, maxBytes int, syncLatency time.Duration, bytesPerSec float64) {
	l.min, l.max = minBytes, maxBytes
	l.baseNs = float64(500 * time.Microsecond)
	l.nsPerByte = 1.0
	if syncLatency > 0 {
		l.baseNs = float64(syncLatency)
	}
	if bytesPerSec > 0 {
		l.nsPerByte = 1e9 / bytesPerSec
	}
}

func ewma(old, sample float64) float64 { return old + ewmaWeight*(sample-old) }

// observe feeds one sync (journal or direct) of bytes that took took.
func (l *latency) observe(bytes int, took time.Duration) {
	ns := float64(took)
	switch {
	case bytes <= smallRoundSize:
		l.baseNs = ewma(l.baseNs, ns)
	case bytes >= largeRoundSize && ns > l.baseNs:
		l.nsPerByte = ewma(l.nsPerByte, (ns-l.baseNs)/float64(bytes))
	}
}

// directThreshold is the pending size from which a partition goes direct.
func (l *latency) directThreshold() int {
	t := int(l.baseNs / max(l.nsPerByte, 1e-3))
	return min(max(t, l.min), l.max)
}
