package petrel_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel/internal/tune"
)

// TestDiskMeasurements: a node reads `petrel iotune`'s io-config.yaml from
// its data dir to seed its write-path policy, or probes the disk at
// start-up without one; a file that does not parse is ignored (logged),
// never a reason not to start.
func TestDiskMeasurements(t *testing.T) {
	valid := tune.IOProperties{Version: 1, MeasuredAt: time.Now(), SyncWrite: []tune.SyncWrite{{SizeBytes: 4 << 10, Ops: 100, P50Micros: 300}},
		SequentialWrite: tune.SequentialWrite{BlockBytes: 1 << 20, BufferedBytesPerSec: 800e6}}
	for name, write := range map[string]func(dir string) error{
		"valid":  func(dir string) error { return tune.WriteIOProperties(dir, valid) },
		"absent": func(string) error { return nil },
		"garbage": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, tune.IOPropertiesName), []byte("version: [\n"), 0o644)
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := write(dir); err != nil {
				t.Fatal(err)
			}
			b := startBroker(t, dir)
			defer b.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("t"))
			defer cl.Close()
			if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "t"); err != nil {
				t.Fatal(err)
			}
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
		})
	}
}
