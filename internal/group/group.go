package group

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/petrel-streaming/petrel/internal/model"
)

// State is a classic group's state, named as Kafka names it on the wire.
type State int8

const (
	Empty State = iota
	PreparingRebalance
	CompletingRebalance
	Stable
	Dead
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

func (s State) String() string { return stateNames[s] }

// parseState reads a state name case-insensitively, as Kafka does for the
// ListGroups filter.
func parseState(s string) (State, bool) {
	for i, n := range stateNames {
		if strings.EqualFold(n, s) {
			return State(i), true
		}
	}
	return 0, false
}

// waiter is a request parked until the group can answer it.
type waiter struct {
	id      RequestID
	version int16
}

type protocol struct {
	name     string
	metadata []byte
}

// member is one member of a classic group.
type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	seq              uint64 // join order: iteration order everywhere
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocols        []protocol
	assignment       []byte

	join    *waiter   // JoinGroup parked until the rebalance completes
	sync    *waiter   // SyncGroup parked until the leader's assignment
	synced  bool      // has sent SyncGroup in this generation
	expires time.Time // session end, while not parked
}

func (m *member) metadataFor(proto string) []byte {
	for _, p := range m.protocols {
		if p.name == proto {
			return p.metadata
		}
	}
	return nil
}

func (m *member) sameProtocols(ps []kmsg.JoinGroupRequestProtocol) bool {
	return slices.EqualFunc(m.protocols, ps, func(a protocol, b kmsg.JoinGroupRequestProtocol) bool {
		return a.name == b.Name && string(a.metadata) == string(b.Metadata)
	})
}

type topicPartition struct {
	topic     string
	partition model.PartitionID
}

// committed is one committed offset.
type committed struct {
	offset      model.Offset
	leaderEpoch int32
	metadata    string
	commitMs    int64
}

// group is one classic group and its committed offsets.
type group struct {
	c            *Coordinator
	name         string
	state        State
	stateTime    time.Time
	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*member
	pending      map[string]time.Time // member ids handed out with MEMBER_ID_REQUIRED → expiry
	static       map[string]string    // group instance id → member id
	offsets      map[topicPartition]committed
	hasMetadata  bool // a group metadata record exists in the log

	// joinDeadline ends PreparingRebalance; while initialDelay is set it
	// moves with each new member, never past joinLimit.
	joinDeadline time.Time
	joinLimit    time.Time
	initialDelay bool
	// syncDeadline: members that have not sent SyncGroup by then are
	// removed (Kafka's pending-sync timeout).
	syncDeadline time.Time

	deadline   time.Time // earliest of the above and the members', while in timers
	timerIndex int       // place in Coordinator.timers; -1 when absent
}

func newGroup(c *Coordinator, name string) *group {
	return &group{
		c: c, name: name, state: Empty, stateTime: c.now,
		members: map[string]*member{}, pending: map[string]time.Time{},
		static: map[string]string{}, offsets: map[topicPartition]committed{},
		timerIndex: -1,
	}
}

func (g *group) setState(s State) {
	g.state = s
	g.stateTime = g.c.now
}

// sortedMembers returns the members in join order.
func (g *group) sortedMembers() []*member {
	ms := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *member) int { return cmp.Compare(a.seq, b.seq) })
	return ms
}

// checkInstance validates a static member's (instance id, member id) pair.
func (g *group) checkInstance(instanceID *string, memberID string) int16 {
	if instanceID == nil {
		return 0
	}
	known, ok := g.static[*instanceID]
	switch {
	case !ok:
		return kerr.UnknownMemberID.Code
	case known != memberID:
		return kerr.FencedInstanceID.Code
	}
	return 0
}

// supportsProtocols reports whether a member with these protocols may
// join: the group is empty, or the type matches and one protocol is
// supported by every other member.
func (g *group) supportsProtocols(self string, protocolType string, ps []kmsg.JoinGroupRequestProtocol) bool {
	if protocolType == "" || len(ps) == 0 {
		return false
	}
	others := 0
	for id := range g.members {
		if id != self {
			others++
		}
	}
	if others == 0 {
		return true
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range ps {
		if g.supportedByOthers(self, p.Name) {
			return true
		}
	}
	return false
}

func (g *group) supportedByOthers(self, proto string) bool {
	for id, m := range g.members {
		if id != self && !hasProtocol(m, proto) {
			return false
		}
	}
	return true
}

func hasProtocol(m *member, proto string) bool {
	return slices.ContainsFunc(m.protocols, func(p protocol) bool { return p.name == proto })
}

// selectProtocol picks the protocol every member supports that most
// members prefer (each votes for its first supported candidate); a tie
// goes to the earliest member's preference.
func (g *group) selectProtocol(ms []*member) string {
	var candidates []string
	for _, p := range ms[0].protocols {
		if !slices.Contains(candidates, p.name) && g.supportedByOthers("", p.name) {
			candidates = append(candidates, p.name)
		}
	}
	votes := make([]int, len(candidates))
	for _, m := range ms {
		for _, p := range m.protocols {
			if i := slices.Index(candidates, p.name); i >= 0 {
				votes[i]++
				break
			}
		}
	}
	best := 0
	for i := range votes {
		if votes[i] > votes[best] {
			best = i
		}
	}
	return candidates[best]
}

// prepareRebalance moves the group to PreparingRebalance: parked syncs are
// told REBALANCE_IN_PROGRESS and a join deadline is set.
func (g *group) prepareRebalance() {
	if g.state == CompletingRebalance {
		for _, m := range g.sortedMembers() {
			if m.sync != nil {
				g.answerSync(m, kerr.RebalanceInProgress.Code)
			}
		}
	}
	for _, m := range g.members {
		m.assignment = nil
	}
	g.syncDeadline = time.Time{}
	now := g.c.now
	rt := g.maxRebalanceTimeout()
	if g.state == Empty {
		g.initialDelay = true
		g.joinLimit = now.Add(rt)
		g.joinDeadline = minTime(now.Add(g.c.cfg.InitialRebalanceDelay), g.joinLimit)
	} else {
		g.initialDelay = false
		g.joinDeadline = now.Add(rt)
	}
	g.setState(PreparingRebalance)
	g.tryCompleteJoin()
}

// memberJoined is called when a new member parks a JoinGroup: during the
// initial delay it extends the window.
func (g *group) memberJoined() {
	if g.state != PreparingRebalance {
		g.prepareRebalance()
		return
	}
	if g.initialDelay {
		g.joinDeadline = minTime(g.c.now.Add(g.c.cfg.InitialRebalanceDelay), g.joinLimit)
	}
	g.tryCompleteJoin()
}

// tryCompleteJoin completes the join phase once every member has rejoined
// (outside the initial delay) or the deadline passed.
func (g *group) tryCompleteJoin() {
	if g.state != PreparingRebalance {
		return
	}
	if !g.c.now.Before(g.joinDeadline) || (!g.initialDelay && g.allJoined()) {
		g.completeJoin()
	}
}

func (g *group) allJoined() bool {
	for _, m := range g.members {
		if m.join == nil {
			return false
		}
	}
	return true
}

// completeJoin ends PreparingRebalance: members that did not rejoin are
// removed, the generation moves on, and every parked JoinGroup is answered.
func (g *group) completeJoin() {
	for _, m := range g.sortedMembers() {
		if m.join == nil {
			g.removeMember(m)
		}
	}
	g.initialDelay = false
	g.joinDeadline = time.Time{}
	g.generation++
	if len(g.members) == 0 {
		g.protocol = ""
		g.leader = ""
		g.setState(Empty)
		g.writeMetadata()
		return
	}
	ms := g.sortedMembers()
	if _, ok := g.members[g.leader]; !ok {
		g.leader = ms[0].id
	}
	g.protocol = g.selectProtocol(ms)
	g.setState(CompletingRebalance)
	g.syncDeadline = g.c.now.Add(g.maxRebalanceTimeout())
	for _, m := range ms {
		m.synced = false
		resp := g.joinResponse(m.join.version, m.id)
		g.c.answer(m.join.id, resp)
		m.join = nil
		g.touch(m)
	}
}

// joinResponse is a successful JoinGroup answer for member id; the leader
// gets every member's metadata.
func (g *group) joinResponse(version int16, id string) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = version
	resp.Generation = g.generation
	resp.ProtocolType = kmsg.StringPtr(g.protocolType)
	resp.Protocol = kmsg.StringPtr(g.protocol)
	resp.LeaderID = g.leader
	resp.MemberID = id
	if id == g.leader {
		for _, m := range g.sortedMembers() {
			jm := kmsg.NewJoinGroupResponseMember()
			jm.MemberID = m.id
			jm.InstanceID = m.instanceID
			jm.ProtocolMetadata = m.metadataFor(g.protocol)
			resp.Members = append(resp.Members, jm)
		}
	}
	return resp
}

// answerSync answers m's parked SyncGroup with code, or with its
// assignment when code is 0.
func (g *group) answerSync(m *member, code int16) {
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.Version = m.sync.version
	resp.ErrorCode = code
	if code == 0 {
		resp.ProtocolType = kmsg.StringPtr(g.protocolType)
		resp.Protocol = kmsg.StringPtr(g.protocol)
		resp.MemberAssignment = m.assignment
	}
	g.c.answer(m.sync.id, resp)
	m.sync = nil
	g.touch(m)
}

// answerJoinError answers m's parked JoinGroup with an error.
func (g *group) answerJoinError(m *member, code int16) {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = m.join.version
	resp.ErrorCode = code
	resp.MemberID = m.id
	g.c.answer(m.join.id, resp)
	m.join = nil
}

// touch restarts m's session.
func (g *group) touch(m *member) { m.expires = g.c.now.Add(m.sessionTimeout) }

// removeMember drops m without starting a rebalance; parked requests are
// answered UNKNOWN_MEMBER_ID.
func (g *group) removeMember(m *member) {
	if m.join != nil {
		g.answerJoinError(m, kerr.UnknownMemberID.Code)
	}
	if m.sync != nil {
		g.answerSync(m, kerr.UnknownMemberID.Code)
	}
	delete(g.members, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
	}
}

// memberGone removes m (left, expired, missed sync) and moves the group on
// as Kafka does.
func (g *group) memberGone(m *member) {
	g.removeMember(m)
	switch g.state {
	case Stable, CompletingRebalance:
		g.prepareRebalance()
	case PreparingRebalance:
		g.tryCompleteJoin()
	}
}

func (g *group) maxRebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// tick runs the group's due timers.
func (g *group) tick(now time.Time) {
	for id, exp := range g.pending {
		if !now.Before(exp) {
			delete(g.pending, id)
		}
	}
	if g.state == PreparingRebalance {
		g.tryCompleteJoin()
	}
	if !g.syncDeadline.IsZero() && !now.Before(g.syncDeadline) {
		g.syncDeadline = time.Time{}
		var late []*member
		for _, m := range g.sortedMembers() {
			if !m.synced {
				late = append(late, m)
			}
		}
		for _, m := range late {
			g.removeMember(m)
		}
		if len(late) > 0 {
			g.prepareRebalance()
		}
	}
	for _, m := range g.sortedMembers() {
		if m.join == nil && m.sync == nil && !now.Before(m.expires) && g.members[m.id] == m {
			g.memberGone(m)
		}
	}
}

func (g *group) nextDeadline() (time.Time, bool) {
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, exp := range g.pending {
		consider(exp)
	}
	if g.state == PreparingRebalance {
		consider(g.joinDeadline)
	}
	consider(g.syncDeadline)
	for _, m := range g.members {
		if m.join == nil && m.sync == nil {
			consider(m.expires)
		}
	}
	return next, !next.IsZero()
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
