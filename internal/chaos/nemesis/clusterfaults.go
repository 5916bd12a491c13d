package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/petrel-streaming/petrel/internal/chaos/cluster"
	"github.com/petrel-streaming/petrel/internal/chaos/netfault"
)

// ErrNeedsNetns: the network faults need the run inside a private network
// namespace with nftables (netns mode: root, nft, unshare).
var ErrNeedsNetns = errors.New("needs netns mode (root, nft and unshare: petrel-chaos re-runs itself under unshare --net); this run is in loopback mode")

// ClusterOptions are what the cluster faults need besides the cluster.
type ClusterOptions struct {
	// Topic and Partitions: the partitions whose leaders and followers
	// are targets (the workload's chaos topic).
	Topic      string
	Partitions int32
	// Net cuts links between the nodes (netns mode; node i on Hosts[i]
	// with its connections' source mapped, see package netfault). nil:
	// the network faults are unavailable with NetWhy.
	Net    *netfault.Net
	Hosts  []string
	NetWhy error
}

// ClusterFaults are the faults of CHAOS.md §2.4 that need a cluster, for
// WithFault to put in place of the catalog's placeholders:
//
//	kill-leader            SIGKILL the leader of a random partition (Metadata); restart after U(0,3) s
//	kill-follower          SIGKILL a follower of a random partition; restart after U(0,3) s
//	isolate                cut the leader of a random partition from the other nodes, both
//	                       ways (clients still reach it), U(5,15) s; heal: delete the cut
//	isolate-follower       the same for a follower
//	majority-minority      the controller alone | the two others (1|2), U(5,15) s
//	bridge                 cut the leader of a partition from one other node only; the third
//	                       sees both, U(5,15) s
//	lossy-link             30 % packet loss between a partition's leader and another node, U(5,15) s
//	one-way                drop the leader's packets to the other nodes only (theirs reach it)
//	isolate-client-leader  cut the clients (netfault.ClientAddr) from a partition's leader only
//	leader-transfer-storm  every ~2 s: SIGTERM the leader of a random partition (leadership
//	                       moves first), start it again, elect the preferred leaders back
//	                       (ElectLeaders), for U(5,15) s
//
// With fewer than 3 nodes every one is unavailable (ErrNeedsCluster);
// without o.Net the network ones are (ErrNeedsNetns, with o.NetWhy). A
// cut that leaves a node alone logs a "minority" event naming it once
// the cut is in place: the minority-ack check's window runs from it to
// the fault's heal event.
func ClusterFaults(c *cluster.Cluster, rng *rand.Rand, log *Log, o ClusterOptions) []Fault {
	cf := &clusterFaults{nodeFaults: nodeFaults{c: c, rng: rng, log: log}, o: o}
	procs := []Fault{cf.killTarget("kill-leader", cf.leader), cf.killTarget("kill-follower", cf.follower), cf.storm()}
	nets := []Fault{
		cf.cut("isolate", cf.leader, isolateRules), cf.cut("isolate-follower", cf.follower, isolateRules),
		cf.cut("majority-minority", cf.controller, isolateRules), cf.cut("bridge", cf.leader, cf.bridgeRules),
		cf.cut("lossy-link", cf.leader, cf.lossRules), cf.cut("one-way", cf.leader, cf.oneWayRules),
		cf.cut("isolate-client-leader", cf.leader, cf.clientRules),
	}
	var netErr error
	switch {
	case o.Net == nil:
		netErr = fmt.Errorf("%w: %v", ErrNeedsNetns, o.NetWhy)
	case len(o.Hosts) != len(c.Nodes()):
		netErr = fmt.Errorf("%w: %d hosts for %d nodes", ErrNeedsNetns, len(o.Hosts), len(c.Nodes()))
	}
	if netErr != nil {
		for i := range nets {
			nets[i].Available = unavailable(netErr)
		}
	}
	out := append(procs, nets...)
	if len(c.Nodes()) < 3 {
		for i := range out {
			out[i].Available = unavailable(ErrNeedsCluster)
		}
	}
	return out
}

// clusterFaults picks targets through Metadata; one fault at a time.
type clusterFaults struct {
	nodeFaults
	o ClusterOptions
	// picked partition of the current fault (for details)
	part int32

	stormStop context.CancelFunc
	stormDone chan struct{}
}

// targetFunc picks the target node of a fault.
type targetFunc func(ctx context.Context) (*cluster.Node, error)

// metadata is the topic's partitions (leader, replicas) and the
// controller, retried for up to 15 s until the partition asked (or, for
// p < 0, every partition) has a leader.
func (cf *clusterFaults) metadata(ctx context.Context, p int32) (kadm.Metadata, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cf.c.Seeds()...), kgo.DialTimeout(2*time.Second))
	if err != nil {
		return kadm.Metadata{}, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var last error
	for i := 0; i < 100 && ctx.Err() == nil; i++ {
		md, err := adm.Metadata(ctx, cf.o.Topic)
		last = err
		if err == nil {
			t, ok := md.Topics[cf.o.Topic]
			led := ok && t.Err == nil && len(t.Partitions) == int(cf.o.Partitions)
			for _, pd := range t.Partitions {
				if (p < 0 || pd.Partition == p) && pd.Leader < 0 {
					led = false
				}
			}
			if led {
				return md, nil
			}
			last = fmt.Errorf("%s: not every partition has a leader", cf.o.Topic)
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	return kadm.Metadata{}, fmt.Errorf("metadata of %s: %v", cf.o.Topic, last)
}

// node maps a broker id to its node (node ids are the cluster's indexes).
func (cf *clusterFaults) node(id int32) (*cluster.Node, error) {
	if id < 0 || int(id) >= len(cf.c.Nodes()) {
		return nil, fmt.Errorf("broker %d is none of the cluster's nodes", id)
	}
	n := cf.c.Node(int(id))
	cf.mu.Lock()
	cf.target = n
	cf.mu.Unlock()
	return n, nil
}

func (cf *clusterFaults) randomPartition() int32 {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	cf.part = cf.rng.Int32N(cf.o.Partitions)
	return cf.part
}

// leader is the leader of a random partition.
func (cf *clusterFaults) leader(ctx context.Context) (*cluster.Node, error) {
	p := cf.randomPartition()
	md, err := cf.metadata(ctx, p)
	if err != nil {
		return nil, err
	}
	return cf.node(md.Topics[cf.o.Topic].Partitions[p].Leader)
}

// follower is a random follower of a random partition.
func (cf *clusterFaults) follower(ctx context.Context) (*cluster.Node, error) {
	p := cf.randomPartition()
	md, err := cf.metadata(ctx, p)
	if err != nil {
		return nil, err
	}
	pd := md.Topics[cf.o.Topic].Partitions[p]
	var fs []int32
	for _, r := range pd.Replicas {
		if r != pd.Leader {
			fs = append(fs, r)
		}
	}
	if len(fs) == 0 {
		return nil, fmt.Errorf("%s/%d: no follower in %v", cf.o.Topic, p, pd.Replicas)
	}
	slices.Sort(fs)
	cf.mu.Lock()
	f := fs[cf.rng.IntN(len(fs))]
	cf.mu.Unlock()
	return cf.node(f)
}

// controller is the controller's leader, as Metadata reports it.
func (cf *clusterFaults) controller(ctx context.Context) (*cluster.Node, error) {
	md, err := cf.metadata(ctx, -1)
	if err != nil {
		return nil, err
	}
	return cf.node(md.Controller)
}

func (cf *clusterFaults) partDetail() string {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	return fmt.Sprintf("%s/%d", cf.o.Topic, cf.part)
}

func (cf *clusterFaults) killTarget(name string, target targetFunc) Fault {
	return Fault{Name: name, Hold: [2]time.Duration{0, 3 * time.Second},
		Inject: func(ctx context.Context) error {
			n, err := target(ctx)
			if err != nil {
				return err
			}
			cf.detail(name, n, "SIGKILL pid %d (%s of %s)", n.Pid(), name[len("kill-"):], cf.partDetail())
			return n.Kill()
		},
		Heal: func(ctx context.Context) error { return restart(ctx, cf.picked()) },
	}
}

// rulesFunc builds a network fault around the target node x; minority
// says whether x is cut off from every other node.
type rulesFunc func(x int, others []int) (r *netfault.Rules, minority bool)

func isolateRules(x int, _ []int) (*netfault.Rules, bool) { return nil, true }

func (cf *clusterFaults) bridgeRules(x int, others []int) (*netfault.Rules, bool) {
	cf.mu.Lock()
	y := others[cf.rng.IntN(len(others))]
	cf.mu.Unlock()
	r := new(netfault.Rules).Cut(cf.o.Hosts[x], cf.o.Hosts[y]).Cut(cf.o.Hosts[y], cf.o.Hosts[x])
	return r, false
}

func (cf *clusterFaults) lossRules(x int, others []int) (*netfault.Rules, bool) {
	cf.mu.Lock()
	y := others[cf.rng.IntN(len(others))]
	cf.mu.Unlock()
	return new(netfault.Rules).Loss(cf.o.Hosts[x], cf.o.Hosts[y], 30), false
}

func (cf *clusterFaults) oneWayRules(x int, others []int) (*netfault.Rules, bool) {
	r := new(netfault.Rules)
	for _, y := range others {
		r.Cut(cf.o.Hosts[x], cf.o.Hosts[y])
	}
	return r, false
}

func (cf *clusterFaults) clientRules(x int, _ []int) (*netfault.Rules, bool) {
	return new(netfault.Rules).Partition([]string{netfault.ClientAddr}, []string{cf.o.Hosts[x]}), false
}

// cut is a network fault around a target node: rules nil isolates it
// from every other node.
func (cf *clusterFaults) cut(name string, target targetFunc, rules rulesFunc) Fault {
	return Fault{Name: name, Hold: [2]time.Duration{5 * time.Second, 15 * time.Second},
		Inject: func(ctx context.Context) error {
			n, err := target(ctx)
			if err != nil {
				return err
			}
			var others []int
			var otherHosts []string
			for _, m := range cf.c.Nodes() {
				if m.ID != n.ID {
					others, otherHosts = append(others, m.ID), append(otherHosts, cf.o.Hosts[m.ID])
				}
			}
			r, minority := rules(n.ID, others)
			if r == nil {
				r = new(netfault.Rules).Isolate(cf.o.Hosts[n.ID], otherHosts...)
			}
			if err := cf.o.Net.Apply(ctx, r); err != nil {
				return err
			}
			cf.detail(name, n, "node %d (target of %s, %s): %s", n.ID, name, cf.partDetail(), ruleSummary(minority))
			if minority {
				cf.log.Add(Event{Ev: "minority", Fault: name, Node: n.ID})
			}
			return nil
		},
		Heal: func(ctx context.Context) error {
			if err := cf.o.Net.Heal(ctx); err != nil {
				return err
			}
			return readyAll(ctx, cf.c)
		},
	}
}

func ruleSummary(minority bool) string {
	if minority {
		return "cut off from every other node (clients still reach it)"
	}
	return "one link cut or lossy"
}

// readyAll waits until every running node is ready.
func readyAll(ctx context.Context, c *cluster.Cluster) error {
	var errs []error
	for _, n := range c.Nodes() {
		if n.Running() {
			errs = append(errs, n.WaitReady(ctx))
		}
	}
	return errors.Join(errs...)
}

// stormEvery paces the leader-transfer storm's rounds.
const stormEvery = 2 * time.Second

// storm moves leaderships around until healed: each round terminates the
// leader of a random partition (a clean stop: it hands its leaderships
// over first), starts it again and asks for the preferred leaders back.
func (cf *clusterFaults) storm() Fault {
	const name = "leader-transfer-storm"
	return Fault{Name: name, Hold: [2]time.Duration{5 * time.Second, 15 * time.Second},
		Inject: func(ctx context.Context) error {
			sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			done := make(chan struct{})
			cf.mu.Lock()
			cf.stormStop, cf.stormDone = cancel, done
			cf.mu.Unlock()
			go func() {
				defer close(done)
				for round := 0; round < 1000 && sctx.Err() == nil; round++ {
					if err := cf.stormRound(sctx); err != nil && sctx.Err() == nil {
						cf.log.Add(Event{Ev: "detail", Fault: name, Detail: fmt.Sprintf("round %d: %v", round, err)})
					}
					wait(sctx, stormEvery)
				}
			}()
			return nil
		},
		Heal: func(ctx context.Context) error {
			cf.mu.Lock()
			stop, done := cf.stormStop, cf.stormDone
			cf.mu.Unlock()
			if stop != nil {
				stop()
				<-done
			}
			var errs []error
			for _, n := range cf.c.Nodes() {
				errs = append(errs, restart(ctx, n))
			}
			return errors.Join(errs...)
		},
	}
}

func (cf *clusterFaults) stormRound(ctx context.Context) error {
	n, err := cf.leader(ctx)
	if err != nil {
		return err
	}
	took, err := n.Terminate()
	cf.detail("leader-transfer-storm", n, "SIGTERM (leader of %s): exit in %v", cf.partDetail(), took.Round(time.Millisecond))
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cf.c.Seeds()...), kgo.DialTimeout(2*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = kadm.NewClient(cl).ElectLeaders(ectx, kadm.ElectPreferredReplica, nil)
	return err
}
