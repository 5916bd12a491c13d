package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// partitionProduced sums what produce wrote to one partition.
type partitionProduced struct {
	Partition   int32 `json:"partition" yaml:"partition"`
	Records     int64 `json:"records" yaml:"records"`
	FirstOffset int64 `json:"first_offset" yaml:"first_offset"`
	LastOffset  int64 `json:"last_offset" yaml:"last_offset"`
}

// produceResult is what `topic produce` prints at the end.
type produceResult struct {
	Topic      string              `json:"topic" yaml:"topic"`
	Records    int64               `json:"records" yaml:"records"`
	Failed     int64               `json:"failed" yaml:"failed"`
	Partitions []partitionProduced `json:"partitions" yaml:"partitions"`
}

// produceTally collects the outcome of records produced asynchronously.
// Any goroutine (kgo runs the promises).
type produceTally struct {
	mu       sync.Mutex
	parts    map[int32]*partitionProduced
	failed   int64
	firstErr error
}

func (t *produceTally) done(r *kgo.Record, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.failed++
		if t.firstErr == nil {
			t.firstErr = err
		}
		return
	}
	p := t.parts[r.Partition]
	if p == nil {
		p = &partitionProduced{Partition: r.Partition, FirstOffset: r.Offset}
		t.parts[r.Partition] = p
	}
	p.Records++
	p.FirstOffset = min(p.FirstOffset, r.Offset)
	p.LastOffset = max(p.LastOffset, r.Offset)
}

func topicProduce(e *env) *cobra.Command {
	var (
		format    string
		key       string
		headers   []string
		partition int32
		maxBytes  int
	)
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce records read from stdin (a line per record, or by a format string)",
		Long: "Reads records from stdin by the format (-f, default '%v\\n': one record per line) and\n" +
			"produces them with acks=all, idempotently; prints how many went to each partition.\n\n" +
			"Format verbs: %k key, %v value, %h headers (k1=v1,k2=v2), %t timestamp (Unix ms),\n" +
			"%p partition, %% a percent sign; escapes \\n \\r \\t \\\\. Every verb but the last needs\n" +
			"text after it (the delimiter that ends it): -f '%k %v\\n' reads \"key value\" lines.",
		Example: "  echo hello | petrel topic produce events\n" +
			"  printf 'user1 {\"a\":1}\\n' | petrel topic produce events -f '%k %v\\n' -H source=cli",
		Args: cobra.ExactArgs(1),
	}
	f := cmd.Flags()
	f.StringVarP(&format, "format", "f", `%v\n`, "input format (see above)")
	f.StringVarP(&key, "key", "k", "", "key of every record (unless the format has %k)")
	f.StringArrayVarP(&headers, "header", "H", nil, "header key=value on every record, repeatable")
	f.Int32VarP(&partition, "partition", "p", -1, "partition to produce to (-1: by key hash, or sticky when unkeyed)")
	f.IntVar(&maxBytes, "max-record-bytes", 1<<20, "largest key, value or header field accepted from the input")
	cmd.RunE = e.run(true, func(ctx context.Context, args []string) error {
		pieces, err := parseRecordFormat(format, produceVerbs)
		if err != nil {
			return err
		}
		rr, err := newRecordReader(e.d.Stdin, pieces, maxBytes)
		if err != nil {
			return err
		}
		hkv, err := parseKV(headers, "--header")
		if err != nil {
			return err
		}
		manual := partition >= 0 || slices.ContainsFunc(pieces, func(p piece) bool { return p.verb == 'p' })
		opts := []kgo.Opt{kgo.DefaultProduceTopic(args[0]), kgo.ProducerBatchMaxBytes(int32(max(1<<20, maxBytes+(64<<10))))}
		if manual {
			opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		}
		cl, adm, err := e.kafka(opts...)
		if err != nil {
			return err
		}
		defer cl.Close()
		if _, err := topicsMetadata(ctx, adm, args); err != nil {
			return err
		}
		tally := &produceTally{parts: map[int32]*partitionProduced{}}
		var n int64
		for {
			rec, err := rr.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				_ = cl.Flush(ctx)
				return err
			}
			if key != "" && rec.Key == nil {
				rec.Key = []byte(key)
			}
			for _, kv := range hkv {
				rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: kv[0], Value: []byte(kv[1])})
			}
			if rec.Partition < 0 {
				rec.Partition = max(partition, 0)
			}
			n++
			cl.Produce(ctx, rec, tally.done)
		}
		if err := cl.Flush(ctx); err != nil {
			return err
		}
		res := produceResult{Topic: args[0], Records: n - tally.failed, Failed: tally.failed, Partitions: []partitionProduced{}}
		t := table{header: []string{"PARTITION", "RECORDS", "FIRST-OFFSET", "LAST-OFFSET"}}
		for _, p := range tally.parts {
			res.Partitions = append(res.Partitions, *p)
		}
		slices.SortFunc(res.Partitions, func(a, b partitionProduced) int { return int(a.Partition - b.Partition) })
		for _, p := range res.Partitions {
			t.add(p.Partition, p.Records, p.FirstOffset, p.LastOffset)
		}
		if err := e.out(res, t); err != nil {
			return err
		}
		if tally.failed > 0 {
			return fmt.Errorf("%d of %d records not produced, first error: %w", tally.failed, n, tally.firstErr)
		}
		return nil
	})
	return cmd
}
