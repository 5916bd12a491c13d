package node

import (
	"context"
	"testing"
)

// startAdminTestNode starts a one-node cluster (one shard, 128 MiB) for
// the admin endpoint tests, with tune's changes to its Config, and closes
// it when the test ends.
func startAdminTestNode(ctx context.Context, t *testing.T, tune func(*Config)) *Node {
	t.Helper()
	cfg := Config{DataDir: t.TempDir(), KafkaAddr: "127.0.0.1:0", Shards: 1, MemoryBytes: 128 << 20}
	if tune != nil {
		tune(&cfg)
	}
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return n
}
