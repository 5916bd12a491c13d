package group

// JoinGroup (key 11), v0–v9.
//
// A member joins with an empty member id and gets one built by the
// coordinator (client id or group instance id, "-", a random UUID). From v4
// a dynamic member is answered MEMBER_ID_REQUIRED with that id and must
// join again with it (KIP-394); a static member (group instance id, v5+)
// joins at once, and a static member joining again under a known instance
// id replaces the old member id, whose parked requests get
// FENCED_INSTANCE_ID (KIP-345). A join parks until the rebalance completes:
// when every member has rejoined, or the rebalance timeout (the largest
// any member gave) passes and the others are removed; the first rebalance
// of an empty group also waits InitialRebalanceDelay for more members.

import (
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// joinArgs is a validated JoinGroup.
type joinArgs struct {
	w                waiter
	client           Client
	req              *kmsg.JoinGroupRequest
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
}

func (c *Coordinator) joinGroup(w waiter, client Client, req *kmsg.JoinGroupRequest) {
	fail := func(code int16) {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.Version = w.version
		resp.ErrorCode = code
		resp.MemberID = req.MemberID
		c.answer(w.id, resp)
	}
	a := joinArgs{w: w, client: client, req: req,
		sessionTimeout:   time.Duration(req.SessionTimeoutMillis) * time.Millisecond,
		rebalanceTimeout: time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond}
	if req.Version == 0 || a.rebalanceTimeout <= 0 {
		a.rebalanceTimeout = a.sessionTimeout // v0 has none: Kafka uses the session timeout
	}
	size := 0
	for _, p := range req.Protocols {
		size += len(p.Name) + len(p.Metadata)
	}
	switch {
	case req.Group == "":
		fail(kerr.InvalidGroupID.Code)
		return
	case a.sessionTimeout < c.cfg.MinSessionTimeout || a.sessionTimeout > c.cfg.MaxSessionTimeout:
		fail(kerr.InvalidSessionTimeout.Code)
		return
	case size > c.cfg.MaxProtocolMetadataBytes:
		fail(kerr.InvalidRequest.Code)
		return
	}
	g, ok, full := c.lookupOrCreate(req.Group, req.MemberID == "")
	switch {
	case full:
		fail(kerr.CoordinatorNotAvailable.Code)
		return
	case !ok:
		fail(kerr.UnknownMemberID.Code)
		return
	case !g.supportsProtocols(req.MemberID, req.ProtocolType, req.Protocols):
		fail(kerr.InconsistentGroupProtocol.Code)
		c.dropIfUnused(g)
		return
	}
	if req.MemberID == "" {
		if code := g.joinNew(a); code != 0 {
			fail(code)
			c.dropIfUnused(g)
		}
		return
	}
	if code := g.joinKnown(a); code != 0 {
		fail(code)
	}
}

// joinNew handles a join without a member id; a non-zero code is an error
// to answer.
func (g *group) joinNew(a joinArgs) int16 {
	req := a.req
	if req.InstanceID != nil {
		if old, ok := g.static[*req.InstanceID]; ok && g.members[old] != nil {
			g.replaceStatic(a, g.members[old])
			return 0
		}
	}
	if len(g.members)+len(g.pending) >= g.c.cfg.MaxGroupSize {
		return kerr.GroupMaxSizeReached.Code
	}
	if req.InstanceID != nil {
		id := g.c.newMemberID(*req.InstanceID)
		g.addMember(id, a)
		return 0
	}
	id := g.c.newMemberID(a.client.ID)
	if req.Version >= 4 {
		g.pending[id] = g.c.now.Add(a.sessionTimeout)
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.Version = a.w.version
		resp.ErrorCode = kerr.MemberIDRequired.Code
		resp.MemberID = id
		g.c.answer(a.w.id, resp)
		return 0
	}
	g.addMember(id, a)
	return 0
}

// joinKnown handles a join from a member (or pending member) id.
func (g *group) joinKnown(a joinArgs) int16 {
	req := a.req
	if code := g.checkInstance(req.InstanceID, req.MemberID); code != 0 {
		return code
	}
	if _, ok := g.pending[req.MemberID]; ok {
		delete(g.pending, req.MemberID)
		g.addMember(req.MemberID, a)
		return 0
	}
	m := g.members[req.MemberID]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	switch g.state {
	case PreparingRebalance:
		g.updateMember(m, a)
		g.tryCompleteJoin()
	case CompletingRebalance, Stable:
		if m.sameProtocols(req.Protocols) && (g.state == CompletingRebalance || m.id != g.leader) {
			g.touch(m)
			g.c.answer(a.w.id, g.joinResponse(a.w.version, m.id))
			return 0
		}
		g.updateMember(m, a)
		g.prepareRebalance()
	default:
		return kerr.UnknownMemberID.Code
	}
	return 0
}

// addMember adds a new member with its join parked.
func (g *group) addMember(id string, a joinArgs) {
	g.c.joinSeq++
	m := &member{id: id, seq: g.c.joinSeq, clientID: strings.Clone(a.client.ID), clientHost: strings.Clone(a.client.Host)}
	if a.req.InstanceID != nil {
		m.instanceID = cloneStringPtr(a.req.InstanceID)
		g.static[*m.instanceID] = id
	}
	g.members[id] = m
	g.updateMember(m, a)
	if len(g.members) == 1 {
		g.protocolType = strings.Clone(a.req.ProtocolType)
	}
	g.memberJoined()
}

// updateMember takes the protocols and timeouts of a new join and parks it.
func (g *group) updateMember(m *member, a joinArgs) {
	m.protocols = m.protocols[:0]
	for _, p := range a.req.Protocols {
		m.protocols = append(m.protocols, protocol{name: strings.Clone(p.Name), metadata: cloneBytes(p.Metadata)})
	}
	m.sessionTimeout, m.rebalanceTimeout = a.sessionTimeout, a.rebalanceTimeout
	if m.join != nil { // a retried join replaces the parked one
		g.answerJoinError(m, kerr.RebalanceInProgress.Code)
	}
	m.join = &waiter{id: a.w.id, version: a.w.version}
}

// replaceStatic gives a static member a new member id (KIP-345): the old
// id is fenced, the assignment kept, and a Stable group whose protocols do
// not change skips the rebalance.
func (g *group) replaceStatic(a joinArgs, old *member) {
	if old.join != nil {
		g.answerJoinError(old, kerr.FencedInstanceID.Code)
	}
	if old.sync != nil {
		g.answerSync(old, kerr.FencedInstanceID.Code)
	}
	unchanged := old.sameProtocols(a.req.Protocols)
	m := &member{
		id: g.c.newMemberID(*a.req.InstanceID), instanceID: old.instanceID, seq: old.seq,
		clientID: strings.Clone(a.client.ID), clientHost: strings.Clone(a.client.Host),
		assignment: old.assignment, synced: old.synced,
	}
	delete(g.members, old.id)
	g.members[m.id] = m
	g.static[*m.instanceID] = m.id
	if g.leader == old.id {
		g.leader = m.id
	}
	g.updateMember(m, a)
	switch g.state {
	case Stable:
		if unchanged {
			m.join = nil
			g.touch(m)
			g.writeMetadata()
			resp := g.joinResponse(a.w.version, m.id)
			resp.SkipAssignment = m.id == g.leader
			g.c.answer(a.w.id, resp)
			return
		}
		g.prepareRebalance()
	case CompletingRebalance:
		g.prepareRebalance()
	default:
		g.tryCompleteJoin()
	}
}

func cloneStringPtr(s *string) *string {
	if s == nil {
		return nil
	}
	c := strings.Clone(*s)
	return &c
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
