package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
	"github.com/petrel-streaming/petrel/internal/shard"
)

// Leader balancing: placement makes each partition's first replica its
// preferred leader and spreads those over the nodes; failures move
// leaders away. Every leaderBalanceInterval each node hands the groups it
// leads back to their preferred replicas that are live and caught up
// (Kafka's auto.leader.rebalance.enable), and ElectLeaders (key 43) does
// the same at once for the partitions a client names.
//
// Maintenance mode (cluster.SetBrokerMaintenance, admin_maintenance.go):
// while this node's broker is in maintenance, every maintenanceInterval it
// hands every group it leads to its most caught-up live follower (as a
// clean shutdown does), so it soon leads nothing and anything it wins in
// an election it gives away again. No node moves a leadership to a broker
// in maintenance: balancing and preferred-leader elections skip the
// partitions whose preferred replica is in it. When a broker leaves
// maintenance every node balances at once, so its preferred leaderships
// come back within a tick rather than a balancing period.
//
//	every maintenanceInterval (cluster mode, each node):
//	  my broker in maintenance        → TransferLeaders on every shard
//	  a balancing period passed, or
//	  a broker just left maintenance  → ElectPreferred on each group led
//	                                    here whose preferred broker is not
//	                                    in maintenance

// leaderBalanceInterval is how often leaders move back to their
// preferred replicas.
const leaderBalanceInterval = 10 * time.Second

// maintenanceInterval is how often a node in maintenance hands away the
// leaderships it holds (and how often every node looks at the flag).
const maintenanceInterval = 250 * time.Millisecond

func (n *Node) balanceLeaders(stop <-chan struct{}) {
	t := time.NewTicker(maintenanceInterval)
	defer t.Stop()
	nextBalance := time.Now().Add(leaderBalanceInterval)
	var wasIn model.NodeID = -1 // the broker in maintenance at the last tick
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			tables := n.tablesIfUp()
			if tables == nil {
				continue
			}
			in, ok := tables.InMaintenance()
			if !ok {
				in = -1
			}
			if in == n.cfg.NodeID {
				n.shedLeaders(stop)
			}
			if left := wasIn >= 0 && in != wasIn; left || !now.Before(nextBalance) {
				n.balanceRound(tables)
				nextBalance = now.Add(leaderBalanceInterval)
			}
			if in != wasIn {
				n.log.Info("maintenance mode changed", "broker_in_maintenance", in, "was", wasIn)
			}
			wasIn = in
		}
	}
}

// shedLeaders starts handing every group led here to a peer (a tick of
// maintenance mode) and returns the number of groups led here.
func (n *Node) shedLeaders(stop <-chan struct{}) int {
	ctx, cancel := context.WithTimeout(context.Background(), maintenanceInterval)
	defer cancel()
	leading := 0
	for i, m := range n.shards {
		select {
		case <-stop:
			return leading
		default:
		}
		m := m
		if err := n.rt.InvokeOn(ctx, model.ShardID(i), func(*shard.Shard) { leading += m.TransferLeaders() }); err != nil {
			return leading
		}
	}
	return leading
}

// balanceRound asks each partition led here to hand its leadership to its
// preferred replica, unless that replica's broker is in maintenance (what
// partition.Manager.BalanceLeaders does, with that exception). Each
// shard's replicas are handed to it in one message.
func (n *Node) balanceRound(tables *cluster.Tables) {
	byShard := make([][]*partition.Replica, len(n.shards))
	n.replicas.Range(func(k, v any) bool {
		key, r := k.(model.PartitionKey), v.(*partition.Replica)
		if rs := r.State(); rs == nil || !rs.Leader {
			return true
		}
		p, ok := partitionOf(tables, key)
		if !ok || tables.Maintenance(preferredOf(p)) {
			return true
		}
		i := n.shardOf(key)
		byShard[i] = append(byShard[i], r)
		return true
	})
	for i, rs := range byShard {
		if len(rs) == 0 {
			continue
		}
		_ = n.rt.Submit(model.ShardID(i), func(*shard.Shard) {
			for _, r := range rs {
				_ = r.ElectPreferred() // not needed, not caught up, no longer leading: next round
			}
		})
	}
}

// tablesIfUp is Tables, or nil before the controller started (the
// transport and its handlers start first).
func (n *Node) tablesIfUp() *cluster.Tables {
	if c := n.ctrlUp.Load(); c != nil {
		return c.tables.Load()
	}
	return nil
}

// partitionOf looks a partition up in the tables.
func partitionOf(tables *cluster.Tables, key model.PartitionKey) (cluster.Partition, bool) {
	tp, ok := tables.TopicByID(key.Topic)
	if !ok || int(key.Partition) >= len(tp.Partitions) {
		return cluster.Partition{}, false
	}
	return tp.Partitions[key.Partition], true
}

// Preferred-leader election outcomes carried between nodes.
const (
	electOK byte = iota
	electNotNeeded
	electUnavailable
	electNotLeader
)

var electErrs = map[byte]error{electOK: nil, electNotNeeded: partition.ErrElectionNotNeeded,
	electUnavailable: partition.ErrPreferredUnavailable, electNotLeader: partition.ErrNotLeader}

func electCode(err error) byte {
	for c, e := range electErrs {
		if e != nil && errors.Is(err, e) {
			return c
		}
	}
	if err != nil {
		return electUnavailable
	}
	return electOK
}

// ElectPreferred implements kafka.Broker: it moves each partition's
// leadership to its preferred replica, on this node for the partitions it
// leads and through their leaders' nodes for the others, and waits (until
// ctx ends) for the preferred replicas to lead. One error per key: nil,
// partition.ErrElectionNotNeeded, ErrPreferredUnavailable or
// ErrNotLeader (no leader known).
func (n *Node) ElectPreferred(ctx context.Context, keys []model.PartitionKey) []error {
	out := make([]error, len(keys))
	remote := map[model.NodeID][]int{}
	for i, key := range keys {
		if r, ok := n.replicas.Load(key); ok && r.(*partition.Replica).State().Leader {
			out[i] = n.electLocal(ctx, key)
			continue
		}
		l := n.Leadership(key)
		if l.Leader < 0 || l.Leader == n.cfg.NodeID || n.transport == nil {
			out[i] = partition.ErrNotLeader
			continue
		}
		remote[l.Leader] = append(remote[l.Leader], i)
	}
	for node, idx := range remote {
		req := binary.BigEndian.AppendUint32(nil, uint32(len(idx)))
		for _, i := range idx {
			req = append(req, keys[i].Topic[:]...)
			req = binary.BigEndian.AppendUint32(req, uint32(keys[i].Partition))
		}
		resp, err := n.transport.Call(ctx, node, methodElectPreferred, req)
		if err == nil && len(resp) != len(idx) {
			err = fmt.Errorf("node: elect answer of %d bytes for %d partitions: %w", len(resp), len(idx), model.ErrCorrupt)
		}
		for j, i := range idx {
			if err != nil {
				out[i] = fmt.Errorf("%w: node %d: %v", partition.ErrPreferredUnavailable, node, err)
			} else {
				out[i] = electErrs[resp[j]]
			}
		}
	}
	for i, key := range keys {
		if out[i] == nil {
			out[i] = n.waitPreferred(ctx, key)
		}
	}
	return out
}

// electLocal starts the transfer of a partition led here.
func (n *Node) electLocal(ctx context.Context, key model.PartitionKey) error {
	v, ok := n.replicas.Load(key)
	if !ok {
		return partition.ErrNotLeader
	}
	r := v.(*partition.Replica)
	if t := n.tablesIfUp(); t != nil {
		// No leadership goes to a broker in maintenance.
		if p, ok := partitionOf(t, key); ok && t.Maintenance(preferredOf(p)) {
			return fmt.Errorf("%w: broker %d, the preferred replica, is in maintenance", partition.ErrPreferredUnavailable, preferredOf(p))
		}
	}
	var err error
	if ierr := n.rt.InvokeOn(ctx, n.shardOf(key), func(*shard.Shard) { err = r.ElectPreferred() }); ierr != nil {
		return ierr
	}
	return err
}

// waitPreferred waits until the partition's preferred replica leads, as
// far as this node can see (a partition not hosted here: not waited for).
func (n *Node) waitPreferred(ctx context.Context, key model.PartitionKey) error {
	tp, ok := n.Tables().TopicByID(key.Topic)
	if !ok || int(key.Partition) >= len(tp.Partitions) {
		return partition.ErrNotLeader
	}
	pref := tp.Partitions[key.Partition].Replicas[0]
	for {
		rs := n.ReadState(key)
		if rs == nil || (rs.Leader && pref == n.cfg.NodeID) || (!rs.Leader && rs.LeaderID == pref) {
			return nil
		}
		select {
		case <-rs.Changed():
		case <-ctx.Done():
			return fmt.Errorf("%w: node %d did not take the lead in time", partition.ErrPreferredUnavailable, pref)
		}
	}
}

const methodElectPreferred = methodBrokerKnown + 1

func (n *Node) handleElectPreferred(ctx context.Context, _ model.NodeID, req []byte) ([]byte, error) {
	if len(req) < 4 {
		return nil, errors.New("node: elect request too short")
	}
	count := int(binary.BigEndian.Uint32(req))
	req = req[4:]
	if count < 0 || len(req) != count*20 {
		return nil, fmt.Errorf("node: elect request of %d bytes for %d partitions", len(req), count)
	}
	out := make([]byte, count)
	for i := range count {
		var key model.PartitionKey
		copy(key.Topic[:], req[i*20:])
		key.Partition = model.PartitionID(binary.BigEndian.Uint32(req[i*20+16:]))
		out[i] = electCode(n.electLocal(ctx, key))
	}
	return out, nil
}
