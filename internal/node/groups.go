package node

import (
	"context"

	"github.com/petrel-streaming/petrel/internal/kafka"
)

// groups hosts the consumer group coordinators (see internal/group).
type groups struct{ n *Node }

func newGroups(n *Node) *groups { return &groups{n: n} }

func (g *groups) register(reg *kafka.Registry) error { return nil }

func (g *groups) close(ctx context.Context) {}
