package group

// ListGroups (key 16), v0–v5.
//
// Lists this coordinator's groups by name. v4+ filter by state (names
// matched without regard to case, KIP-518), v5+ by type (KIP-848): every
// group here is "classic".

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupType is what ListGroups v5+ reports for every group here.
const groupType = "classic"

func (c *Coordinator) listGroups(req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	states := map[State]bool{}
	for _, s := range req.StatesFilter {
		if st, ok := parseState(s); ok {
			states[st] = true
		}
	}
	typeOK := len(req.TypesFilter) == 0
	for _, t := range req.TypesFilter {
		typeOK = typeOK || strings.EqualFold(t, groupType)
	}
	for _, name := range c.sortedGroupNames() {
		g := c.groups[name]
		if !typeOK || (len(req.StatesFilter) > 0 && !states[g.state]) {
			continue
		}
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = name, g.protocolType, g.state.String(), groupType
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}
