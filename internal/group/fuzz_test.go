package group

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/model"
)

// FuzzReplay feeds arbitrary keys and values to Replay: it must never
// panic, every error must be marked corrupt, and the coordinator must
// still serve requests afterwards.
func FuzzReplay(f *testing.F) {
	h := newHarness(f, DefaultConfig())
	g := newGroup(h.c, "g")
	g.protocolType, g.protocol, g.generation = "consumer", "range", 3
	g.writeOffset(topicPartition{"t", 1}, committed{offset: 5, leaderEpoch: 2, metadata: "m"}, false)
	g.writeOffset(topicPartition{"t", 1}, committed{}, true)
	g.writeMetadata()
	g.writeTombstone()
	for _, r := range h.c.Ready().Records {
		f.Add(r.Key, r.Value, r.Value == nil)
	}
	v1 := kmsg.OffsetCommitValue{Version: 1, Offset: 7, ExpireTimestamp: 9}
	f.Add((&kmsg.OffsetCommitKey{Version: 0, Group: "g", Topic: "t"}).AppendTo(nil), v1.AppendTo(nil), false)
	f.Add([]byte{0, 3, 1, 2}, []byte{}, false)
	f.Add([]byte{0xff, 0xff}, []byte{0}, false)
	f.Fuzz(func(t *testing.T, key, value []byte, tombstone bool) {
		if tombstone {
			value = nil
		}
		c, err := New(DefaultConfig(), &counterRand{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Replay(key, value); err != nil && !errors.Is(err, model.ErrCorrupt) {
			t.Fatalf("error not marked corrupt: %v", err)
		}
		// The state stays usable: describe and fetch everything.
		for name := range c.groups {
			req := kmsg.NewPtrOffsetFetchRequest()
			req.Version = 8
			req.Groups = []kmsg.OffsetFetchRequestGroup{{Group: name}}
			if err := c.Handle(epoch, 1, Client{}, req); err != nil {
				t.Fatal(err)
			}
			d := kmsg.NewPtrDescribeGroupsRequest()
			d.Groups = []string{name}
			if err := c.Handle(epoch, 2, Client{}, d); err != nil {
				t.Fatal(err)
			}
		}
		if rd := c.Ready(); len(rd.Records) != 0 {
			t.Fatalf("reads wrote %d records", len(rd.Records))
		}
	})
}
