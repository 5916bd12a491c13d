package kafka

// DescribeConfigs (key 32): v0–v4.
//
// Behaviour:
//   - TOPIC resources: every declared topic config (cluster's declaration
//     table) with its value and source: DYNAMIC_TOPIC_CONFIG for the
//     topic's own, STATIC_BROKER_CONFIG for a node-level default,
//     DEFAULT_CONFIG otherwise. An unknown topic is
//     UNKNOWN_TOPIC_OR_PARTITION.
//   - BROKER resources named by this node's id, or "" (the broker asked),
//     describe the node's settings and the broker-level names of the topic
//     defaults, all read-only. Another id is INVALID_REQUEST (as Kafka,
//     when a broker is asked about another); BROKER_LOGGER and unknown
//     types are INVALID_REQUEST too.
//   - ConfigNames filters; a name not declared is left out, as Kafka does.
//   - v0 answers IsDefault; v1+ the source and, with IncludeSynonyms, the
//     synonyms in precedence order; v3+ the config type and, with
//     IncludeDocumentation, its documentation. No config is sensitive.

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
)

func describeConfigsAPI(b Broker) API {
	return API{
		Key: 32, MinVersion: 0, MaxVersion: 4,
		Handle: func(_ context.Context, r *Request) (kmsg.Response, error) {
			return describeConfigs(b, r.Msg.(*kmsg.DescribeConfigsRequest)), nil
		},
	}
}

func describeConfigs(b Broker, req *kmsg.DescribeConfigsRequest) *kmsg.DescribeConfigsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	tables := b.Tables()
	for _, res := range req.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		entries, err := configsOf(b, tables, res.ResourceType, res.ResourceName)
		if err != nil {
			rr.ErrorCode, rr.ErrorMessage = partitionErrorCode(err), errMsg(err)
			resp.Resources = append(resp.Resources, rr)
			continue
		}
		for i := range entries {
			e := &entries[i]
			if res.ConfigNames != nil && !slices.Contains(res.ConfigNames, e.Name) {
				continue
			}
			rr.Configs = append(rr.Configs, describedConfig(e, req))
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

// configsOf describes one resource, or says why it cannot.
func configsOf(b Broker, tables *cluster.Tables, typ kmsg.ConfigResourceType, name string) ([]cluster.ConfigEntry, error) {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		tp, ok := tables.TopicByName(name)
		if !ok {
			return nil, fmt.Errorf("%w: topic %q", cluster.ErrUnknownTopic, name)
		}
		return tables.DescribeConfigs(tp), nil
	case kmsg.ConfigResourceTypeBroker:
		if err := checkBrokerResource(b, name); err != nil {
			return nil, err
		}
		d := b.Defaults()
		info := cluster.BrokerInfo{
			NodeID: b.NodeID(), DefaultPartitions: d.Partitions, DefaultReplicationFactor: d.ReplicationFactor,
			AutoCreateTopics: b.AutoCreateTopics(), TopicDefaults: tables.TopicDefaults(),
		}
		if br, ok := tables.Broker(model.NodeID(b.NodeID())); ok {
			info.Rack = br.Rack
		}
		return cluster.DescribeBrokerConfigs(info), nil
	}
	return nil, fmt.Errorf("%w: resource type %v not supported", cluster.ErrInvalidRequest, typ)
}

// checkBrokerResource accepts a BROKER resource naming this node, or "".
func checkBrokerResource(b Broker, name string) error {
	if name == "" {
		return nil
	}
	if id, err := strconv.ParseInt(name, 10, 32); err != nil || int32(id) != b.NodeID() {
		return fmt.Errorf("%w: broker %q is not this broker (%d)", cluster.ErrInvalidRequest, name, b.NodeID())
	}
	return nil
}

func describedConfig(e *cluster.ConfigEntry, req *kmsg.DescribeConfigsRequest) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name = e.Name
	v := e.Value
	c.Value = &v
	c.ReadOnly, c.IsSensitive = e.ReadOnly, e.Sensitive
	c.IsDefault = e.IsDefault
	c.Source = e.Source
	c.ConfigType = e.Type
	if req.IncludeSynonyms {
		for _, s := range e.Synonyms {
			cs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			sv := s.Value
			cs.Name, cs.Value, cs.Source = s.Name, &sv, s.Source
			c.ConfigSynonyms = append(c.ConfigSynonyms, cs)
		}
	}
	if req.IncludeDocumentation {
		doc := e.Doc
		c.Documentation = &doc
	}
	return c
}
