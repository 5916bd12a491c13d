package kafka

// AlterConfigs (key 33): v0–v2, the legacy replace-all form.
//
// Behaviour:
//   - TOPIC resources: the topic's configs become exactly the request's
//     non-null entries (a null value, or a config left out, returns to
//     the default), checked against the declaration table, proposed to the
//     controller and answered once applied. Unknown topic:
//     UNKNOWN_TOPIC_OR_PARTITION; a bad key or value: INVALID_CONFIG with
//     the key and value in the message.
//   - BROKER resources (this node's id or ""): Petrel's broker configs are
//     static, so any config is INVALID_REQUEST, as Kafka answers a config
//     it cannot update dynamically; an empty list is accepted.
//   - ValidateOnly checks against the current tables without proposing.
//   - A resource named twice in one request fails every copy with
//     INVALID_REQUEST, as does a config named twice in one resource.

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/cluster"
)

func alterConfigsAPI(b Broker) API {
	return API{
		Key: 33, MinVersion: 0, MaxVersion: 2,
		Handle: func(ctx context.Context, r *Request) (kmsg.Response, error) {
			return alterConfigs(ctx, b, r.Msg.(*kmsg.AlterConfigsRequest)), nil
		},
	}
}

func alterConfigs(ctx context.Context, b Broker, req *kmsg.AlterConfigsRequest) *kmsg.AlterConfigsResponse {
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	type rkey struct {
		t kmsg.ConfigResourceType
		n string
	}
	seen := make(map[rkey]int, len(req.Resources))
	for _, res := range req.Resources {
		seen[rkey{res.ResourceType, res.ResourceName}]++
	}
	for _, res := range req.Resources {
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		names := make([]string, 0, len(res.Configs))
		set := make(map[string]string, len(res.Configs))
		for _, c := range res.Configs {
			names = append(names, c.Name)
			if c.Value != nil {
				set[c.Name] = *c.Value
			}
		}
		var err error
		if seen[rkey{res.ResourceType, res.ResourceName}] > 1 {
			err = fmt.Errorf("%w: resource named more than once in the request", cluster.ErrInvalidRequest)
		} else {
			err = applyAlter(ctx, b, res.ResourceType, res.ResourceName, names, req.ValidateOnly,
				&cluster.AlterConfigs{Name: res.ResourceName, Set: set, Replace: true})
		}
		rr.ErrorCode, rr.ErrorMessage = partitionErrorCode(err), errMsg(err)
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

// errReadOnlyBroker: Petrel has no dynamic broker configs.
var errReadOnlyBroker = errors.New("broker configs are static: set them in the node's configuration and restart")

// applyAlter checks one alter of either key and, unless validateOnly,
// proposes it. names are the configs the resource names, for the
// duplicate check and the broker refusal.
func applyAlter(ctx context.Context, b Broker, typ kmsg.ConfigResourceType, name string, names []string, validateOnly bool, cmd *cluster.AlterConfigs) error {
	for i, n := range names {
		for _, m := range names[:i] {
			if m == n {
				return fmt.Errorf("%w: config %q named more than once", cluster.ErrInvalidRequest, n)
			}
		}
	}
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
	case kmsg.ConfigResourceTypeBroker:
		if err := checkBrokerResource(b, name); err != nil {
			return err
		}
		if len(names) > 0 {
			return fmt.Errorf("%w: %w (%s)", cluster.ErrInvalidRequest, errReadOnlyBroker, names[0])
		}
		return nil
	default:
		return fmt.Errorf("%w: resource type %v not supported", cluster.ErrInvalidRequest, typ)
	}
	tables := b.Tables()
	tp, ok := tables.TopicByName(name)
	if !ok {
		return fmt.Errorf("%w: topic %q", cluster.ErrUnknownTopic, name)
	}
	cmd.ID = tp.ID
	if err := tables.Validate(cmd); err != nil || validateOnly {
		return err
	}
	_, err := b.Propose(ctx, cmd)
	return err
}
