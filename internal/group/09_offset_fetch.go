package group

// OffsetFetch (key 9), v0–v9 (v10 names topics by id: not served).
//
// v0–v7 fetch one group, v8+ many (KIP-709). Null topics (v2+) mean every
// committed offset of the group. A partition without a commit, or a group
// that does not exist, reads offset -1, leader epoch -1, metadata "" and no
// error, as in Kafka. RequireStable (v7+) is ignored: this coordinator
// holds no pending transactional offsets. The member id and epoch of v9
// belong to the new consumer protocol and are ignored.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/model"
)

const offsetFetchMaxVersion = 9

// fetchTopic names a topic and partitions to read.
type fetchTopic struct {
	topic string
	parts []int32
}

func (c *Coordinator) offsetFetch(req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version < 8 {
		var ts []fetchTopic
		for _, t := range req.Topics {
			ts = append(ts, fetchTopic{t.Topic, t.Partitions})
		}
		for _, gt := range c.fetchOffsets(req.Group, ts, req.Topics == nil) {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = gt.Topic
			for _, p := range gt.Partitions {
				rt.Partitions = append(rt.Partitions, kmsg.OffsetFetchResponseTopicPartition(p))
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	for _, rg := range req.Groups {
		var ts []fetchTopic
		for _, t := range rg.Topics {
			ts = append(ts, fetchTopic{t.Topic, t.Partitions})
		}
		g := kmsg.NewOffsetFetchResponseGroup()
		g.Group = rg.Group
		g.Topics = c.fetchOffsets(rg.Group, ts, rg.Topics == nil)
		resp.Groups = append(resp.Groups, g)
	}
	return resp
}

// fetchOffsets reads the named partitions, or with all every committed
// one sorted by topic and partition, in the v8+ shape (older versions
// convert: the partition structs are identical).
func (c *Coordinator) fetchOffsets(name string, topics []fetchTopic, all bool) []kmsg.OffsetFetchResponseGroupTopic {
	g := c.groups[name]
	var out []kmsg.OffsetFetchResponseGroupTopic
	add := func(topic string, p int32, o committed) {
		if len(out) == 0 || out[len(out)-1].Topic != topic {
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = topic
			out = append(out, rt)
		}
		rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = p, int64(o.offset), o.leaderEpoch
		rp.Metadata = kmsg.StringPtr(o.metadata)
		last := &out[len(out)-1]
		last.Partitions = append(last.Partitions, rp)
	}
	if all {
		if g != nil {
			for _, tp := range g.sortedOffsets() {
				add(tp.topic, int32(tp.partition), g.offsets[tp])
			}
		}
		return out
	}
	for _, t := range topics {
		if len(t.parts) == 0 { // a topic with no partitions still answers
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = t.topic
			out = append(out, rt)
		}
		for _, p := range t.parts {
			o, ok := committed{}, false
			if g != nil {
				o, ok = g.offsets[topicPartition{t.topic, model.PartitionID(p)}]
			}
			if !ok {
				o = committed{offset: -1, leaderEpoch: -1}
			}
			add(t.topic, p, o)
		}
	}
	return out
}
