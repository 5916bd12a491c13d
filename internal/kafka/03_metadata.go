package kafka

// Metadata (key 3): v0–v13.
//
// Behaviour:
//   - Brokers: this node (its advertised address); controller: this node.
//   - Topics: all of them for a null list (v1+; v0's empty list means all),
//     or those named (by name, or by id from v10). An unknown topic is
//     UNKNOWN_TOPIC_OR_PARTITION (UNKNOWN_TOPIC_ID by id), or is created
//     when the node auto-creates topics and the request allows it (v4+).
//     A name that is not a legal topic name is INVALID_TOPIC_EXCEPTION.
//   - A partition whose replica is not serving yet reports
//     LEADER_NOT_AVAILABLE; otherwise its leader epoch is the Raft term.
//   - Internal topics (__consumer_offsets) are listed with IsInternal.
//   - v13 (KIP-1102) only adds a top-level error code; no rebootstrap.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
)

func metadataAPI(b Broker) API {
	return API{
		Key: 3, MinVersion: 0, MaxVersion: 13,
		Handle: func(ctx context.Context, r *Request) (kmsg.Response, error) {
			return metadata(ctx, b, r.Msg.(*kmsg.MetadataRequest)), nil
		},
	}
}

func metadata(ctx context.Context, b Broker, req *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	host, port := b.Advertised()
	br := kmsg.NewMetadataResponseBroker()
	br.NodeID, br.Host, br.Port = b.NodeID(), host, port
	resp.Brokers = append(resp.Brokers, br)
	id := b.ClusterID()
	resp.ClusterID = &id
	resp.ControllerID = b.NodeID()
	tables := b.Tables()
	all := req.Topics == nil || req.Version == 0 && len(req.Topics) == 0
	if all {
		for _, tp := range tables.Topics() {
			resp.Topics = append(resp.Topics, metadataTopic(b, tp))
		}
		return resp
	}
	for _, t := range req.Topics {
		var tp *cluster.Topic
		var ok bool
		name := ""
		if t.Topic != nil {
			name = *t.Topic
		}
		if t.TopicID != ([16]byte{}) {
			tp, ok = tables.TopicByID(model.TopicID(t.TopicID))
		} else {
			tp, ok = tables.TopicByName(name)
			if !ok && b.AutoCreateTopics() && (req.Version < 4 || req.AllowAutoTopicCreation) {
				tp, ok = autoCreate(ctx, b, name)
			}
		}
		if ok {
			resp.Topics = append(resp.Topics, metadataTopic(b, tp))
			continue
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.TopicID = t.TopicID
		switch {
		case t.TopicID != ([16]byte{}):
			mt.ErrorCode = kerr.UnknownTopicID.Code
		case cluster.CheckTopicName(name) != nil:
			mt.Topic = &name
			mt.ErrorCode = kerr.InvalidTopicException.Code
		default:
			mt.Topic = &name
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		}
		resp.Topics = append(resp.Topics, mt)
	}
	return resp
}

func metadataTopic(b Broker, tp *cluster.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := tp.Name
	mt.Topic, mt.TopicID, mt.IsInternal = &name, tp.ID, tp.Internal
	mt.Partitions = make([]kmsg.MetadataResponseTopicPartition, len(tp.Partitions))
	for i, p := range tp.Partitions {
		mp := &mt.Partitions[i]
		mp.Default()
		mp.Partition = int32(p.ID)
		mp.Leader = int32(p.Leader)
		for _, rep := range p.Replicas {
			mp.Replicas = append(mp.Replicas, int32(rep))
			mp.ISR = append(mp.ISR, int32(rep))
		}
		rs := b.ReadState(model.PartitionKey{Topic: tp.ID, Partition: p.ID})
		if rs == nil || !rs.Leader {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
			mp.Leader = -1
			continue
		}
		mp.LeaderEpoch = rs.LeaderEpoch
	}
	return mt
}
