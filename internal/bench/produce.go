package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ProduceOptions describe a produce run. A run stops when Duration has
// passed or MaxRecords have been sent, whichever comes first (at least one
// must be set), then waits for the outstanding acknowledgements.
type ProduceOptions struct {
	Brokers    []string
	Topic      string
	Partitions int // created with this count if missing; records go round-robin over them
	// Replicas is the replication factor the topic is created with
	// (0 counts as 1; -1: the broker's default).
	Replicas    int16
	RecordBytes int
	Acks        string // "all", "1" or "0"
	// RateBytes > 0 makes arrivals open-loop: record k is due at
	// k × RecordBytes / RateBytes after the start, and its latency counts
	// from then, however late it was sent (no coordinated omission).
	// 0 sends as fast as the client accepts records.
	RateBytes     int64
	Duration      time.Duration
	MaxRecords    int64
	MaxInflight   int           // produce requests in flight per broker (non-idempotent only)
	Linger        time.Duration // client linger
	BatchMaxBytes int
	Compression   string // none, gzip, snappy, lz4, zstd
	Idempotent    bool

	// stamp puts each record's due time (unix nanoseconds) in its first 8
	// value bytes, for e2e.
	stamp bool
}

// ProduceResult is what a produce run measured. Latency is from the
// record's due time (open loop) or its hand-off to the client (closed
// loop) to its acknowledgement.
type ProduceResult struct {
	Records       int64   `json:"records"` // acknowledged
	Bytes         int64   `json:"bytes"`   // value bytes acknowledged
	Errors        int64   `json:"errors"`
	Seconds       float64 `json:"seconds"`
	MBps          float64 `json:"mb_per_s"`
	RecordsPerSec float64 `json:"records_per_s"`
	Latency       Latency `json:"latency"`
	FirstError    string  `json:"first_error,omitempty"`
}

func (o *ProduceOptions) validate() error {
	switch {
	case len(o.Brokers) == 0 || o.Topic == "":
		return fmt.Errorf("%w: brokers and topic are required", ErrUsage)
	case o.Partitions < 1:
		return fmt.Errorf("%w: partitions %d", ErrUsage, o.Partitions)
	case o.RecordBytes < 0 || o.RecordBytes > maxValueBytes || (o.stamp && o.RecordBytes < 8):
		return fmt.Errorf("%w: record size %d", ErrUsage, o.RecordBytes)
	case o.Duration <= 0 && o.MaxRecords <= 0:
		return fmt.Errorf("%w: set a duration or a record count", ErrUsage)
	case o.Replicas < -1:
		return fmt.Errorf("%w: replication factor %d", ErrUsage, o.Replicas)
	case o.RateBytes < 0:
		return fmt.Errorf("%w: rate %d", ErrUsage, o.RateBytes)
	}
	return nil
}

// replicas is the replication factor to create the topic with.
func (o *ProduceOptions) replicas() int16 {
	if o.Replicas == 0 {
		return 1
	}
	return o.Replicas
}

// clientOptions turns o into franz-go producer options.
func (o *ProduceOptions) clientOptions() ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(o.Brokers...),
		kgo.DefaultProduceTopic(o.Topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(o.Linger),
	}
	switch o.Acks {
	case "all", "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	default:
		return nil, fmt.Errorf("%w: acks %q (all, 1 or 0)", ErrUsage, o.Acks)
	}
	if o.Acks != "all" && o.Acks != "-1" && o.Idempotent {
		return nil, fmt.Errorf("%w: an idempotent producer needs acks=all", ErrUsage)
	}
	if !o.Idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
		if o.MaxInflight > 0 {
			opts = append(opts, kgo.MaxProduceRequestsInflightPerBroker(o.MaxInflight))
		}
	}
	if o.BatchMaxBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(int32(o.BatchMaxBytes)))
	}
	codec, err := parseCodec(o.Compression)
	if err != nil {
		return nil, err
	}
	return append(opts, kgo.ProducerBatchCompression(codec)), nil
}

func parseCodec(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("%w: compression %q", ErrUsage, name)
}

// Produce runs a produce load (creating the topic if needed) and reports
// throughput and acknowledgement latency.
func Produce(ctx context.Context, o ProduceOptions, logger *slog.Logger) (ProduceResult, error) {
	cl, err := newProducer(ctx, o)
	if err != nil {
		return ProduceResult{}, err
	}
	defer cl.Close()
	// One record first, waited for: connections and producer id are set
	// up outside the measurement.
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: make([]byte, o.RecordBytes)}).FirstErr(); err != nil {
		return ProduceResult{}, fmt.Errorf("bench: warm-up produce: %w", err)
	}
	return runProduce(ctx, cl, o, logger)
}

// newProducer checks o, creates its topic if missing and returns a client
// that produces as o says.
func newProducer(ctx context.Context, o ProduceOptions) (*kgo.Client, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	opts, err := o.clientOptions()
	if err != nil {
		return nil, err
	}
	if err := EnsureTopic(ctx, o.Brokers, o.Topic, o.Partitions, o.replicas()); err != nil {
		return nil, err
	}
	return kgo.NewClient(opts...)
}

// produceDrainTimeout bounds waiting for outstanding acknowledgements
// once a run has stopped sending.
const produceDrainTimeout = time.Minute

// producer counts acknowledgements; its callback runs on franz-go's
// goroutines.
type producer struct {
	lat      *latencies
	acked    atomic.Int64
	failed   atomic.Int64
	lastAck  atomic.Int64 // unix nanoseconds
	firstErr atomic.Pointer[error]
}

func (p *producer) done(due time.Time, err error) {
	now := time.Now()
	if err != nil {
		p.failed.Add(1)
		p.firstErr.CompareAndSwap(nil, &err)
		return
	}
	p.acked.Add(1)
	p.lastAck.Store(now.UnixNano())
	p.lat.record(now.Sub(due))
}

func runProduce(ctx context.Context, cl *kgo.Client, o ProduceOptions, logger *slog.Logger) (ProduceResult, error) {
	p := &producer{lat: newLatencies()}
	shared := make([]byte, o.RecordBytes)
	for i := range shared {
		shared[i] = byte(i*7 + 1)
	}
	var interval time.Duration
	if o.RateBytes > 0 {
		interval = time.Duration(float64(max(o.RecordBytes, 1)) / float64(o.RateBytes) * float64(time.Second))
	}
	start := time.Now()
	end := start.Add(o.Duration)
	var sent int64
	for ; o.MaxRecords <= 0 || sent < o.MaxRecords; sent++ {
		now := time.Now()
		due := now
		if interval > 0 {
			due = start.Add(time.Duration(sent) * interval)
			if d := due.Sub(now); d > 0 {
				// Early: wait for the due time. Late: send at once; the
				// lateness counts in the latency.
				time.Sleep(d)
			}
		}
		if (o.Duration > 0 && due.After(end)) || ctx.Err() != nil {
			break
		}
		value := shared
		if o.stamp {
			value = make([]byte, o.RecordBytes)
			copy(value, shared)
			binary.BigEndian.PutUint64(value, uint64(due.UnixNano()))
		}
		r := &kgo.Record{Value: value, Partition: int32(sent % int64(o.Partitions))}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) { p.done(due, err) })
	}
	fctx, cancel := context.WithTimeout(ctx, produceDrainTimeout)
	flushErr := cl.Flush(fctx)
	cancel()
	last := time.Unix(0, p.lastAck.Load())
	if p.lastAck.Load() == 0 {
		last = time.Now()
	}
	secs := last.Sub(start).Seconds()
	res := ProduceResult{
		Records: p.acked.Load(),
		Bytes:   p.acked.Load() * int64(o.RecordBytes),
		Errors:  p.failed.Load(),
		Seconds: secs,
		Latency: p.lat.summary(),
	}
	res.MBps = mbps(res.Bytes, secs)
	res.RecordsPerSec = float64(res.Records) / max(secs, 1e-9)
	if e := p.firstErr.Load(); e != nil {
		res.FirstError = (*e).Error()
	}
	if flushErr != nil || res.Records+res.Errors != sent {
		return res, fmt.Errorf("%w: %d sent, %d acknowledged, %d failed (flush: %v)", ErrIncomplete, sent, res.Records, res.Errors, flushErr)
	}
	logger.Debug("produce done", "topic", o.Topic, "records", res.Records, "mbps", res.MBps)
	return res, nil
}
