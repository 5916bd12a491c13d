package group

import (
	"testing"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestNoAliasing: requests decoded from a frame alias its buffer (strings
// too, with unsafe decoders), and the buffer is reused after the
// response. Everything the coordinator keeps must be a copy.
func TestNoAliasing(t *testing.T) {
	h := newHarness(t, testConfig())
	buf := []byte("grp" + "inst" + "client" + "host" + "topic" + "md")
	view := func(from, to int) string { return unsafe.String(&buf[from], to-from) }
	group, inst, client, host, topic, md := view(0, 3), view(3, 7), view(7, 13), view(13, 17), view(17, 22), view(22, 24)
	meta := []byte("subscription")
	assign := []byte("assignment")

	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.InstanceID, join.ProtocolType = group, &inst, topic
	join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = 10000, 10000
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: topic, Metadata: meta}}
	if err := h.c.Handle(h.now, 1, Client{ID: client, Host: host}, join); err != nil {
		t.Fatal(err)
	}
	jr := h.c.Ready().Responses[0].Msg.(*kmsg.JoinGroupResponse)
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.InstanceID, sync.Generation = group, jr.MemberID, &inst, jr.Generation
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: jr.MemberID, MemberAssignment: assign}}
	if err := h.c.Handle(h.now, 2, Client{}, sync); err != nil {
		t.Fatal(err)
	}
	commit := commitReq(group, jr.MemberID, jr.Generation, 7)
	commit.InstanceID = &inst
	commit.Topics[0].Topic = topic
	commit.Topics[0].Partitions[0].Metadata = &md
	if err := h.c.Handle(h.now, 3, Client{}, commit); err != nil {
		t.Fatal(err)
	}
	h.flush(t)
	want := dumpState(h.c) + describe(t, h, "grp")
	for i := range buf {
		buf[i] = 'X'
	}
	clear(meta)
	clear(assign)
	if got := dumpState(h.c) + describe(t, h, "grp"); got != want {
		t.Fatalf("state changed with the request buffers:\n got %s\nwant %s", got, want)
	}
	if _, ok := h.c.groups["grp"]; !ok {
		t.Fatal("group map key aliases the buffer")
	}
}

func describe(t *testing.T, h *harness, group string) string {
	r := kmsg.NewPtrDescribeGroupsRequest()
	r.Version = 5
	r.Groups = []string{group}
	if err := h.c.Handle(h.now, 99, Client{}, r); err != nil {
		t.Fatal(err)
	}
	return h.flush(t)
}
