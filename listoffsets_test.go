package petrel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestListOffsetsByTime: ListOffsets by timestamp answers with the first
// record at or after the time and that record's timestamp, inside a batch
// of many records, uncompressed and compressed, as Kafka does; earliest,
// latest and max timestamp (KIP-734) too; and on a LogAppendTime topic the
// first batch appended at or after the time.
func TestListOffsetsByTime(t *testing.T) {
	b := startBroker(t, t.TempDir())
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(newClient(t, b.Addr()))
	defer adm.Close()
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "zstd": kgo.ZstdCompression(),
		"lz4": kgo.Lz4Compression(), "snappy": kgo.SnappyCompression(),
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	const n = 40 // records, one batch per 10 (linger, manual flush)
	for name, codec := range codecs {
		topic := "ts-" + name
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
		cl := newClient(t, b.Addr(), kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(time.Minute),
			kgo.DefaultProduceTopic(topic))
		for batch := range n / 10 {
			for i := range 10 {
				k := batch*10 + i
				// Record k has time base + 10k ms: times rise within and across batches.
				cl.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprint(k)), Timestamp: base.Add(time.Duration(10*k) * time.Millisecond)}, nil)
			}
			if err := cl.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		cl.Close()
		for _, c := range []struct {
			at       time.Duration // query time after base
			offset   int64
			tsOffset int64 // which record's timestamp comes back
		}{
			{0, 0, 0},
			{-time.Minute, 0, 0},
			{5 * time.Millisecond, 1, 1},     // between records 0 and 1: the first batch's second record
			{130 * time.Millisecond, 13, 13}, // exact, inside the second batch
			{131 * time.Millisecond, 14, 14}, //
			{390 * time.Millisecond, 39, 39}, // the last record
			{400 * time.Millisecond, n, -1},  // after every record: none (kadm reports the end offset)
			{time.Hour * 2, n, -1},
		} {
			ms := base.Add(c.at).UnixMilli()
			got, err := adm.ListOffsetsAfterMilli(ctx, ms, topic)
			if err != nil {
				t.Fatal(err)
			}
			lo, _ := got.Lookup(topic, 0)
			if lo.Err != nil {
				t.Fatalf("%s at %v: %v", topic, c.at, lo.Err)
			}
			wantTs := int64(-1)
			if c.tsOffset >= 0 {
				wantTs = base.Add(time.Duration(10*c.tsOffset) * time.Millisecond).UnixMilli()
			}
			if lo.Offset != c.offset || lo.Timestamp != wantTs {
				t.Errorf("%s at +%v: offset %d ts %d, want offset %d ts %d", topic, c.at, lo.Offset, lo.Timestamp, c.offset, wantTs)
			}
		}
		// Max timestamp: the last record, with its timestamp.
		mx, err := adm.ListMaxTimestampOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if lo, _ := mx.Lookup(topic, 0); lo.Offset != n-1 || lo.Timestamp != base.Add(10*(n-1)*time.Millisecond).UnixMilli() {
			t.Errorf("%s max timestamp: offset %d ts %d, want %d", topic, lo.Offset, lo.Timestamp, n-1)
		}
	}

	// LogAppendTime: the broker's time, one per batch.
	topic := "ts-append"
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"message.timestamp.type": kadm.StringPtr("LogAppendTime")}, topic); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b.Addr(), kgo.ProducerLinger(time.Minute), kgo.DefaultProduceTopic(topic))
	defer cl.Close()
	var starts []time.Time
	for batch := range 3 {
		starts = append(starts, time.Now())
		for i := range 5 {
			cl.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprint(batch, i)), Timestamp: base}, nil)
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // distinct append times
	}
	got, err := adm.ListOffsetsAfterMilli(ctx, starts[2].UnixMilli(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if lo, _ := got.Lookup(topic, 0); lo.Offset != 10 || lo.Timestamp < starts[2].UnixMilli() {
		t.Errorf("LogAppendTime: offset %d ts %d, want offset 10 at or after %d", lo.Offset, lo.Timestamp, starts[2].UnixMilli())
	}
}
