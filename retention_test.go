package petrel_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel"
)

// A topic's segment.bytes and retention.bytes take effect: the log rolls
// 1 MiB segments and whole old segments go, so the log start moves
// forward while the newest records stay readable.
func TestRetentionBySize(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := petrel.Start(ctx, petrel.Config{DataDir: t.TempDir(), Shards: 1, MemoryBytes: 256 << 20,
		RetentionCheckInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("ret"), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	one := "1048576"
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"segment.bytes": &one, "retention.bytes": &one}, "ret"); err != nil {
		t.Fatal(err)
	}
	// The partition took the topic's segment limits when it opened, before
	// CreateTopic answered. Write 4 MiB in 16 KiB records.
	val := bytes.Repeat([]byte("r"), 16<<10)
	const n = 256
	for i := 0; i < n; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: val}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var start int64
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		starts, err := adm.ListStartOffsets(ctx, "ret")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := starts.Lookup("ret", 0)
		if start = o.Offset; start > 0 {
			break
		}
	}
	if start <= 0 || start > n-64 {
		t.Fatalf("log start %d after writing 4 MiB with retention.bytes 1 MiB, want in (0, %d]", start, n-64)
	}
	ends, err := adm.ListEndOffsets(ctx, "ret")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("ret", 0); o.Offset != n {
		t.Fatalf("log end %d, want %d", o.Offset, n)
	}
}
