// Command batchcodec reports how the record batches of one partition are
// compressed, so the compatibility suite can prove that a client's codec
// case really sent batches in that codec (a client may silently fall back
// to uncompressed batches, as librdkafka 2.0.2 does with gzip, snappy and
// lz4 when a broker advertises no Produce/Fetch v2: see test/compat/README.md).
//
//	batchcodec [-want CODEC] BOOTSTRAP TOPIC PARTITION RECORDS
//
// It reads the partition from offset 0 until RECORDS records were seen
// (20 s at most) and prints one line of "codec=batches" pairs sorted by
// codec name, e.g. "gzip=2" or "none=1 zstd=1". Exit status 1 on error.
// The codec is the one the broker returns; Petrel stores batches as the
// client sent them, so it is the producer's codec.
//
// With -want CODEC it judges, printing one line: exit 0 if every batch is
// in CODEC, or all but batches of at most two records that the client
// left uncompressed because compression would not shrink them; exit 3 ("skip: ...") if every batch is uncompressed and the
// broker's ApiVersions starts Produce above v2 (librdkafka 2.0.2 then
// does not compress with gzip, snappy or lz4: a broker choice, not a
// client bug to hide); exit 1 otherwise.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func main() {
	want := flag.String("want", "", "judge: every batch must be in this codec")
	flag.Parse()
	args := flag.Args()
	if len(args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: batchcodec [-want CODEC] BOOTSTRAP TOPIC PARTITION RECORDS")
		os.Exit(2)
	}
	counts, err := run(args[0], args[1], args[2], args[3])
	if err != nil {
		fmt.Println("batchcodec:", err)
		os.Exit(1)
	}
	if *want == "" {
		fmt.Println(counts)
		return
	}
	msg, code := judge(args[0], *want, counts)
	fmt.Println(msg)
	os.Exit(code)
}

// judge tells whether the batches counted are all in codec want.
func judge(bootstrap, want string, c *batchCounter) (string, int) {
	c.mu.Lock()
	n, total := c.counts[want], 0
	for _, k := range c.counts {
		total += k
	}
	none, noneLarge := c.counts["none"], c.noneLarge
	c.mu.Unlock()
	if n == total {
		return "batches " + c.String(), 0
	}
	if n > 0 && n+none == total && noneLarge == 0 {
		// The client left a batch of one or two records uncompressed
		// because compression would not shrink it (librdkafka does).
		return "batches " + c.String() + " (uncompressed: batches of at most 2 records)", 0
	}
	if none == total {
		minProduce, err := produceMinVersion(bootstrap)
		if err == nil && minProduce > 2 {
			return fmt.Sprintf("skip: the client sent %s uncompressed: the broker starts Produce at v%d "+
				"and librdkafka 2.0.2 compresses gzip/snappy/lz4 only if the broker offers Produce v2 and Fetch v2 "+
				"(its MsgVer1 feature)", c, minProduce), 3
		}
	}
	return fmt.Sprintf("batches are %s, want all %s", c, want), 1
}

// produceMinVersion asks the broker for the lowest Produce version it serves.
func produceMinVersion(bootstrap string) (int16, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey == 0 {
			return k.MinVersion, nil
		}
	}
	return 0, errors.New("broker serves no Produce")
}

// codecNames are the Kafka record batch compression attribute values.
var codecNames = map[uint8]string{0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}

// batchCounter counts fetched batches per codec; kgo calls it from its
// fetch goroutines.
type batchCounter struct {
	mu     sync.Mutex
	counts map[string]int
	// noneLarge counts uncompressed batches of more than smallBatchRecords
	// records: librdkafka sends a batch uncompressed when compression does
	// not shrink it (a tail of one or two small records), which is allowed.
	noneLarge int
}

const smallBatchRecords = 2

func (b *batchCounter) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	name, ok := codecNames[m.CompressionType]
	if !ok {
		name = "unknown" + strconv.Itoa(int(m.CompressionType))
	}
	b.mu.Lock()
	b.counts[name]++
	if name == "none" && m.NumRecords > smallBatchRecords {
		b.noneLarge++
	}
	b.mu.Unlock()
}

func (b *batchCounter) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	parts := make([]string, 0, len(b.counts))
	for name, n := range b.counts {
		parts = append(parts, name+"="+strconv.Itoa(n))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func run(bootstrap, topic, partitionArg, recordsArg string) (*batchCounter, error) {
	partition, err := strconv.ParseInt(partitionArg, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("partition %q: %w", partitionArg, err)
	}
	want, err := strconv.Atoi(recordsArg)
	if err != nil || want < 1 {
		return nil, fmt.Errorf("records %q: want a positive count", recordsArg)
	}
	counter := &batchCounter{counts: make(map[string]int)}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(bootstrap),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {int32(partition): kgo.NewOffset().At(0)}}),
		kgo.WithHooks(counter),
	)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := 0
	for seen < want {
		fs := cl.PollFetches(ctx)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("read %d of %d records of %s[%d] in 20s", seen, want, topic, partition)
		}
		var ferr error
		fs.EachError(func(t string, p int32, e error) { ferr = fmt.Errorf("fetch %s[%d]: %w", t, p, e) })
		if ferr != nil {
			return nil, ferr
		}
		seen += fs.NumRecords()
	}
	return counter, nil
}
