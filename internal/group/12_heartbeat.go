package group

// Heartbeat (key 12), v0–v4.
//
// A heartbeat restarts the member's session. It answers
// REBALANCE_IN_PROGRESS while the group prepares a rebalance (the member
// must rejoin), and ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID /
// FENCED_INSTANCE_ID when the member is stale.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (c *Coordinator) heartbeat(req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	g := c.groups[req.Group]
	if g == nil {
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return resp
	}
	m, code := g.validateMember(req.MemberID, req.InstanceID, req.Generation)
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	switch g.state {
	case PreparingRebalance:
		resp.ErrorCode = kerr.RebalanceInProgress.Code
		g.touch(m)
	case CompletingRebalance, Stable:
		g.touch(m)
	default:
		resp.ErrorCode = kerr.UnknownMemberID.Code
	}
	return resp
}
