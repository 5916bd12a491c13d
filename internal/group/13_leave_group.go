package group

// LeaveGroup (key 13), v0–v5.
//
// v0–v2 name one member id; v3+ carry a batch of (member id, group
// instance id), each answered on its own (KIP-345), and a static member
// may be named by instance id alone. A departure rebalances the group; a
// pending member id (MEMBER_ID_REQUIRED) is simply forgotten. An unknown
// group answers UNKNOWN_MEMBER_ID per member, as Kafka does.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (c *Coordinator) leaveGroup(req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	leaving := req.Members
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	g := c.groups[req.Group]
	for _, lm := range leaving {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = lm.MemberID, lm.InstanceID
		if g == nil {
			rm.ErrorCode = kerr.UnknownMemberID.Code
		} else {
			rm.ErrorCode = g.leave(lm.MemberID, lm.InstanceID)
		}
		resp.Members = append(resp.Members, rm)
	}
	if req.Version < 3 {
		resp.ErrorCode = resp.Members[0].ErrorCode
		resp.Members = nil
	}
	return resp
}

// leave removes one member; a static member named without a member id is
// found by its instance id.
func (g *group) leave(memberID string, instanceID *string) int16 {
	if instanceID != nil {
		known, ok := g.static[*instanceID]
		switch {
		case !ok:
			return kerr.UnknownMemberID.Code
		case memberID != "" && memberID != known:
			return kerr.FencedInstanceID.Code
		}
		memberID = known
	}
	if _, ok := g.pending[memberID]; ok {
		delete(g.pending, memberID)
		g.c.dropIfUnused(g)
		return 0
	}
	m := g.members[memberID]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	g.memberGone(m)
	return 0
}
