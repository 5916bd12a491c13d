package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// jsonRecord is one record as `consume -f json` prints it (one per line).
type jsonRecord struct {
	Topic       string       `json:"topic"`
	Partition   int32        `json:"partition"`
	Offset      int64        `json:"offset"`
	LeaderEpoch int32        `json:"leader_epoch"`
	Timestamp   int64        `json:"timestamp"`
	Key         *string      `json:"key"`
	Value       string       `json:"value"`
	Headers     []jsonHeader `json:"headers,omitempty"`
}

type jsonHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func appendJSONRecord(dst []byte, r *kgo.Record) []byte {
	j := jsonRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, LeaderEpoch: r.LeaderEpoch,
		Timestamp: r.Timestamp.UnixMilli(), Value: string(r.Value)}
	if r.Key != nil {
		k := string(r.Key)
		j.Key = &k
	}
	for _, h := range r.Headers {
		j.Headers = append(j.Headers, jsonHeader{Key: h.Key, Value: string(h.Value)})
	}
	data, _ := json.Marshal(j) // strings and numbers only: cannot fail
	return append(append(dst, data...), '\n')
}

// consumeOpts are the flags of `topic consume`.
type consumeOpts struct {
	offset     string
	partitions []string
	group      string
	num        int64
	format     string
	exitAtEnd  bool
}

func topicConsume(e *env) *cobra.Command {
	var o consumeOpts
	cmd := &cobra.Command{
		Use:   "consume TOPIC...",
		Short: "Print records, from an offset, a time or a consumer group",
		Long: "Prints records as JSON lines (-f json, the default) or by a format string:\n" +
			"%k key, %v value, %h headers (k1=v1,k2=v2), %t timestamp (Unix ms), %p partition,\n" +
			"%o offset, %e leader epoch, %T topic, %% a percent sign; escapes \\n \\r \\t \\\\.\n\n" +
			"Without -g, starts at -o (start, end, an offset N, or @timestamp as Unix ms or RFC 3339).\n" +
			"With -g, joins the group, starts at its committed offsets (-o where it has none), and\n" +
			"commits what it printed. Stops after -n records, at the end of the log with -e, or on Ctrl-C.\n" +
			"With -n and a terminal on stderr, a status line shows the progress.",
		Example: "  petrel topic consume events -n 10 -f '%p/%o %k=%v\\n'\n" +
			"  petrel topic consume events -o @2026-11-23T10:00:00Z -e\n" +
			"  petrel topic consume events -g billing -n 100",
		Args: cobra.MinimumNArgs(1),
	}
	f := cmd.Flags()
	f.StringVarP(&o.offset, "offset", "o", "start", "where to start: start, end, N, @timestamp")
	f.StringSliceVarP(&o.partitions, "partitions", "p", nil, "partitions to read (default all; not with -g)")
	f.StringVarP(&o.group, "group", "g", "", "consume as this consumer group and commit offsets")
	f.Int64VarP(&o.num, "num", "n", 0, "stop after this many records (0: no limit)")
	f.StringVarP(&o.format, "format", "f", "json", "output: json (a JSON object per line) or a format string")
	f.BoolVarP(&o.exitAtEnd, "exit-at-end", "e", false, "stop once every partition is read up to the end it had at start")
	cmd.RunE = e.run(true, func(ctx context.Context, topics []string) error {
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
		defer stop()
		return e.consume(ctx, topics, o)
	})
	return cmd
}

type tp struct {
	topic     string
	partition int32
}

func (e *env) consume(ctx context.Context, topics []string, o consumeOpts) error {
	spec, err := parseOffset(o.offset)
	if err != nil {
		return fmt.Errorf("--offset: %w", err)
	}
	only, err := parsePartitions(o.partitions)
	if err != nil {
		return err
	}
	if o.group != "" && len(only) > 0 {
		return fmt.Errorf("-p and -g exclude each other: a group assigns partitions itself")
	}
	var pieces []piece
	if o.format != "json" {
		if pieces, err = parseRecordFormat(o.format, consumeVerbs); err != nil {
			return err
		}
	}
	opts := []kgo.Opt{kgo.FetchMaxWait(500 * time.Millisecond)}
	if o.group != "" {
		opts = append(opts, kgo.ConsumerGroup(o.group), kgo.ConsumeTopics(topics...),
			kgo.ConsumeResetOffset(spec.kgoOffset()), kgo.AutoCommitMarks())
	} else if len(only) > 0 {
		m := map[string]map[int32]kgo.Offset{}
		for _, t := range topics {
			m[t] = map[int32]kgo.Offset{}
			for _, p := range only {
				m[t][p] = spec.kgoOffset()
			}
		}
		opts = append(opts, kgo.ConsumePartitions(m))
	} else {
		opts = append(opts, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(spec.kgoOffset()))
	}
	cl, adm, err := e.kafka(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := topicsMetadata(ctx, adm, topics); err != nil {
		return err
	}
	var remaining map[tp]int64 // partition -> end offset still to reach (with -e)
	if o.exitAtEnd {
		if remaining, err = e.endsToReach(ctx, adm, topics, only, spec, o.group); err != nil {
			return err
		}
	}
	var notBefore *timeFilter
	if spec.kind == offsetTime && o.group == "" {
		notBefore = &timeFilter{ms: spec.n, passed: map[tp]bool{}}
	}
	err = e.consumeLoop(ctx, cl, pieces, o.num, remaining, notBefore)
	if o.group != "" {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if cerr := cl.CommitMarkedOffsets(cctx); cerr != nil && err == nil {
			err = fmt.Errorf("commit offsets of group %s: %w", o.group, cerr)
		}
	}
	if errors.Is(err, context.Canceled) {
		return nil // Ctrl-C: a normal way to stop
	}
	return err
}

// endsToReach lists, per partition, the end offset consume -e stops at,
// leaving out the partitions whose start position is already there.
func (e *env) endsToReach(ctx context.Context, adm *kadm.Client, topics []string, only []int32, spec offsetSpec, group string) (map[tp]int64, error) {
	ends, err := offsetSpec{kind: offsetEnd}.resolve(ctx, adm, topics...)
	if err != nil {
		return nil, err
	}
	starts, err := spec.resolve(ctx, adm, topics...)
	if err != nil {
		return nil, err
	}
	var committed kadm.OffsetResponses
	if group != "" {
		if committed, err = adm.FetchOffsetsForTopics(ctx, group, topics...); err != nil {
			return nil, err
		}
	}
	out := map[tp]int64{}
	ends.Each(func(l kadm.ListedOffset) {
		if len(only) > 0 && !slices.Contains(only, l.Partition) {
			return
		}
		pos := int64(0)
		if s, ok := starts.Lookup(l.Topic, l.Partition); ok {
			pos = s.Offset
		}
		if c, ok := committed.Lookup(l.Topic, l.Partition); ok && c.Err == nil && c.At >= 0 {
			pos = c.At
		}
		if pos < l.Offset {
			out[tp{l.Topic, l.Partition}] = l.Offset
		}
	})
	return out, nil
}

// consumeLoop prints records until num (if > 0) are printed, every
// partition in remaining (if non-nil) reached its end, or ctx ends.
func (e *env) consumeLoop(ctx context.Context, cl *kgo.Client, pieces []piece, num int64, remaining map[tp]int64, notBefore *timeFilter) error {
	w := bufio.NewWriterSize(e.d.Stdout, 64<<10)
	defer w.Flush()
	var st *statusLine // consume -n shows its progress
	if num > 0 {
		st = e.status()
	}
	var (
		count int64
		buf   []byte
	)
	defer func() {
		if st != nil {
			st.Done("consumed %d/%d records (%s)", count, num, perSecond(count, st.Elapsed()))
		}
	}()
	done := func() bool { return (num > 0 && count >= num) || (remaining != nil && len(remaining) == 0) }
	for !done() {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil && !errors.Is(err, context.Canceled) {
				ferr = fmt.Errorf("fetch %s[%d]: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		if st != nil && e.d.StdoutTerminal {
			st.Clear() // the records go to the same screen
		}
		for it := fs.RecordIter(); !it.Done() && !done(); {
			r := it.Next()
			if remaining != nil {
				end, ok := remaining[tp{r.Topic, r.Partition}]
				if !ok {
					continue // already at its end
				}
				if r.Offset+1 >= end {
					delete(remaining, tp{r.Topic, r.Partition})
				}
				if r.Offset >= end {
					continue
				}
			}
			if notBefore.skip(r) {
				continue
			}
			buf = buf[:0]
			if pieces == nil {
				buf = appendJSONRecord(buf, r)
			} else {
				buf = appendRecord(buf, pieces, r)
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
			count++
			cl.MarkCommitRecords(r)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if st != nil {
			st.Update("consumed %d/%d records (%s)", count, num, perSecond(count, st.Elapsed()))
		}
	}
	return nil
}

// timeFilter drops, per partition, the records before the first one at or
// after a time (-o @T). A broker may answer ListOffsets by time with the
// base offset of the batch that holds that record (Petrel's storage does,
// 2026-11); Kafka answers the record's own offset.
type timeFilter struct {
	ms     int64
	passed map[tp]bool
}

func (f *timeFilter) skip(r *kgo.Record) bool {
	if f == nil {
		return false
	}
	k := tp{r.Topic, r.Partition}
	if f.passed[k] {
		return false
	}
	if r.Timestamp.UnixMilli() < f.ms {
		return true
	}
	f.passed[k] = true
	return false
}
