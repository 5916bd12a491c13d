package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
	"github.com/petrel-streaming/petrel/internal/shard"
)

// controllerKey is Raft group 0, the controller, on shard 0.
var controllerKey = model.PartitionKey{}

// errClosed: the node is shutting down.
var errClosed = errors.New("node: closed")

// controller runs the controller state machine (cluster.State) on Raft
// group 0. Proposals carry an 8-byte nonce so the proposer can match the
// applied result; Apply runs on shard 0, which alone owns the State; the
// Tables it publishes are read by any goroutine. A reconciler goroutine
// opens and removes local replicas to match the tables.
type controller struct {
	n       *Node
	state   *cluster.State // shard 0 only
	replica *partition.Replica
	tables  atomic.Pointer[cluster.Tables]

	mu      sync.Mutex
	nonce   uint64
	waiting map[uint64]chan applied
	changed chan struct{} // wakes the reconciler (capacity 1)
	stop    chan struct{}
	done    chan struct{}
	// reconciled is closed and replaced each time the reconciler catches up.
	reconciled chan struct{}
	recVersion model.Index

	idMu    sync.Mutex
	nextID  int64
	idsLeft int64

	prefState
	// moves wakes the reassignment driver after a tables change.
	moves chan struct{}
}

type applied struct {
	res cluster.Result
	err error
}

func startController(ctx context.Context, n *Node) (*controller, error) {
	c := &controller{n: n, state: cluster.NewState(), waiting: make(map[uint64]chan applied),
		changed: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), moves: make(chan struct{}, 1),
		reconciled: make(chan struct{})}
	// Nonces are unique across the cluster: the node id, then a counter
	// from the clock (apply on every node matches them).
	c.nonce = uint64(n.cfg.NodeID)<<48 | uint64(time.Now().UnixNano())>>16&(1<<48-1)
	c.tables.Store(c.state.Tables())
	every := n.cfg.ControllerSnapshotEvery
	if every == 0 {
		every = defaultControllerSnapshotEvery
	}
	var err error
	if err2 := n.rt.InvokeOn(ctx, 0, func(*shard.Shard) {
		c.replica, err = n.shards[0].Open(partition.Config{Key: controllerKey, Node: n.cfg.NodeID,
			Peers: n.meta.Voters, Join: n.meta.Joined, Kind: partition.KindMeta, Apply: c.apply,
			Snapshot: c.snapshot, Restore: c.restore, SnapshotEvery: every, SnapshotKeep: every / 4,
			Logger: n.log.With("group", "controller")})
	}); err2 != nil {
		return nil, err2
	}
	if err != nil {
		return nil, fmt.Errorf("node: controller: %w", err)
	}
	go c.reconcile()
	// Registering the broker proves the controller leads and has applied
	// its whole log (the proposal commits after every earlier entry).
	host, port := n.Advertised()
	addr := net.JoinHostPort(host, strconv.Itoa(int(port)))
	if _, err := c.propose(ctx, &cluster.RegisterBroker{NodeID: n.cfg.NodeID, KafkaAddr: addr, RPCAddr: n.rpcAdvertised()}); err != nil {
		return nil, fmt.Errorf("node: register broker: %w", err)
	}
	if err := c.waitReconciled(ctx, c.tables.Load().Version()); err != nil {
		return nil, err
	}
	return c, nil
}

// propose sends a command through group 0 and waits for it to apply.
func (c *controller) propose(ctx context.Context, cmd cluster.Command) (cluster.Result, error) {
	c.mu.Lock()
	c.nonce++
	id := c.nonce
	ch := make(chan applied, 1)
	c.waiting[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiting, id)
		c.mu.Unlock()
	}()
	data := binary.BigEndian.AppendUint64(make([]byte, 0, 64), id)
	data = cmd.AppendTo(data)
	for {
		var perr error
		if err := c.n.rt.InvokeOn(ctx, 0, func(*shard.Shard) { perr = c.replica.Propose(data) }); err != nil {
			return cluster.Result{}, err
		}
		if perr != nil && !errors.Is(perr, partition.ErrNotLeader) {
			return cluster.Result{}, perr
		}
		wait := proposeRetry
		if perr != nil {
			// No leader known yet (just started, or an election).
			wait = 50 * time.Millisecond
		}
		// A proposal forwarded to the leader can be lost with a leader
		// change: propose again (the same nonce; commands are safe to
		// apply twice, the second fails validation or changes nothing
		// anyone waits for).
		select {
		case a := <-ch:
			return a.res, a.err
		case <-time.After(wait):
		case <-ctx.Done():
			return cluster.Result{}, ctx.Err()
		case <-c.stop:
			return cluster.Result{}, errClosed
		}
	}
}

// proposeRetry is how long a proposal may take to apply before it is
// proposed again.
const proposeRetry = 3 * time.Second

// defaultControllerSnapshotEvery: controller entries between snapshots.
const defaultControllerSnapshotEvery = 1000

// snapshot encodes the state machine (shard 0, after an apply).
func (c *controller) snapshot() []byte { return c.state.AppendSnapshot(nil) }

// restore replaces the state machine with a snapshot's (shard 0: at start
// from the stored snapshot, or one the leader sent).
func (c *controller) restore(index model.Index, data []byte) error {
	st, err := cluster.DecodeSnapshot(data)
	if err != nil {
		return err
	}
	if v := st.Tables().Version(); v > index {
		// Raft-only entries (configuration, a new leader's empty entry)
		// do not reach the state: it may be older than the index.
		return fmt.Errorf("controller snapshot of index %d holds the state at %d: %w", index, v, model.ErrCorrupt)
	}
	c.state = st
	c.tables.Store(st.Tables())
	select {
	case c.changed <- struct{}{}:
	default:
	}
	return nil
}

// apply runs on shard 0 for every committed controller entry.
func (c *controller) apply(index model.Index, data []byte) {
	if len(data) < 8 {
		c.n.log.Error("controller entry without nonce", "index", index)
		return
	}
	id := binary.BigEndian.Uint64(data)
	var a applied
	cmd, err := cluster.DecodeCommand(data[8:])
	if err != nil {
		a.err = err
	} else {
		a.res, a.err = c.state.Apply(index, cmd)
	}
	if err != nil && !errors.Is(err, cluster.ErrIndexOrder) {
		c.n.log.Error("controller entry", "index", index, "err", err)
	}
	c.tables.Store(c.state.Tables())
	select {
	case c.changed <- struct{}{}:
	default:
	}
	c.mu.Lock()
	ch := c.waiting[id]
	c.mu.Unlock()
	if ch != nil {
		select {
		case ch <- a:
		default:
		}
	}
}

// reconcile opens the replicas of this node's partitions and removes
// those of deleted topics, whenever the tables change.
func (c *controller) reconcile() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.changed:
		}
		t := c.tables.Load()
		c.n.setPeers(t)
		c.reconcileTo(t)
		select {
		case c.moves <- struct{}{}:
		default:
		}
		c.mu.Lock()
		c.recVersion = t.Version()
		close(c.reconciled)
		c.reconciled = make(chan struct{})
		c.mu.Unlock()
	}
}

func (c *controller) reconcileTo(t *cluster.Tables) {
	n := c.n
	want := make(map[model.PartitionKey]bool, t.PartitionCount())
	for _, tp := range t.Topics() {
		for _, p := range tp.Partitions {
			inReplicas, inTarget := hosts(p.Replicas, n.cfg.NodeID), hosts(p.Target, n.cfg.NodeID)
			if !inReplicas && !inTarget {
				continue
			}
			key := model.PartitionKey{Topic: tp.ID, Partition: p.ID}
			want[key] = true
			if v, ok := n.replicas.Load(key); ok {
				c.setPreferred(key, v.(*partition.Replica), preferredOf(p))
				continue
			}
			// The first replicas of a partition bootstrap its group; a
			// replica added by a reassignment (or any after one) joins
			// the running group and learns its configuration from the
			// leader's log.
			peers := append([]model.NodeID(nil), p.Replicas...)
			join := !inReplicas || p.Moved
			if !inReplicas {
				peers = append([]model.NodeID(nil), p.Target...)
			}
			var r *partition.Replica
			var err error
			group := groupOf(tp, p.ID)
			n.groups2keys.Store(group, key)
			ierr := n.rt.InvokeOn(context.Background(), n.shardOf(key), func(s *shard.Shard) {
				r, err = n.shards[s.ID()].Open(partition.Config{Key: key, Group: group, Node: n.cfg.NodeID, Peers: peers,
					Join: join, Logger: n.log.With("topic", tp.Name, "partition", p.ID)})
				if err == nil {
					r.SetPreferred(preferredOf(p))
				}
				if err == nil {
					r.SetSegmentLimits(tp.Config.SegmentBytes, time.Duration(tp.Config.SegmentMs)*time.Millisecond)
				}
			})
			if ierr == nil && err == nil {
				n.replicas.Store(key, r)
			} else {
				n.log.Error("open partition", "topic", tp.Name, "partition", p.ID, "err", errors.Join(ierr, err))
			}
		}
	}
	n.replicas.Range(func(k, _ any) bool {
		key := k.(model.PartitionKey)
		if want[key] {
			return true
		}
		n.replicas.Delete(key)
		n.groups2keys.Range(func(g, k any) bool {
			if k.(model.PartitionKey) == key {
				n.groups2keys.Delete(g)
			}
			return true
		})
		var err error
		ierr := n.rt.InvokeOn(context.Background(), n.shardOf(key), func(s *shard.Shard) {
			err = n.shards[s.ID()].Remove(key)
		})
		if ierr != nil || err != nil {
			n.log.Error("remove partition", "partition", key.String(), "err", errors.Join(ierr, err))
		}
		return true
	})
}

func hosts(replicas []model.NodeID, id model.NodeID) bool {
	for _, r := range replicas {
		if r == id {
			return true
		}
	}
	return false
}

// waitReconciled waits until the reconciler has applied tables of at least
// version v.
func (c *controller) waitReconciled(ctx context.Context, v model.Index) error {
	for {
		c.mu.Lock()
		done, ch := c.recVersion >= v, c.reconciled
		c.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.stop:
			return errClosed
		}
	}
}

func (c *controller) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
		<-c.done
	}
}

// NextProducerID implements kafka.ProducerIDs: ids from blocks the
// controller allocates, so they are never reused after a restart.
func (c *controller) NextProducerID(ctx context.Context) (int64, error) {
	c.idMu.Lock()
	defer c.idMu.Unlock()
	if c.idsLeft == 0 {
		res, err := c.propose(ctx, &cluster.AllocateProducerIDs{Count: producerIDBlock})
		if err != nil {
			return 0, err
		}
		c.nextID, c.idsLeft = res.FirstProducerID, producerIDBlock
	}
	id := c.nextID
	c.nextID++
	c.idsLeft--
	return id, nil
}

const producerIDBlock = 1000
