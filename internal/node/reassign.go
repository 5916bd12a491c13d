package node

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
	"github.com/petrel-streaming/petrel/internal/shard"
)

// Reassignments. The controller records a partition's move as its Target
// replica set (AlterPartitionReassignments, decommission); every node's
// reconciler opens a joining replica where the target adds one. The node
// whose replica leads the partition drives the move: it changes the
// group's voters to the target (one joint-consensus configuration change;
// raft's StepDownOnRemoval makes a leader that is not in the target step
// down once the change is done, and the next leader, in the target,
// carries on), and once the voters are the target it proposes
// CompleteReassignment, after which the replicas left out are removed by
// their nodes' reconcilers.

// reassignInterval is how often a node looks again at the moves its
// leaders drive while any is in progress.
const reassignInterval = 500 * time.Millisecond

// preferredOf is the replica a partition's placement wants as leader:
// its target's first during a move, else its replicas' first.
func preferredOf(p cluster.Partition) model.NodeID {
	if len(p.Target) > 0 {
		return p.Target[0]
	}
	return p.Replicas[0]
}

// setPreferred tells a replica its preferred leader when it changed.
func (c *controller) setPreferred(key model.PartitionKey, r *partition.Replica, pref model.NodeID) {
	c.prefMu.Lock()
	if c.preferred == nil {
		c.preferred = map[model.PartitionKey]model.NodeID{}
	}
	old, ok := c.preferred[key]
	c.preferred[key] = pref
	c.prefMu.Unlock()
	if ok && old == pref {
		return
	}
	n := c.n
	_ = n.rt.InvokeOn(context.Background(), n.shardOf(key), func(*shard.Shard) { r.SetPreferred(pref) })
}

// prefState is the controller's memory of preferred leaders told.
type prefState struct {
	prefMu    sync.Mutex
	preferred map[model.PartitionKey]model.NodeID
}

// driveReassignments runs on every node in cluster mode: after each
// tables change and every reassignInterval while moves are in progress.
func (n *Node) driveReassignments(stop <-chan struct{}, changed <-chan struct{}) {
	t := time.NewTicker(reassignInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-changed:
		case <-t.C:
		}
		n.driveOnce()
	}
}

// driveOnce moves the voters of every partition led here with a move in
// progress one step, and completes the moves that are done.
func (n *Node) driveOnce() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tp := range n.Tables().Topics() {
		for _, p := range tp.Partitions {
			if p.Target == nil {
				continue
			}
			key := model.PartitionKey{Topic: tp.ID, Partition: p.ID}
			v, ok := n.replicas.Load(key)
			if !ok || !v.(*partition.Replica).State().Leader {
				continue
			}
			r := v.(*partition.Replica)
			var done bool
			var err error
			target := slices.Clone(p.Target)
			if ierr := n.rt.InvokeOn(ctx, n.shardOf(key), func(*shard.Shard) {
				voters, joint := r.Voters()
				switch {
				case joint:
				case sameSet(voters, target):
					done = true
				default:
					err = r.SetVoters(target)
				}
			}); ierr != nil {
				return
			}
			if err != nil && !errors.Is(err, partition.ErrConfChangePending) && !errors.Is(err, partition.ErrNotLeader) {
				n.log.Warn("reassignment: changing voters", "topic", tp.Name, "partition", p.ID, "target", target, "err", err)
			}
			if done {
				if _, err := n.ctrl.propose(ctx, &cluster.CompleteReassignment{Topic: tp.ID, Partition: p.ID, Replicas: target}); err != nil {
					n.log.Debug("reassignment: completing", "topic", tp.Name, "partition", p.ID, "err", err)
				} else {
					n.log.Info("reassignment complete", "topic", tp.Name, "partition", p.ID, "replicas", target)
				}
			}
		}
	}
}

func sameSet(a, b []model.NodeID) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
