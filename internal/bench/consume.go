package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ConsumeOptions describe a catch-up read: a topic from its start offsets
// to the end offsets listed when the run begins.
type ConsumeOptions struct {
	Brokers []string
	Topic   string
	Timeout time.Duration // bounds the whole run
	// FetchMaxBytes and PartitionMaxBytes override the client's fetch
	// sizes (0: franz-go's defaults, 50 MiB and 1 MiB).
	FetchMaxBytes     int32
	PartitionMaxBytes int32
}

// ConsumeResult is what a catch-up read measured; Bytes counts keys and
// values.
type ConsumeResult struct {
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	Seconds       float64 `json:"seconds"`
	MBps          float64 `json:"mb_per_s"`
	RecordsPerSec float64 `json:"records_per_s"`
}

// offsetRange is what a partition holds when a read starts.
type offsetRange struct{ start, end int64 }

// listRanges lists the start and end offsets of topic's partitions.
func listRanges(ctx context.Context, cl *kgo.Client, topic string) (map[int32]offsetRange, error) {
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	if len(ends[topic]) == 0 {
		return nil, fmt.Errorf("%w: topic %s has no partitions", ErrUsage, topic)
	}
	out := map[int32]offsetRange{}
	for p, e := range ends[topic] {
		s, ok := starts.Lookup(topic, p)
		if e.Err != nil || !ok || s.Err != nil {
			return nil, fmt.Errorf("bench: list offsets %s/%d: %v %v", topic, p, e.Err, s.Err)
		}
		out[p] = offsetRange{start: s.Offset, end: e.Offset}
	}
	return out, nil
}

// Consume reads o.Topic from its start to the end offsets listed at the
// start of the run, as fast as it can.
func Consume(ctx context.Context, o ConsumeOptions) (ConsumeResult, error) {
	if len(o.Brokers) == 0 || o.Topic == "" || o.Timeout <= 0 {
		return ConsumeResult{}, fmt.Errorf("%w: brokers, topic and timeout are required", ErrUsage)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	admin, err := kgo.NewClient(kgo.SeedBrokers(o.Brokers...))
	if err != nil {
		return ConsumeResult{}, err
	}
	ranges, err := listRanges(ctx, admin, o.Topic)
	admin.Close()
	if err != nil {
		return ConsumeResult{}, err
	}
	start := map[int32]kgo.Offset{}
	left := 0
	for p, r := range ranges {
		if r.end > r.start {
			start[p] = kgo.NewOffset().At(r.start)
			left++
		}
	}
	var res ConsumeResult
	if left == 0 {
		return res, nil
	}
	opts := []kgo.Opt{kgo.SeedBrokers(o.Brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.Topic: start})}
	if o.FetchMaxBytes > 0 {
		opts = append(opts, kgo.FetchMaxBytes(o.FetchMaxBytes))
	}
	if o.PartitionMaxBytes > 0 {
		opts = append(opts, kgo.FetchMaxPartitionBytes(o.PartitionMaxBytes))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return res, err
	}
	defer cl.Close()
	began := time.Now()
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("%w: %d partitions not read to their end: %v", ErrIncomplete, left, err)
		}
		if err := fs.Err0(); err != nil {
			return res, err
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			r := ranges[p.Partition]
			for _, rec := range p.Records {
				if rec.Offset >= r.end {
					break // past the end listed at the start: not ours to count
				}
				res.Records++
				res.Bytes += int64(len(rec.Key) + len(rec.Value))
				if rec.Offset == r.end-1 {
					left--
				}
			}
		})
	}
	res.Seconds = time.Since(began).Seconds()
	res.MBps = mbps(res.Bytes, res.Seconds)
	res.RecordsPerSec = float64(res.Records) / max(res.Seconds, 1e-9)
	return res, nil
}

// dueTime reads the due time a stamped producer put in a value.
func dueTime(value []byte) (time.Time, bool) {
	if len(value) < 8 {
		return time.Time{}, false
	}
	ns := int64(binary.BigEndian.Uint64(value))
	if ns <= 0 {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}
