package kafka

// What the keys tell clients about the cluster: every broker's endpoint,
// and where a partition's leader is when it is not here.
//
// Brokers come from the controller tables (their registered Kafka
// address and rack); this node is listed at its advertised address even
// before its registration is applied. A partition's leader, epoch and
// in-sync replicas come from Broker.Leadership.
//
// Leader hints (KIP-951): a Produce (v10+) or Fetch (v16+) partition
// answered NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH carries
// CurrentLeader {leader id, epoch} as this node knows it, and the
// response lists the endpoints of the brokers hinted (and only those), so
// the client goes straight to the new leader without a Metadata round.

import (
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/cluster"
	"github.com/petrel-streaming/petrel/internal/model"
	"github.com/petrel-streaming/petrel/internal/partition"
)

// endpoint is a broker as clients connect to it.
type endpoint struct {
	id   int32
	host string
	port int32
	rack *string
}

// brokerEndpoint resolves one broker: this node at its advertised
// address, another at its registered Kafka address. ok is false for a
// broker that is not registered (or whose address does not parse).
func brokerEndpoint(b Broker, tables *cluster.Tables, id model.NodeID) (endpoint, bool) {
	e := endpoint{id: int32(id)}
	reg, registered := tables.Broker(id)
	if registered && reg.Rack != "" {
		rack := reg.Rack
		e.rack = &rack
	}
	if int32(id) == b.NodeID() {
		e.host, e.port = b.Advertised()
		return e, true
	}
	if !registered {
		return e, false
	}
	host, port, err := net.SplitHostPort(reg.KafkaAddr)
	if err != nil {
		return e, false
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return e, false
	}
	e.host, e.port = host, int32(p)
	return e, true
}

// brokerEndpoints lists every registered broker that is alive, this
// node, and the brokers in named (the leaders and controller a response
// names: a client fails on an id missing from the list), sorted by id.
// As Kafka, Metadata leaves out the other brokers that are down (clients
// would keep dialing them).
//
// Liveness is this node's view, which means something only when this
// node reaches a majority of the brokers: a node cut off from the others
// sees them all down, and a client that believed it would forget every
// broker but the cut-off one (clients drop the brokers a Metadata answer
// leaves out) and ask only it where the leaders are. A node in the
// minority lists every broker.
func brokerEndpoints(b Broker, tables *cluster.Tables, named ...model.NodeID) []endpoint {
	regs := tables.Brokers()
	live := 0
	for _, reg := range regs {
		if b.Live(reg.NodeID) || reg.NodeID == model.NodeID(b.NodeID()) {
			live++
		}
	}
	minority := 2*live <= len(regs)
	ids := make([]model.NodeID, 0, 8)
	for _, reg := range regs {
		if minority || b.Live(reg.NodeID) || slices.Contains(named, reg.NodeID) {
			ids = append(ids, reg.NodeID)
		}
	}
	if self := model.NodeID(b.NodeID()); !slices.Contains(ids, self) {
		ids = append(ids, self)
		slices.Sort(ids)
	}
	out := make([]endpoint, 0, len(ids))
	for _, id := range ids {
		if e, ok := brokerEndpoint(b, tables, id); ok {
			out = append(out, e)
		}
	}
	return out
}

// localLeader is a partition's read state when this node leads it and
// serves, or NOT_LEADER_OR_FOLLOWER: a follower replica, a partition
// this node does not host, or a leader whose read lease lapsed (cut off
// from its followers, it may have been replaced). Every key that needs
// the leader's log checks it before anything else about the partition.
func localLeader(b Broker, key model.PartitionKey) (*partition.ReadState, int16) {
	rs := b.ReadState(key)
	if rs == nil || !rs.Serving(time.Now()) {
		return nil, kerr.NotLeaderForPartition.Code
	}
	return rs, 0
}

// needsHint reports whether a partition's error code sends the client to
// another leader (KIP-951).
func needsHint(code int16) bool {
	return code == kerr.NotLeaderForPartition.Code || code == kerr.FencedLeaderEpoch.Code
}

// leaderHints resolves the current leader of the partitions a response
// refuses, and remembers which brokers it named.
type leaderHints struct {
	b      Broker
	tables *cluster.Tables
	named  []model.NodeID
}

func newLeaderHints(b Broker) *leaderHints { return &leaderHints{b: b, tables: b.Tables()} }

// current is the CurrentLeader of a partition named as the response
// names it and answered with code: the leader as this node knows it when
// code sends the client elsewhere, else the default (-1, -1: nothing
// encoded). The Produce response's type converts from it (same fields).
func (h *leaderHints) current(code int16, topic string, topicID [16]byte, p int32) kmsg.FetchResponseTopicPartitionCurrentLeader {
	out := kmsg.NewFetchResponseTopicPartitionCurrentLeader()
	if !needsHint(code) {
		return out
	}
	tp, ok := topicOf(h.tables, topic, topicID)
	if !ok {
		return out
	}
	key, ok := partitionKey(tp, p)
	if !ok {
		return out
	}
	l := h.b.Leadership(key)
	if l.Leader < 0 {
		return out
	}
	if !slices.Contains(h.named, l.Leader) {
		h.named = append(h.named, l.Leader)
	}
	out.LeaderID, out.LeaderEpoch = int32(l.Leader), l.Epoch
	return out
}

// brokers are the named brokers' endpoints, sorted by id, as a Fetch
// response lists them (the Produce response's type converts).
func (h *leaderHints) brokers() []kmsg.FetchResponseBroker {
	slices.Sort(h.named)
	out := make([]kmsg.FetchResponseBroker, 0, len(h.named))
	for _, id := range h.named {
		if e, ok := brokerEndpoint(h.b, h.tables, id); ok {
			out = append(out, kmsg.FetchResponseBroker{NodeID: e.id, Host: e.host, Port: e.port, Rack: e.rack})
		}
	}
	return out
}
