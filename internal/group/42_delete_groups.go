package group

// DeleteGroups (key 42), v0–v3.
//
// Deletes groups that have no members: a tombstone for every committed
// offset and one for the group metadata, answered once they are durable.
// A group with members answers NON_EMPTY_GROUP; an unknown one
// GROUP_ID_NOT_FOUND.

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (c *Coordinator) deleteGroups(req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, name := range req.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group = name
		g := c.groups[name]
		switch {
		case g == nil:
			rg.ErrorCode = kerr.GroupIDNotFound.Code
		case g.state != Empty:
			rg.ErrorCode = kerr.NonEmptyGroup.Code
		default:
			for _, tp := range g.sortedOffsets() {
				g.writeOffset(tp, committed{}, true)
			}
			g.writeTombstone()
			c.forget(g)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}

func (g *group) sortedOffsets() []topicPartition {
	tps := make([]topicPartition, 0, len(g.offsets))
	for tp := range g.offsets {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, func(a, b topicPartition) int {
		return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	return tps
}
