package group

// OffsetCommit (key 8), v0–v9 (v10 names topics by id: not served).
//
// A member commits with its member id and generation; a simple consumer or
// an admin commits with generation -1 and no member id, accepted only
// while the group is Empty (and creating the group if it does not exist).
// Each partition's commit is one OffsetCommitValue record; the response
// comes out once the records are durable. A metadata string longer than
// MaxOffsetMetadataBytes fails that partition alone
// (OFFSET_METADATA_TOO_LARGE). Retention times (v2–v4) are ignored:
// offsets retention is not implemented yet.

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/model"
)

const offsetCommitMaxVersion = 9

func (c *Coordinator) offsetCommit(req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	g, ok, full := c.lookupOrCreate(req.Group, req.Generation < 0)
	var code int16
	var m *member
	switch {
	case full:
		code = kerr.CoordinatorNotAvailable.Code
	case !ok:
		code = kerr.IllegalGeneration.Code
	default:
		m, code = g.validateCommit(req)
	}
	if code != 0 {
		fillCommit(resp, req, code)
		if g != nil {
			c.dropIfUnused(g)
		}
		return resp
	}
	commitMs := c.now.UnixMilli()
	fillCommit(resp, req, 0)
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			md := ""
			if p.Metadata != nil {
				md = *p.Metadata
			}
			if len(md) > c.cfg.MaxOffsetMetadataBytes {
				resp.Topics[i].Partitions[j].ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			epoch := p.LeaderEpoch
			if req.Version < 6 {
				epoch = -1
			}
			tp := topicPartition{topic: strings.Clone(t.Topic), partition: model.PartitionID(p.Partition)}
			o := committed{offset: model.Offset(p.Offset), leaderEpoch: epoch, metadata: strings.Clone(md), commitMs: commitMs}
			g.offsets[tp] = o
			g.writeOffset(tp, o, false)
		}
	}
	if m != nil {
		g.touch(m)
	}
	c.dropIfUnused(g) // every partition refused: a group created for nothing
	return resp
}

// validateCommit applies Kafka's rules for who may commit now.
func (g *group) validateCommit(req *kmsg.OffsetCommitRequest) (*member, int16) {
	var m *member
	if req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil {
		var code int16
		if m, code = g.validateMember(req.MemberID, req.InstanceID, req.Generation); code != 0 {
			return nil, code
		}
	} else if g.state != Empty {
		return nil, kerr.UnknownMemberID.Code
	}
	if g.state == CompletingRebalance {
		return nil, kerr.RebalanceInProgress.Code
	}
	return m, 0
}

// fillCommit answers every partition of req with code.
func fillCommit(resp *kmsg.OffsetCommitResponse, req *kmsg.OffsetCommitRequest, code int16) {
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
}
