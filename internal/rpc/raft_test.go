package rpc

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
	pb "go.etcd.io/raft/v3/raftpb"
)

func u64(v uint64) *uint64 { return &v }

func heartbeat(from, to, commit uint64) *pb.Message {
	return &pb.Message{Type: pb.MsgHeartbeat.Enum(), From: u64(from), To: u64(to), Term: u64(3), Commit: u64(commit)}
}

// raftCollector is a RaftSink that keeps what it got, per sender.
type raftCollector struct {
	mu     sync.Mutex
	msgs   map[model.NodeID][]RaftMessage
	frames map[model.NodeID]int
}

func newCollector() *raftCollector {
	return &raftCollector{msgs: map[model.NodeID][]RaftMessage{}, frames: map[model.NodeID]int{}}
}

func (c *raftCollector) sink(from model.NodeID, msgs []RaftMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs[from] = append(c.msgs[from], msgs...)
	c.frames[from]++
}

func (c *raftCollector) count(from model.NodeID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs[from])
}

func (c *raftCollector) get(from model.NodeID) ([]RaftMessage, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]RaftMessage(nil), c.msgs[from]...), c.frames[from]
}

func TestRaftHeartbeatsOfManyGroupsShareAFrame(t *testing.T) {
	col := newCollector()
	cb := testConfig(2)
	cb.RaftSink = col.sink
	a, b := newNode(t, 1), startNode(t, cb)
	link(t, a, b)
	echo(t, a, 2, nil) // connected

	const groups = 5000
	msgs := make([]RaftMessage, groups)
	for g := range msgs {
		msgs[g] = RaftMessage{Group: GroupID(g + 1), Msg: heartbeat(2, 3, uint64(g))}
	}
	must(t, a.SendRaft(2, msgs...))
	eventually(t, 10*time.Second, "all heartbeats delivered", func() bool { return col.count(1) == groups })
	got, frames := col.get(1)
	if frames != 1 {
		t.Fatalf("%d groups' heartbeats took %d frames, want 1", groups, frames)
	}
	for i, m := range got {
		if m.Group != GroupID(i+1) || m.Msg.GetCommit() != uint64(i) || m.Msg.GetType() != pb.MsgHeartbeat || m.Msg.GetFrom() != 2 {
			t.Fatalf("message %d: group %d %v", i, m.Group, m.Msg)
		}
	}
	as, bs := peerStats(a.Transport, 2), peerStats(b.Transport, 1)
	if as.RaftFramesSent != 1 || as.RaftMessagesSent != groups || bs.RaftFramesReceived != 1 || bs.RaftMessagesReceived != groups {
		t.Fatalf("stats: sender %+v receiver %+v", as, bs)
	}
	if per := float64(bs.BytesReceived) / groups; per > 24 {
		t.Fatalf("%.1f bytes per heartbeat on the wire", per)
	}
}

// TestRaftOrderPerSender: two nodes send many small batches to a third;
// each sender's messages arrive in the order it sent them, in fewer
// frames than calls when they pile up.
func TestRaftOrderPerSender(t *testing.T) {
	col := newCollector()
	cc := testConfig(3)
	cc.RaftSink = col.sink
	a, b, c := newNode(t, 1), newNode(t, 2), startNode(t, cc)
	link(t, a, c)
	link(t, b, c)
	const calls, per = 400, 5
	var wg sync.WaitGroup
	for _, n := range []*testNode{a, b} {
		echo(t, n, 3, nil)
		wg.Go(func() {
			seq := uint64(0)
			for i := range calls {
				batch := make([]RaftMessage, per)
				for j := range batch {
					seq++
					batch[j] = RaftMessage{Group: GroupID(j), Msg: heartbeat(uint64(n.id), 3, seq)}
				}
				for k := 0; ; k++ {
					err := n.SendRaft(3, batch...)
					if err == nil {
						break
					}
					if !errors.Is(err, ErrQueueFull) || k > 10000 {
						t.Errorf("node %d call %d: %v", n.id, i, err)
						return
					}
					time.Sleep(time.Millisecond) // buffer full: let the flusher drain
				}
			}
		})
	}
	wg.Wait()
	for _, n := range []model.NodeID{1, 2} {
		eventually(t, 10*time.Second, "all messages delivered", func() bool { return col.count(n) == calls*per })
		got, frames := col.get(n)
		for i, m := range got {
			if m.Msg.GetCommit() != uint64(i+1) || m.Msg.GetFrom() != uint64(n) {
				t.Fatalf("from node %d: message %d has commit %d", n, i, m.Msg.GetCommit())
			}
		}
		if frames > calls {
			t.Fatalf("node %d: %d frames for %d calls", n, frames, calls)
		}
		t.Logf("node %d: %d calls of %d messages in %d frames", n, calls, per, frames)
	}
}

// TestRaftFrameSplit: more than a frame's worth of buffered messages go
// out as several frames within the limit, in order.
func TestRaftFrameSplit(t *testing.T) {
	col := newCollector()
	ca, cb := testConfig(1), testConfig(2)
	ca.MaxFrameBytes, cb.MaxFrameBytes = 64<<10, 64<<10
	cb.RaftSink = col.sink
	a, b := startNode(t, ca), startNode(t, cb)
	link(t, a, b)
	echo(t, a, 2, nil)
	const n = 100
	msgs := make([]RaftMessage, n)
	for i := range msgs {
		e := &pb.Entry{Term: u64(3), Index: u64(uint64(i)), Data: make([]byte, 2000)}
		msgs[i] = RaftMessage{Group: 7, Msg: &pb.Message{Type: pb.MsgApp.Enum(), Index: u64(uint64(i)), Entries: []*pb.Entry{e}}}
	}
	must(t, a.SendRaft(2, msgs...))
	eventually(t, 10*time.Second, "all delivered", func() bool { return col.count(1) == n })
	got, frames := col.get(1)
	if frames < 3 || frames > 6 {
		t.Fatalf("%d messages of 2 KB in %d frames of at most 64 KiB", n, frames)
	}
	for i, m := range got {
		if m.Msg.GetIndex() != uint64(i) || len(m.Msg.Entries[0].Data) != 2000 {
			t.Fatalf("message %d out of order or damaged", i)
		}
	}
	// One message over the frame limit is refused at once.
	huge := &pb.Message{Type: pb.MsgApp.Enum(), Entries: []*pb.Entry{{Data: make([]byte, 64<<10)}}}
	if err := a.SendRaft(2, RaftMessage{Msg: huge}); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("huge raft message: %v", err)
	}
	if err := a.SendRaft(9, msgs[0]); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("unknown peer: %v", err)
	}
}
