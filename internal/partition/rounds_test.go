package partition

import (
	"testing"

	"github.com/petrel-streaming/petrel/internal/shard"
	"github.com/petrel-streaming/petrel/internal/vfs"
)

// TestOneRoundPerProduce: a produce that waits for its ack costs one sync
// round; the commit index it moves does not start a round of its own
// (it rides with the next one).
func TestOneRoundPerProduce(t *testing.T) {
	h := startHost(t, vfs.NewMem())
	r := h.open(Config{Key: testKey, Node: 1})
	var before uint64
	h.on(func(*shard.Shard) { before = h.m.Rounds })
	for i := 0; i < 50; i++ {
		h.produce(r, testBatch(1, "x"))
	}
	var after uint64
	h.on(func(*shard.Shard) { after = h.m.Rounds })
	if n := after - before; n > 52 {
		t.Fatalf("%d sync rounds for 50 sequential produces, want about 50", n)
	}
	h.stop(true)
}
