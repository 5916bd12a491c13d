package group

// SyncGroup (key 14), v0–v5.
//
// After a join completes, every member sends SyncGroup; the leader's
// carries the assignment. The leader's sync writes the group metadata
// record (members and assignments) and moves the group to Stable; the
// parked syncs are answered once that record is durable. A member that
// syncs after that gets its assignment at once. Members that have not
// synced within the rebalance timeout are removed and the group
// rebalances.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (c *Coordinator) syncGroup(w waiter, req *kmsg.SyncGroupRequest) {
	fail := func(code int16) {
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.Version = w.version
		resp.ErrorCode = code
		c.answer(w.id, resp)
	}
	if req.Group == "" {
		fail(kerr.InvalidGroupID.Code)
		return
	}
	g := c.groups[req.Group]
	if g == nil {
		fail(kerr.UnknownMemberID.Code)
		return
	}
	m, code := g.validateMember(req.MemberID, req.InstanceID, req.Generation)
	switch {
	case code != 0:
		fail(code)
		return
	case req.ProtocolType != nil && *req.ProtocolType != g.protocolType,
		req.Protocol != nil && *req.Protocol != g.protocol:
		fail(kerr.InconsistentGroupProtocol.Code)
		return
	}
	for _, a := range req.GroupAssignment {
		if len(a.MemberAssignment) > c.cfg.MaxProtocolMetadataBytes {
			fail(kerr.InvalidRequest.Code)
			return
		}
	}
	switch g.state {
	case PreparingRebalance:
		g.touch(m)
		fail(kerr.RebalanceInProgress.Code)
	case CompletingRebalance:
		if m.sync != nil { // a retried sync replaces the parked one
			g.answerSync(m, kerr.RebalanceInProgress.Code)
		}
		m.sync = &waiter{id: w.id, version: w.version}
		g.markSynced(m)
		if m.id == g.leader {
			g.completeSync(req.GroupAssignment)
		}
	case Stable:
		m.sync = &waiter{id: w.id, version: w.version}
		g.markSynced(m)
		g.answerSync(m, 0)
	default:
		fail(kerr.UnknownMemberID.Code)
	}
}

// validateMember checks a request's member id, instance id and generation
// against the group, as Kafka does for Heartbeat, SyncGroup and member
// commits.
func (g *group) validateMember(memberID string, instanceID *string, generation int32) (*member, int16) {
	if code := g.checkInstance(instanceID, memberID); code != 0 {
		return nil, code
	}
	m := g.members[memberID]
	if m == nil {
		return nil, kerr.UnknownMemberID.Code
	}
	if generation != g.generation {
		return nil, kerr.IllegalGeneration.Code
	}
	return m, 0
}

// markSynced records that m synced in this generation; once all have, the
// pending-sync deadline is off.
func (g *group) markSynced(m *member) {
	m.synced = true
	for _, o := range g.members {
		if !o.synced {
			return
		}
	}
	g.syncDeadline = time.Time{}
}

// completeSync takes the leader's assignment: Stable, metadata written,
// parked syncs answered after it.
func (g *group) completeSync(assignments []kmsg.SyncGroupRequestGroupAssignment) {
	for _, m := range g.members {
		m.assignment = nil
	}
	for _, a := range assignments {
		if m := g.members[a.MemberID]; m != nil {
			m.assignment = cloneBytes(a.MemberAssignment)
		}
	}
	g.setState(Stable)
	g.writeMetadata()
	for _, m := range g.sortedMembers() {
		if m.sync != nil {
			g.answerSync(m, 0)
		}
	}
}
