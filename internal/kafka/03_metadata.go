package kafka

// Metadata (key 3): v0–v13.
//
// Behaviour:
//   - Brokers: every registered broker at its registered Kafka address
//     and rack, this node at its advertised address (leaders.go); the
//     controller is the controller group's leader as this node knows it
//     (-1 while unknown).
//   - Topics: all of them for a null list (v1+; v0's empty list means all),
//     or those named (by name, or by id from v10). An unknown topic is
//     UNKNOWN_TOPIC_OR_PARTITION (UNKNOWN_TOPIC_ID by id), or is created
//     when the node auto-creates topics and the request allows it (v4+).
//     A name that is not a legal topic name is INVALID_TOPIC_EXCEPTION.
//   - Each partition: replicas from the tables (preferred leader first);
//     leader, leader epoch (the Raft term) and in-sync replicas from
//     Broker.Leadership (the replicas when it knows no ISR); no offline
//     replicas. A partition without a known leader, or led by a broker
//     this node cannot list, reports leader -1 and LEADER_NOT_AVAILABLE.
//   - Internal topics (__consumer_offsets) are listed with IsInternal.
//   - v13 (KIP-1102) only adds a top-level error code; no rebootstrap.

import (
	"context"
	"slices"

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
	tables := b.Tables()
	id := b.ClusterID()
	resp.ClusterID = &id
	resp.ControllerID = int32(b.ControllerID())
	tables = metadataTopics(ctx, b, tables, req, resp)
	named := []model.NodeID{model.NodeID(resp.ControllerID)}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.Leader >= 0 && !slices.Contains(named, model.NodeID(p.Leader)) {
				named = append(named, model.NodeID(p.Leader))
			}
		}
	}
	for _, e := range brokerEndpoints(b, tables, named...) {
		br := kmsg.NewMetadataResponseBroker()
		br.NodeID, br.Host, br.Port, br.Rack = e.id, e.host, e.port, e.rack
		resp.Brokers = append(resp.Brokers, br)
	}
	return resp
}

// metadataTopics fills the response's topics (auto-creating those the
// request may) and returns the tables it read last.
func metadataTopics(ctx context.Context, b Broker, tables *cluster.Tables, req *kmsg.MetadataRequest, resp *kmsg.MetadataResponse) *cluster.Tables {
	all := req.Topics == nil || req.Version == 0 && len(req.Topics) == 0
	if all {
		for _, tp := range tables.Topics() {
			resp.Topics = append(resp.Topics, metadataTopic(b, tables, tp))
		}
		return tables
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
				tables = b.Tables()
			}
		}
		if ok {
			resp.Topics = append(resp.Topics, metadataTopic(b, tables, tp))
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
	return tables
}

func metadataTopic(b Broker, tables *cluster.Tables, tp *cluster.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := tp.Name
	mt.Topic, mt.TopicID, mt.IsInternal = &name, tp.ID, tp.Internal
	mt.Partitions = make([]kmsg.MetadataResponseTopicPartition, len(tp.Partitions))
	for i, p := range tp.Partitions {
		mp := &mt.Partitions[i]
		mp.Default()
		mp.Partition = int32(p.ID)
		// During a move, Kafka lists current and target replicas.
		mp.Replicas = nodeIDs(p.Replicas)
		for _, id := range p.Target {
			if !slices.Contains(p.Replicas, id) {
				mp.Replicas = append(mp.Replicas, int32(id))
			}
		}
		mp.OfflineReplicas = []int32{}
		l := b.Leadership(model.PartitionKey{Topic: tp.ID, Partition: p.ID})
		mp.LeaderEpoch = l.Epoch
		mp.ISR = mp.Replicas
		if len(l.ISR) > 0 {
			mp.ISR = nodeIDs(l.ISR)
		}
		mp.Leader = int32(l.Leader)
		if _, listed := brokerEndpoint(b, tables, l.Leader); l.Leader < 0 || !listed {
			mp.Leader = -1
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
	}
	return mt
}

func nodeIDs(ids []model.NodeID) []int32 {
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}
