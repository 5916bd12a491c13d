package kafka

// IncrementalAlterConfigs (key 44): v0–v1.
//
// Behaviour:
//   - TOPIC resources: SET sets a config, DELETE returns it to the
//     default, APPEND and SUBTRACT add or remove items of a LIST config
//     (cleanup.policy, the throttled-replica lists), starting from the
//     topic's value or else the config's default, as Kafka does. APPEND or
//     SUBTRACT on a non-list config, a null SET value, an unknown op or a
//     config named twice is INVALID_REQUEST; an unknown key or a bad value
//     INVALID_CONFIG. Applied through the controller, answered once applied.
//   - BROKER resources (this node's id or ""): every broker config is
//     static, so any change is INVALID_REQUEST (Kafka's answer to a config
//     it cannot update dynamically); an empty list is accepted.
//   - ValidateOnly checks against the current tables without proposing.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/cluster"
)

func incrementalAlterConfigsAPI(b Broker) API {
	return API{
		Key: 44, MinVersion: 0, MaxVersion: 1,
		Handle: func(ctx context.Context, r *Request) (kmsg.Response, error) {
			return incrementalAlterConfigs(ctx, b, r.Msg.(*kmsg.IncrementalAlterConfigsRequest)), nil
		},
	}
}

func incrementalAlterConfigs(ctx context.Context, b Broker, req *kmsg.IncrementalAlterConfigsRequest) *kmsg.IncrementalAlterConfigsResponse {
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, res := range req.Resources {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		names := make([]string, 0, len(res.Configs))
		for _, c := range res.Configs {
			names = append(names, c.Name)
		}
		cmd, err := incrementalCommand(b.Tables(), res)
		if err == nil || res.ResourceType != kmsg.ConfigResourceTypeTopic {
			// Broker and unknown resources are judged by applyAlter.
			if cmd == nil {
				cmd = &cluster.AlterConfigs{Name: res.ResourceName}
			}
			err = applyAlter(ctx, b, res.ResourceType, res.ResourceName, names, req.ValidateOnly, cmd)
		}
		rr.ErrorCode, rr.ErrorMessage = partitionErrorCode(err), errMsg(err)
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

// incrementalCommand turns a topic resource's ops into an AlterConfigs
// command (set and delete), resolving APPEND and SUBTRACT against the
// topic's current value. An unknown topic is left to applyAlter.
func incrementalCommand(tables *cluster.Tables, res kmsg.IncrementalAlterConfigsRequestResource) (*cluster.AlterConfigs, error) {
	cmd := &cluster.AlterConfigs{Name: res.ResourceName, Set: map[string]string{}}
	tp, _ := tables.TopicByName(res.ResourceName)
	var decls []cluster.TopicConfigDecl
	for _, c := range res.Configs {
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if c.Value == nil {
				return nil, fmt.Errorf("%w: null value for SET of %q", cluster.ErrInvalidRequest, c.Name)
			}
			cmd.Set[c.Name] = *c.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			cmd.Delete = append(cmd.Delete, c.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if decls == nil {
				decls = cluster.TopicConfigDecls()
			}
			i := slices.IndexFunc(decls, func(d cluster.TopicConfigDecl) bool { return d.Name == c.Name })
			switch {
			case i < 0:
				return nil, fmt.Errorf("%w: unknown topic config %q", cluster.ErrInvalidConfig, c.Name)
			case decls[i].Type != kmsg.ConfigTypeList:
				return nil, fmt.Errorf("%w: %v is only allowed on list configs, not %q", cluster.ErrInvalidRequest, c.Op, c.Name)
			}
			cur := decls[i].Default
			if tp != nil {
				if v, ok := tp.Configs[c.Name]; ok {
					cur = v
				}
			}
			var arg string
			if c.Value != nil {
				arg = *c.Value
			}
			cmd.Set[c.Name] = editList(cur, arg, c.Op == kmsg.IncrementalAlterConfigOpAppend)
		default:
			return nil, fmt.Errorf("%w: unknown op %d for %q", cluster.ErrInvalidRequest, c.Op, c.Name)
		}
	}
	return cmd, nil
}

// editList appends the items of arg missing from cur, or removes them.
func editList(cur, arg string, add bool) string {
	items := listItems(cur)
	for _, it := range listItems(arg) {
		has := slices.Contains(items, it)
		switch {
		case add && !has:
			items = append(items, it)
		case !add && has:
			items = slices.DeleteFunc(items, func(s string) bool { return s == it })
		}
	}
	return strings.Join(items, ",")
}

func listItems(v string) []string {
	var out []string
	for _, it := range strings.Split(v, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}
