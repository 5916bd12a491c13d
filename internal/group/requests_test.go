package group

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// parts parses "t/0:5,t/1" into topics and partitions with optional
// offsets, keeping the order topics first appear in.
type partArg struct {
	topic     string
	partition int32
	offset    int64
}

func parseParts(t testing.TB, s []string) []partArg {
	var out []partArg
	for _, p := range s {
		var pa partArg
		tp, off, hasOff := strings.Cut(p, ":")
		topic, part, ok := strings.Cut(tp, "/")
		if !ok {
			t.Fatalf("part %q: want topic/partition[:offset]", p)
		}
		pa.topic = topic
		if _, err := fmt.Sscan(part, &pa.partition); err != nil {
			t.Fatalf("part %q: %v", p, err)
		}
		if hasOff {
			if _, err := fmt.Sscan(off, &pa.offset); err != nil {
				t.Fatalf("part %q: %v", p, err)
			}
		}
		out = append(out, pa)
	}
	return out
}

// byTopic groups parts by topic in first-seen order.
func byTopic(ps []partArg) [][]partArg {
	var out [][]partArg
	for _, p := range ps {
		i := len(out) - 1
		for ; i >= 0 && out[i][0].topic != p.topic; i-- {
		}
		if i < 0 {
			out = append(out, nil)
			i = len(out) - 1
		}
		out[i] = append(out[i], p)
	}
	return out
}

func consumerMeta(topics []string) []byte {
	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = topics
	return md.AppendTo(nil)
}

// request builds the request a transcript command names.
func (h *harness) request(t *testing.T, cmd string, a args) kmsg.Request {
	switch cmd {
	case "join":
		r := kmsg.NewPtrJoinGroupRequest()
		r.Group = a.str("g", "g")
		r.MemberID = a.str("member", "")
		r.InstanceID = a.strPtr("instance")
		r.SessionTimeoutMillis = int32(a.int(t, "session", 10000))
		r.RebalanceTimeoutMillis = int32(a.int(t, "rebalance", 30000))
		r.ProtocolType = a.str("type", "consumer")
		meta := consumerMeta(a.list("topics"))
		for _, p := range a.list("protos") {
			r.Protocols = append(r.Protocols, kmsg.JoinGroupRequestProtocol{Name: p, Metadata: meta})
		}
		if _, ok := a["protos"]; !ok {
			r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta}}
		}
		return r
	case "sync":
		r := kmsg.NewPtrSyncGroupRequest()
		r.Group = a.str("g", "g")
		r.MemberID = a.str("member", "")
		r.InstanceID = a.strPtr("instance")
		r.Generation = int32(a.int(t, "gen", 0))
		r.ProtocolType = a.strPtr("type")
		r.Protocol = a.strPtr("proto")
		for _, as := range a.list("assign") {
			id, v, _ := strings.Cut(as, "=")
			r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: []byte(v)})
		}
		return r
	case "hb":
		r := kmsg.NewPtrHeartbeatRequest()
		r.Group = a.str("g", "g")
		r.MemberID = a.str("member", "")
		r.InstanceID = a.strPtr("instance")
		r.Generation = int32(a.int(t, "gen", 0))
		return r
	case "leave":
		r := kmsg.NewPtrLeaveGroupRequest()
		r.Group = a.str("g", "g")
		r.MemberID = a.str("member", "")
		for _, m := range a.list("members") { // member[/instance]
			id, inst, hasInst := strings.Cut(m, "/")
			lm := kmsg.NewLeaveGroupRequestMember()
			lm.MemberID = id
			if hasInst {
				lm.InstanceID = &inst
			}
			r.Members = append(r.Members, lm)
		}
		return r
	case "commit":
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Group = a.str("g", "g")
		r.MemberID = a.str("member", "")
		r.InstanceID = a.strPtr("instance")
		r.Generation = int32(a.int(t, "gen", -1))
		md := a.strPtr("md")
		for _, ps := range byTopic(parseParts(t, a.list("parts"))) {
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = ps[0].topic
			for _, p := range ps {
				rp := kmsg.NewOffsetCommitRequestTopicPartition()
				rp.Partition, rp.Offset, rp.Metadata = p.partition, p.offset, md
				rp.LeaderEpoch = int32(a.int(t, "epoch", -1))
				rt.Partitions = append(rt.Partitions, rp)
			}
			r.Topics = append(r.Topics, rt)
		}
		return r
	case "fetch":
		r := kmsg.NewPtrOffsetFetchRequest()
		groups := a.list("g")
		if len(groups) == 0 {
			groups = []string{"g"}
		}
		_, some := a["parts"]
		parts := byTopic(parseParts(t, a.list("parts")))
		if a.int(t, "v", offsetFetchMaxVersion) < 8 {
			r.Group = groups[0]
			for _, ps := range parts {
				rt := kmsg.NewOffsetFetchRequestTopic()
				rt.Topic = ps[0].topic
				for _, p := range ps {
					rt.Partitions = append(rt.Partitions, p.partition)
				}
				r.Topics = append(r.Topics, rt)
			}
			if some && r.Topics == nil {
				r.Topics = []kmsg.OffsetFetchRequestTopic{}
			}
			return r
		}
		for _, g := range groups {
			rg := kmsg.NewOffsetFetchRequestGroup()
			rg.Group = g
			for _, ps := range parts {
				rt := kmsg.NewOffsetFetchRequestGroupTopic()
				rt.Topic = ps[0].topic
				for _, p := range ps {
					rt.Partitions = append(rt.Partitions, p.partition)
				}
				rg.Topics = append(rg.Topics, rt)
			}
			r.Groups = append(r.Groups, rg)
		}
		return r
	case "describe":
		r := kmsg.NewPtrDescribeGroupsRequest()
		r.Groups = a.list("g")
		return r
	case "list":
		r := kmsg.NewPtrListGroupsRequest()
		r.StatesFilter = a.list("states")
		r.TypesFilter = a.list("types")
		return r
	case "delete":
		r := kmsg.NewPtrDeleteGroupsRequest()
		r.Groups = a.list("g")
		return r
	case "offdel":
		r := kmsg.NewPtrOffsetDeleteRequest()
		r.Group = a.str("g", "g")
		for _, ps := range byTopic(parseParts(t, a.list("parts"))) {
			rt := kmsg.NewOffsetDeleteRequestTopic()
			rt.Topic = ps[0].topic
			for _, p := range ps {
				rt.Partitions = append(rt.Partitions, kmsg.OffsetDeleteRequestTopicPartition{Partition: p.partition})
			}
			r.Topics = append(r.Topics, rt)
		}
		return r
	}
	t.Fatalf("unknown command %q", cmd)
	return nil
}

// fmtResponse renders a response on one line (the leader's member list,
// describe members and fetched topics on further indented lines).
func fmtResponse(resp kmsg.Response) string {
	var b strings.Builder
	switch r := resp.(type) {
	case *kmsg.JoinGroupResponse:
		fmt.Fprintf(&b, "JoinGroup v%d %s", r.Version, errName(r.ErrorCode))
		if r.ErrorCode == 0 {
			fmt.Fprintf(&b, " gen=%d proto=%s leader=%s", r.Generation, deref(r.Protocol), r.LeaderID)
		}
		fmt.Fprintf(&b, " member=%s", r.MemberID)
		if r.SkipAssignment {
			b.WriteString(" skip-assignment")
		}
		for _, m := range r.Members {
			fmt.Fprintf(&b, "\n    %s inst=%s meta=%s", m.MemberID, deref(m.InstanceID), fmtMeta(m.ProtocolMetadata))
		}
	case *kmsg.SyncGroupResponse:
		fmt.Fprintf(&b, "SyncGroup %s", errName(r.ErrorCode))
		if r.ErrorCode == 0 {
			fmt.Fprintf(&b, " proto=%s assignment=%q", deref(r.Protocol), r.MemberAssignment)
		}
	case *kmsg.HeartbeatResponse:
		fmt.Fprintf(&b, "Heartbeat %s", errName(r.ErrorCode))
	case *kmsg.LeaveGroupResponse:
		fmt.Fprintf(&b, "LeaveGroup %s", errName(r.ErrorCode))
		for _, m := range r.Members {
			fmt.Fprintf(&b, " %s/%s:%s", m.MemberID, deref(m.InstanceID), errName(m.ErrorCode))
		}
	case *kmsg.OffsetCommitResponse:
		b.WriteString("OffsetCommit")
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, " %s/%d:%s", t.Topic, p.Partition, errName(p.ErrorCode))
			}
		}
	case *kmsg.OffsetFetchResponse:
		fmt.Fprintf(&b, "OffsetFetch v%d %s", r.Version, errName(r.ErrorCode))
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, "\n    %s/%d = %d epoch=%d md=%q %s", t.Topic, p.Partition, p.Offset, p.LeaderEpoch, deref(p.Metadata), errName(p.ErrorCode))
			}
		}
		for _, g := range r.Groups {
			fmt.Fprintf(&b, "\n  group %s %s", g.Group, errName(g.ErrorCode))
			for _, t := range g.Topics {
				for _, p := range t.Partitions {
					fmt.Fprintf(&b, "\n    %s/%d = %d epoch=%d md=%q %s", t.Topic, p.Partition, p.Offset, p.LeaderEpoch, deref(p.Metadata), errName(p.ErrorCode))
				}
			}
		}
	case *kmsg.DescribeGroupsResponse:
		b.WriteString("DescribeGroups")
		for _, g := range r.Groups {
			fmt.Fprintf(&b, "\n  %s %s state=%s type=%q proto=%q", g.Group, errName(g.ErrorCode), g.State, g.ProtocolType, g.Protocol)
			for _, m := range g.Members {
				fmt.Fprintf(&b, "\n    %s inst=%s client=%s host=%s meta=%s assign=%s", m.MemberID, deref(m.InstanceID), m.ClientID, m.ClientHost, fmtMeta(m.ProtocolMetadata), fmtMeta(m.MemberAssignment))
			}
		}
	case *kmsg.ListGroupsResponse:
		fmt.Fprintf(&b, "ListGroups %s", errName(r.ErrorCode))
		for _, g := range r.Groups {
			fmt.Fprintf(&b, " %s(%s,%s,%s)", g.Group, g.GroupState, g.ProtocolType, g.GroupType)
		}
	case *kmsg.DeleteGroupsResponse:
		b.WriteString("DeleteGroups")
		for _, g := range r.Groups {
			fmt.Fprintf(&b, " %s:%s", g.Group, errName(g.ErrorCode))
		}
	case *kmsg.OffsetDeleteResponse:
		fmt.Fprintf(&b, "OffsetDelete %s", errName(r.ErrorCode))
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, " %s/%d:%s", t.Topic, p.Partition, errName(p.ErrorCode))
			}
		}
	default:
		fmt.Fprintf(&b, "%T", resp)
	}
	return b.String()
}
