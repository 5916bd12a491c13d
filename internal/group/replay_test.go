package group

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// knownMember is what the random driver learned about a member from the
// responses it got.
type knownMember struct {
	group, id string
	gen       int32
	leader    bool
	members   []string // the leader's member list
}

// TestReplayRebuildsState drives a coordinator with random requests and
// clock steps, then lets every member go and checks that replaying the
// log yields exactly the live groups and offsets. Seeds are printed on
// failure.
func TestReplayRebuildsState(t *testing.T) {
	seeds, steps := 20, 400
	if testing.Short() {
		seeds, steps = 5, 300
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { replayScenario(t, seed, steps) })
	}
}

func replayScenario(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	cfg := DefaultConfig()
	cfg.InitialRebalanceDelay = time.Duration(rng.IntN(2)) * time.Second
	cfg.MaxGroupSize = 4
	h := newHarness(t, cfg)
	groups := []string{"g0", "g1", "g2"}
	sentTo := map[RequestID]string{}
	var members []*knownMember
	byID := map[string]*knownMember{}
	send := func(group string, req kmsg.Request) {
		h.nextID++
		sentTo[h.nextID] = group
		if err := h.c.Handle(h.now, h.nextID, Client{ID: "c", Host: "h"}, req); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
	learn := func() {
		for {
			rd := h.c.Ready()
			h.log = append(h.log, rd.Records...)
			for _, r := range rd.Responses {
				jr, ok := r.Msg.(*kmsg.JoinGroupResponse)
				if !ok || (jr.ErrorCode != 0 && jr.ErrorCode != kerr.MemberIDRequired.Code) {
					continue
				}
				m := byID[jr.MemberID]
				if m == nil {
					m = &knownMember{group: sentTo[r.ID], id: jr.MemberID}
					byID[m.id] = m
					members = append(members, m)
				}
				m.gen, m.leader, m.members = jr.Generation, jr.LeaderID == jr.MemberID, nil
				for _, jm := range jr.Members {
					m.members = append(m.members, jm.MemberID)
				}
			}
			if len(rd.Records) > 0 {
				h.c.Persisted(rd.Through)
				h.durable = len(h.log)
			}
			if !h.c.HasReady() {
				return
			}
		}
	}
	pick := func() *knownMember {
		if len(members) == 0 {
			return &knownMember{group: groups[rng.IntN(len(groups))], id: "nobody"}
		}
		return members[rng.IntN(len(members))]
	}
	for range steps {
		g := groups[rng.IntN(len(groups))]
		switch op := rng.IntN(11); op {
		case 0, 1: // new member
			r := joinReq(g, "", 6*time.Second)
			r.Version = int16(3 + 6*rng.IntN(2))
			send(g, r)
		case 2: // rejoin
			m := pick()
			r := joinReq(m.group, m.id, 6*time.Second)
			send(m.group, r)
		case 3: // sync
			m := pick()
			r := kmsg.NewPtrSyncGroupRequest()
			r.Group, r.MemberID, r.Generation = m.group, m.id, m.gen
			if m.leader {
				for _, id := range m.members {
					r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: []byte(id)})
				}
			}
			send(m.group, r)
		case 4: // heartbeat
			m := pick()
			r := kmsg.NewPtrHeartbeatRequest()
			r.Group, r.MemberID, r.Generation = m.group, m.id, m.gen
			send(m.group, r)
		case 5: // leave
			m := pick()
			r := kmsg.NewPtrLeaveGroupRequest()
			r.Group, r.Members = m.group, []kmsg.LeaveGroupRequestMember{{MemberID: m.id}}
			send(m.group, r)
		case 6: // simple commit
			send(g, commitReq(g, "", -1, rng.Int64N(100)))
		case 7: // member commit
			m := pick()
			send(m.group, commitReq(m.group, m.id, m.gen, rng.Int64N(100)))
		case 8: // offset delete
			r := kmsg.NewPtrOffsetDeleteRequest()
			r.Group = g
			r.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
			send(g, r)
		case 9: // delete group
			r := kmsg.NewPtrDeleteGroupsRequest()
			r.Groups = []string{g}
			send(g, r)
		case 10:
			h.now = h.now.Add(time.Duration(rng.IntN(8000)) * time.Millisecond)
			h.c.Tick(h.now)
		}
		learn()
		checkTimers(t, h.c)
	}
	// Let every member go: sessions, rebalance and sync timeouts all end.
	for range 10 {
		h.now = h.now.Add(time.Hour)
		h.c.Tick(h.now)
		learn()
	}
	for name, g := range h.c.groups {
		if g.state != Empty || len(g.members) > 0 || len(g.pending) > 0 {
			t.Fatalf("seed %d: group %s still %s with %d members", seed, name, g.state, len(g.members))
		}
	}
	if live, replayed := dumpState(h.c), h.replay(t); live != replayed {
		t.Fatalf("seed %d: replay differs\nlive:\n%s\nreplayed:\n%s", seed, live, replayed)
	}
	if len(h.log) == 0 {
		t.Fatalf("seed %d: scenario wrote nothing", seed)
	}
}

// checkTimers compares the timer heap with a scan of every group.
func checkTimers(t *testing.T, c *Coordinator) {
	t.Helper()
	for name, g := range c.groups {
		d, ok := g.nextDeadline()
		if ok != (g.timerIndex >= 0) || (ok && !d.Equal(g.deadline)) {
			t.Fatalf("group %s: deadline %v (%v) but timer %v at %d", name, d, ok, g.deadline, g.timerIndex)
		}
	}
	for i, g := range c.timers {
		if c.groups[g.name] != g || g.timerIndex != i {
			t.Fatalf("timer %d: group %s not live or misplaced (%d)", i, g.name, g.timerIndex)
		}
	}
}
