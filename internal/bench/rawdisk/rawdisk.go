package rawdisk

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/petrel-streaming/petrel/internal/vfs"
)

// SampleMax bounds the samples (and the memory) of one measurement.
const SampleMax = 100_000

// Result is one measurement.
type Result struct {
	BlockBytes int
	Samples    int
	MBps       float64 // block bytes made durable per second, 10^6 bytes
	P50, P99   time.Duration
}

// Measure writes blockBytes blocks with fdatasync after each into a
// fileBytes file created as name on fs, for about dur, and removes the
// file.
func Measure(fs vfs.FS, name string, blockBytes int, fileBytes int64, dur time.Duration) (res Result, err error) {
	if blockBytes <= 0 || int64(blockBytes) > fileBytes {
		return Result{}, fmt.Errorf("rawdisk: block of %d bytes in a file of %d", blockBytes, fileBytes)
	}
	f, err := fs.Create(name, vfs.OpenOptions{})
	if err != nil {
		return Result{}, err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if rerr := fs.Remove(name); err == nil {
			err = rerr
		}
	}()
	zero := make([]byte, 1<<20)
	for off := int64(0); off < fileBytes; off += int64(len(zero)) {
		if _, err := f.WriteAt(zero[:min(int64(len(zero)), fileBytes-off)], off); err != nil {
			return Result{}, err
		}
	}
	if err := f.Sync(); err != nil {
		return Result{}, err
	}
	buf := make([]byte, blockBytes)
	for i := range buf {
		buf[i] = byte(i)
	}
	lats := make([]time.Duration, 0, 1024)
	start := time.Now()
	off := int64(0)
	for time.Since(start) < dur && len(lats) < SampleMax {
		if off+int64(blockBytes) > fileBytes {
			off = 0
		}
		t := time.Now()
		if _, err := f.WriteAt(buf, off); err != nil {
			return Result{}, err
		}
		if err := f.Datasync(); err != nil {
			return Result{}, err
		}
		lats = append(lats, time.Since(t))
		off += int64(blockBytes)
	}
	el := time.Since(start)
	res = Result{BlockBytes: blockBytes, Samples: len(lats), MBps: float64(len(lats)*blockBytes) / el.Seconds() / 1e6}
	res.P50, res.P99 = Percentiles(lats)
	return res, nil
}

// Percentiles sorts lats and returns its median and 99th percentile
// (nearest rank); zero for no samples.
func Percentiles(lats []time.Duration) (p50, p99 time.Duration) {
	if len(lats) == 0 {
		return 0, 0
	}
	slices.Sort(lats)
	return lats[len(lats)/2], lats[min(len(lats)-1, int(math.Ceil(float64(len(lats))*0.99))-1)]
}
