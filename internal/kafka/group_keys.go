package kafka

// The consumer group keys — OffsetCommit (8), OffsetFetch (9), JoinGroup
// (11), Heartbeat (12), LeaveGroup (13), SyncGroup (14), DescribeGroups
// (15), ListGroups (16), DeleteGroups (42), OffsetDelete (47) — are served
// by internal/group, which holds one file per key with its versions and
// behaviour; their ranges come from group.APIs(). This file only routes:
// a group lives on the coordinator of partition group.PartitionFor(id, n)
// of __consumer_offsets, so a request naming one group goes there, and a
// request naming several (DescribeGroups, DeleteGroups, OffsetFetch v8+)
// is split per coordinator and the answers merged in request order.
// ListGroups asks every coordinator.

import (
	"context"
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/group"
)

// Groups reaches the group coordinators; the node implements it.
type Groups interface {
	// Partitions is the partition count of __consumer_offsets.
	Partitions() int
	// Do serves req on the coordinator of one partition.
	Do(ctx context.Context, partition int32, client group.Client, req kmsg.Request) (kmsg.Response, error)
}

func groupAPIs(g Groups) []API {
	var out []API
	for _, a := range group.APIs() {
		out = append(out, API{Key: a.Key, MinVersion: a.MinVersion, MaxVersion: a.MaxVersion,
			Handle: func(ctx context.Context, r *Request) (kmsg.Response, error) {
				return routeGroup(ctx, g, clientOf(r), r.Msg)
			}})
	}
	return out
}

func clientOf(r *Request) group.Client {
	c := group.Client{ID: r.ClientID}
	if r.Conn != nil && r.Conn.Remote != nil {
		if h, _, err := net.SplitHostPort(r.Conn.Remote.String()); err == nil {
			c.Host = "/" + h
		}
	}
	return c
}

func routeGroup(ctx context.Context, g Groups, c group.Client, msg kmsg.Request) (kmsg.Response, error) {
	n := g.Partitions()
	one := func(id string) (kmsg.Response, error) { return g.Do(ctx, group.PartitionFor(id, n), c, msg) }
	switch req := msg.(type) {
	case *kmsg.OffsetCommitRequest:
		return one(req.Group)
	case *kmsg.JoinGroupRequest:
		return one(req.Group)
	case *kmsg.HeartbeatRequest:
		return one(req.Group)
	case *kmsg.LeaveGroupRequest:
		return one(req.Group)
	case *kmsg.SyncGroupRequest:
		return one(req.Group)
	case *kmsg.OffsetDeleteRequest:
		return one(req.Group)
	case *kmsg.OffsetFetchRequest:
		if req.Version < 8 {
			return one(req.Group)
		}
		return splitGroups(ctx, g, c, req.Groups, func(i kmsg.OffsetFetchRequestGroup) string { return i.Group },
			func(part []kmsg.OffsetFetchRequestGroup) kmsg.Request { cp := *req; cp.Groups = part; return &cp },
			func(resp kmsg.Response) []kmsg.OffsetFetchResponseGroup {
				return resp.(*kmsg.OffsetFetchResponse).Groups
			},
			func(all []kmsg.OffsetFetchResponseGroup) kmsg.Response {
				r := req.ResponseKind().(*kmsg.OffsetFetchResponse)
				r.Groups = all
				return r
			})
	case *kmsg.DescribeGroupsRequest:
		return splitGroups(ctx, g, c, req.Groups, func(s string) string { return s },
			func(part []string) kmsg.Request { cp := *req; cp.Groups = part; return &cp },
			func(resp kmsg.Response) []kmsg.DescribeGroupsResponseGroup {
				return resp.(*kmsg.DescribeGroupsResponse).Groups
			},
			func(all []kmsg.DescribeGroupsResponseGroup) kmsg.Response {
				r := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
				r.Groups = all
				return r
			})
	case *kmsg.DeleteGroupsRequest:
		return splitGroups(ctx, g, c, req.Groups, func(s string) string { return s },
			func(part []string) kmsg.Request { cp := *req; cp.Groups = part; return &cp },
			func(resp kmsg.Response) []kmsg.DeleteGroupsResponseGroup {
				return resp.(*kmsg.DeleteGroupsResponse).Groups
			},
			func(all []kmsg.DeleteGroupsResponseGroup) kmsg.Response {
				r := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
				r.Groups = all
				return r
			})
	case *kmsg.ListGroupsRequest:
		merged := req.ResponseKind().(*kmsg.ListGroupsResponse)
		for p := 0; p < n; p++ {
			resp, err := g.Do(ctx, int32(p), c, req)
			if err != nil {
				return nil, err
			}
			lr := resp.(*kmsg.ListGroupsResponse)
			if lr.ErrorCode != 0 && merged.ErrorCode == 0 {
				merged.ErrorCode = lr.ErrorCode
			}
			merged.Groups = append(merged.Groups, lr.Groups...)
		}
		return merged, nil
	}
	return nil, fmt.Errorf("kafka: %T is not a group request", msg)
}

// splitGroups sends each coordinator the items of a multi-group request
// that belong to it and merges the answers in request order (each answer
// lists its items in the order it was asked).
func splitGroups[I, O any](ctx context.Context, g Groups, c group.Client, items []I, id func(I) string,
	sub func([]I) kmsg.Request, outs func(kmsg.Response) []O, build func([]O) kmsg.Response) (kmsg.Response, error) {
	n := g.Partitions()
	byPart := map[int32][]int{}
	var order []int32
	for i, it := range items {
		p := group.PartitionFor(id(it), n)
		if _, ok := byPart[p]; !ok {
			order = append(order, p)
		}
		byPart[p] = append(byPart[p], i)
	}
	all := make([]O, len(items))
	for _, p := range order {
		idx := byPart[p]
		part := make([]I, len(idx))
		for j, i := range idx {
			part[j] = items[i]
		}
		resp, err := g.Do(ctx, p, c, sub(part))
		if err != nil {
			return nil, err
		}
		got := outs(resp)
		if len(got) != len(idx) {
			return nil, fmt.Errorf("kafka: coordinator %d answered %d of %d groups", p, len(got), len(idx))
		}
		for j, i := range idx {
			all[i] = got[j]
		}
	}
	return build(all), nil
}

// RegisterGroups registers FindCoordinator and the group keys.
func RegisterGroups(reg *Registry, b Broker, g Groups) error {
	for _, a := range append([]API{findCoordinatorAPI(b)}, groupAPIs(g)...) {
		if err := reg.Register(a); err != nil {
			return fmt.Errorf("kafka: register key %d: %w", a.Key, err)
		}
	}
	return nil
}
