package group

// OffsetDelete (key 47), v0 (KIP-496).
//
// Deletes committed offsets of a group: all of the named partitions while
// the group is Empty; for a live "consumer" group only those of topics no
// member subscribes to (the others answer GROUP_SUBSCRIBED_TO_TOPIC); for
// any other live group NON_EMPTY_GROUP. Each deleted offset is a
// tombstone, and the response waits for them.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/model"
)

func (c *Coordinator) offsetDelete(req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	g := c.groups[req.Group]
	switch {
	case req.Group == "":
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	case g == nil:
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		return resp
	case g.state != Empty && g.protocolType != "consumer":
		resp.ErrorCode = kerr.NonEmptyGroup.Code
		return resp
	}
	subscribed := g.subscribedTopics()
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			tp := topicPartition{topic: t.Topic, partition: model.PartitionID(p.Partition)}
			if g.state != Empty && (subscribed == nil || subscribed[t.Topic]) {
				rp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			} else if _, ok := g.offsets[tp]; ok {
				delete(g.offsets, tp)
				g.writeOffset(tp, committed{}, true)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	c.dropIfUnused(g)
	return resp
}

// subscribedTopics decodes the consumer-protocol subscriptions of the
// members; nil when they are not known (no protocol chosen yet, or
// metadata that does not decode), which counts as subscribed to all.
func (g *group) subscribedTopics() map[string]bool {
	if g.protocol == "" {
		return nil
	}
	topics := map[string]bool{}
	for _, m := range g.members {
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			return nil
		}
		for _, t := range md.Topics {
			topics[t] = true
		}
	}
	return topics
}
