package tune

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ProbeConfig says what Probe measures and for how long.
type ProbeConfig struct {
	// Dir is the host directory to measure (the data dir); it must exist.
	Dir string
	// Duration bounds the whole probe (0: DefaultProbeDuration).
	Duration time.Duration
	// FileBytes caps the test file (0: DefaultProbeFileBytes); it is also
	// kept under a quarter of the free space.
	FileBytes int64
	// Progress, if set, is called from the probing goroutine at each
	// phase and about every 200 ms.
	Progress func(phase string, done float64)
}

// Defaults of ProbeConfig.
const (
	DefaultProbeDuration  = 20 * time.Second
	DefaultProbeFileBytes = 256 << 20
	probeBlockBytes       = 1 << 20 // sequential writes
	probeReadBytes        = 4096    // random reads
	probeAlign            = 4096    // O_DIRECT buffer, offset and size alignment
	probeMaxSamples       = 1 << 20 // latency samples kept per size
)

// ErrProbe marks a probe that could not measure (no room, I/O error).
var ErrProbe = errors.New("iotune")

// phase weights: shares of the duration.
var (
	syncSizes = []struct {
		size   int
		weight float64
	}{{4096, 0.15}, {16384, 0.075}, {65536, 0.075}}
	readLevels  = []int{1, 4, 16, 64}
	seqWeight   = 0.3 // buffered and direct halves (buffered alone without O_DIRECT)
	readsWeight = 0.4
)

// prober is one Probe run; its goroutine owns it.
type prober struct {
	cfg     ProbeConfig
	start   time.Time
	spent   float64 // weight of the finished phases
	last    time.Time
	path    string
	fileMax int64
	extent  int64 // bytes written from offset 0 (what random reads read)
	direct  bool
}

// Probe measures the disk under cfg.Dir: sequential write bandwidth
// (buffered and O_DIRECT), write+fdatasync latency by size, random 4 KiB
// read IOPS by concurrency. It writes one test file in the directory and
// removes it. MeasuredAt, DataDir, DirectIO and the figures are filled;
// Device and Filesystem are the caller's.
func Probe(ctx context.Context, cfg ProbeConfig) (IOProperties, error) {
	if cfg.Duration <= 0 {
		cfg.Duration = DefaultProbeDuration
	}
	if cfg.FileBytes <= 0 {
		cfg.FileBytes = DefaultProbeFileBytes
	}
	p := &prober{cfg: cfg, start: time.Now(), path: filepath.Join(cfg.Dir, fmt.Sprintf(".iotune-%d.tmp", os.Getpid()))}
	var st unix.Statfs_t
	if err := unix.Statfs(cfg.Dir, &st); err != nil {
		return IOProperties{}, fmt.Errorf("%w: %s: %v", ErrProbe, cfg.Dir, err)
	}
	p.fileMax = min(cfg.FileBytes, int64(st.Bavail*uint64(st.Bsize))/4) / probeBlockBytes * probeBlockBytes
	if p.fileMax < 4*probeBlockBytes {
		return IOProperties{}, fmt.Errorf("%w: too little free space under %s", ErrProbe, cfg.Dir)
	}
	defer os.Remove(p.path)
	var err error
	if p.direct, err = directIO(cfg.Dir); err != nil {
		return IOProperties{}, fmt.Errorf("%w: %v", ErrProbe, err)
	}
	out := IOProperties{Version: ioPropertiesVersion, MeasuredAt: p.start.UTC().Truncate(time.Second), DataDir: cfg.Dir, DirectIO: p.direct}
	out.SequentialWrite.BlockBytes = probeBlockBytes
	bufWeight := seqWeight
	if p.direct {
		bufWeight = seqWeight / 2
	}
	if out.SequentialWrite.BufferedBytesPerSec, err = p.seqWrite(ctx, false, bufWeight); err != nil {
		return out, err
	}
	if p.direct {
		if out.SequentialWrite.DirectBytesPerSec, err = p.seqWrite(ctx, true, seqWeight/2); err != nil {
			return out, err
		}
	}
	for _, s := range syncSizes {
		sw, err := p.syncWrite(ctx, s.size, s.weight)
		if err != nil {
			return out, err
		}
		out.SyncWrite = append(out.SyncWrite, sw)
	}
	out.RandomRead = RandomRead{BlockBytes: probeReadBytes, Direct: p.direct}
	for _, c := range readLevels {
		iops, err := p.randomRead(ctx, c, readsWeight/float64(len(readLevels)))
		if err != nil {
			return out, err
		}
		out.RandomRead.Levels = append(out.RandomRead.Levels, ReadLevel{Concurrency: c, IOPS: iops})
		out.RandomRead.MaxIOPS = max(out.RandomRead.MaxIOPS, iops)
	}
	for _, l := range out.RandomRead.Levels {
		if l.IOPS >= 0.9*out.RandomRead.MaxIOPS {
			out.RandomRead.SaturationConcurrency = l.Concurrency
			break
		}
	}
	out.DurationSeconds = time.Since(p.start).Round(time.Millisecond).Seconds()
	p.report("done", 0, 1)
	return out, nil
}

// phaseEnd is when a phase of weight w that starts now must end.
func (p *prober) phaseEnd(w float64) time.Time {
	return p.start.Add(time.Duration((p.spent + w) * float64(p.cfg.Duration)))
}

// report calls Progress at most every 200 ms (always for frac 0 or 1).
func (p *prober) report(phase string, w, frac float64) {
	if p.cfg.Progress == nil {
		return
	}
	if !(frac >= 0) || frac > 1 { // a late phase (its end already past) is as good as done
		frac = 1
	}
	now := time.Now()
	if frac > 0 && frac < 1 && now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	p.cfg.Progress(phase, min(1, p.spent+w*frac))
}

// alignedBuf returns n bytes aligned for O_DIRECT, filled with a pattern
// that does not compress.
func alignedBuf(n int) []byte {
	b := make([]byte, n+probeAlign)
	off := int(uintptr(unsafe.Pointer(&b[0])) & (probeAlign - 1))
	if off != 0 {
		off = probeAlign - off
	}
	b = b[off : off+n]
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func (p *prober) open(flags int) (int, error) {
	fd, err := unix.Open(p.path, flags|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return -1, fmt.Errorf("%w: open %s: %v", ErrProbe, p.path, err)
	}
	return fd, nil
}

// seqWrite writes 1 MiB blocks from offset 0 (wrapping at the file cap)
// until the phase ends, then fdatasyncs; bytes per second, sync included.
func (p *prober) seqWrite(ctx context.Context, direct bool, w float64) (float64, error) {
	name := "sequential write (buffered)"
	flags := unix.O_WRONLY | unix.O_CREAT
	if direct {
		name, flags = "sequential write (direct)", flags|unix.O_DIRECT
	}
	fd, err := p.open(flags)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	buf := alignedBuf(probeBlockBytes)
	start, end := time.Now(), p.phaseEnd(w)
	var off, total int64
	p.report(name, w, 0)
	for now := start; now.Before(end) && ctx.Err() == nil || total < 4*probeBlockBytes; now = time.Now() {
		if _, err := unix.Pwrite(fd, buf, off); err != nil {
			return 0, fmt.Errorf("%w: write: %v", ErrProbe, err)
		}
		total += probeBlockBytes
		off += probeBlockBytes
		p.extent = max(p.extent, off)
		if off >= p.fileMax { // each pass reaches the disk: rewriting dirty pages is not bandwidth
			if err := unix.Fdatasync(fd); err != nil {
				return 0, fmt.Errorf("%w: fdatasync: %v", ErrProbe, err)
			}
			off = 0
		}
		p.report(name, w, float64(now.Sub(start))/float64(end.Sub(start)))
	}
	if err := unix.Fdatasync(fd); err != nil {
		return 0, fmt.Errorf("%w: fdatasync: %v", ErrProbe, err)
	}
	p.spent += w
	return float64(total) / time.Since(start).Seconds(), ctx.Err()
}

// syncWrite writes size bytes then fdatasyncs, at sequential offsets
// inside the written extent, until the phase ends; latency percentiles.
func (p *prober) syncWrite(ctx context.Context, size int, w float64) (SyncWrite, error) {
	name := fmt.Sprintf("write+fdatasync %d KiB", size/1024)
	fd, err := p.open(unix.O_WRONLY)
	if err != nil {
		return SyncWrite{}, err
	}
	defer unix.Close(fd)
	buf := alignedBuf(size)
	start, end := time.Now(), p.phaseEnd(w)
	var lat []time.Duration
	var off int64
	p.report(name, w, 0)
	for now := start; now.Before(end) && ctx.Err() == nil || len(lat) == 0; now = time.Now() {
		t0 := time.Now()
		if _, err := unix.Pwrite(fd, buf, off); err != nil {
			return SyncWrite{}, fmt.Errorf("%w: write: %v", ErrProbe, err)
		}
		if err := unix.Fdatasync(fd); err != nil {
			return SyncWrite{}, fmt.Errorf("%w: fdatasync: %v", ErrProbe, err)
		}
		if len(lat) < probeMaxSamples {
			lat = append(lat, time.Since(t0))
		}
		if off += int64(size); off+int64(size) > max(p.extent, int64(size)) {
			off = 0
		}
		p.report(name, w, float64(now.Sub(start))/float64(end.Sub(start)))
	}
	p.spent += w
	slices.Sort(lat)
	us := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Nanoseconds()) / 1e3
	}
	return SyncWrite{SizeBytes: size, Ops: len(lat), P50Micros: us(0.5), P99Micros: us(0.99), MaxMicros: us(1)}, ctx.Err()
}

// randomRead runs conc readers of random aligned 4 KiB blocks of the
// written extent until the phase ends; reads per second.
func (p *prober) randomRead(ctx context.Context, conc int, w float64) (float64, error) {
	name := fmt.Sprintf("random read x%d", conc)
	flags := unix.O_RDONLY
	if p.direct {
		flags |= unix.O_DIRECT
	}
	fd, err := p.open(flags)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	blocks := p.extent / probeReadBytes
	start, end := time.Now(), p.phaseEnd(w)
	p.report(name, w, 0)
	var ops atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range conc {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), uint64(conc)))
			buf := alignedBuf(probeReadBytes)
			for n := 0; n == 0 || time.Now().Before(end) && ctx.Err() == nil; n++ { // one read at least, late or not
				if _, err := unix.Pread(fd, buf, r.Int64N(blocks)*probeReadBytes); err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
					return
				}
				ops.Add(1)
			}
		})
	}
	for now := time.Now(); now.Before(end) && ctx.Err() == nil; now = time.Now() {
		p.report(name, w, float64(now.Sub(start))/float64(end.Sub(start)))
		time.Sleep(min(100*time.Millisecond, end.Sub(now)))
	}
	wg.Wait()
	p.spent += w
	if firstErr != nil {
		return 0, fmt.Errorf("%w: read: %v", ErrProbe, firstErr)
	}
	return float64(ops.Load()) / time.Since(start).Seconds(), ctx.Err()
}
