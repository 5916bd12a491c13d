package group

// DescribeGroups (key 15), v0–v6.
//
// Members are listed in join order; their protocol metadata and assignment
// only while the group is Stable, as in Kafka. A group that does not exist
// reads as Dead (v0–v5) or GROUP_ID_NOT_FOUND (v6+, KIP-1043).
// AuthorizedOperations is left unset: ACLs are the broker's business.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (c *Coordinator) describeGroups(req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, name := range req.Groups {
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group = name
		g := c.groups[name]
		if g == nil {
			rg.State = Dead.String()
			if req.Version >= 6 {
				rg.ErrorCode = kerr.GroupIDNotFound.Code
				rg.ErrorMessage = kmsg.StringPtr("group " + name + " not found")
			}
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		rg.State = g.state.String()
		rg.ProtocolType = g.protocolType
		stable := g.state == Stable
		if stable {
			rg.Protocol = g.protocol
		}
		for _, m := range g.sortedMembers() {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID, rm.InstanceID = m.id, m.instanceID
			rm.ClientID, rm.ClientHost = m.clientID, m.clientHost
			if stable {
				rm.ProtocolMetadata = m.metadataFor(g.protocol)
				rm.MemberAssignment = m.assignment
			}
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}
