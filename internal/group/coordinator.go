package group

import (
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Coordinator is the classic-protocol group coordinator of one
// __consumer_offsets partition: a deterministic state machine. It reads no
// clock (every call takes now), starts no goroutine and does no I/O; what
// it wants persisted and answered comes out of Ready.
//
// Ownership: one owner at a time (the Service goroutine, or a test); no
// method is safe for concurrent use.
type Coordinator struct {
	cfg    Config
	rand   io.Reader
	groups map[string]*group

	now     time.Time // time of the Handle or Tick in progress
	joinSeq uint64    // orders members by first join

	records   []Record // not yet handed out by Ready
	lastToken Token    // token of the newest record created
	persisted Token    // every record up to here is durable
	answers   []gated  // in gate order (gates never decrease)
	timers    timers   // groups with a deadline, earliest first
}

// gated is a response held until the records up to gate are durable.
type gated struct {
	gate Token
	resp Response
}

// New returns an empty coordinator. rand supplies the random part of member
// ids (crypto/rand.Reader in production, a fixed stream in tests).
func New(cfg Config, rand io.Reader) (*Coordinator, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Coordinator{cfg: cfg, rand: rand, groups: map[string]*group{}}, nil
}

// API is one Kafka API key this package serves, with its version range.
type API struct {
	Key        int16
	MinVersion int16
	MaxVersion int16
}

// APIs lists the keys and versions Handle serves; the broker registers
// exactly these. OffsetCommit and OffsetFetch stop at v9: v10 names topics
// by id, which the coordinator cannot resolve.
func APIs() []API {
	return []API{
		{Key: 8, MinVersion: 0, MaxVersion: offsetCommitMaxVersion},
		{Key: 9, MinVersion: 0, MaxVersion: offsetFetchMaxVersion},
		{Key: 11, MinVersion: 0, MaxVersion: 9},
		{Key: 12, MinVersion: 0, MaxVersion: 4},
		{Key: 13, MinVersion: 0, MaxVersion: 5},
		{Key: 14, MinVersion: 0, MaxVersion: 5},
		{Key: 15, MinVersion: 0, MaxVersion: 6},
		{Key: 16, MinVersion: 0, MaxVersion: 5},
		{Key: 42, MinVersion: 0, MaxVersion: 3},
		{Key: 47, MinVersion: 0, MaxVersion: 0},
	}
}

func supported(req kmsg.Request) bool {
	for _, a := range APIs() {
		if a.Key == req.Key() {
			v := req.GetVersion()
			return v >= a.MinVersion && v <= a.MaxVersion
		}
	}
	return false
}

// Handle takes one request. Its response comes out of a later Ready: at
// once for most requests, after a rebalance for JoinGroup and SyncGroup,
// and always only once the records it depends on are persisted. Byte and
// string fields of req are copied where kept, so the caller may reuse
// req's buffer once Handle returns.
func (c *Coordinator) Handle(now time.Time, id RequestID, client Client, req kmsg.Request) error {
	if req == nil || !supported(req) {
		return fmt.Errorf("%w: %T", ErrUnsupported, req)
	}
	c.now = now
	w := waiter{id: id, version: req.GetVersion()}
	switch r := req.(type) {
	case *kmsg.OffsetCommitRequest:
		c.answer(id, c.offsetCommit(r))
	case *kmsg.OffsetFetchRequest:
		c.answer(id, c.offsetFetch(r))
	case *kmsg.JoinGroupRequest:
		c.joinGroup(w, client, r)
	case *kmsg.HeartbeatRequest:
		c.answer(id, c.heartbeat(r))
	case *kmsg.LeaveGroupRequest:
		c.answer(id, c.leaveGroup(r))
	case *kmsg.SyncGroupRequest:
		c.syncGroup(w, r)
	case *kmsg.DescribeGroupsRequest:
		c.answer(id, c.describeGroups(r))
	case *kmsg.ListGroupsRequest:
		c.answer(id, c.listGroups(r))
	case *kmsg.DeleteGroupsRequest:
		c.answer(id, c.deleteGroups(r))
	case *kmsg.OffsetDeleteRequest:
		c.answer(id, c.offsetDelete(r))
	default:
		return fmt.Errorf("%w: %T", ErrUnsupported, req)
	}
	if g := c.groups[groupOf(req)]; g != nil {
		c.schedule(g)
	}
	return nil
}

// answer queues resp for request id, held until every record created so
// far is durable: no client ever sees state that a crash could undo.
func (c *Coordinator) answer(id RequestID, resp kmsg.Response) {
	c.answers = append(c.answers, gated{gate: c.lastToken, resp: Response{ID: id, Msg: resp}})
}

// write queues a record for the log.
func (c *Coordinator) write(r Record) {
	c.records = append(c.records, r)
	c.lastToken++
}

// Ready hands out the records to append and the responses that may be
// sent now. Each record is handed out once.
func (c *Coordinator) Ready() Ready {
	var rd Ready
	if len(c.records) > 0 {
		rd.Records, c.records = c.records, nil
		rd.Through = c.lastToken
	}
	n := 0
	for n < len(c.answers) && c.answers[n].gate <= c.persisted {
		rd.Responses = append(rd.Responses, c.answers[n].resp)
		n++
	}
	c.answers = slices.Delete(c.answers, 0, n)
	return rd
}

// HasReady reports whether Ready would return anything.
func (c *Coordinator) HasReady() bool {
	return len(c.records) > 0 || (len(c.answers) > 0 && c.answers[0].gate <= c.persisted)
}

// Persisted says every record up to and including token t is durable.
func (c *Coordinator) Persisted(t Token) {
	if t > c.lastToken {
		t = c.lastToken // a token never handed out: clamp, never gate past it
	}
	if t > c.persisted {
		c.persisted = t
	}
}

func (c *Coordinator) sortedGroupNames() []string {
	names := make([]string, 0, len(c.groups))
	for name := range c.groups {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// newMemberID builds prefix-uuid as Kafka does: prefix is the group
// instance id for a static member, else the client id.
func (c *Coordinator) newMemberID(prefix string) string {
	var b [16]byte
	if _, err := io.ReadFull(c.rand, b[:]); err != nil {
		// A failing random source is a broken process, not an input.
		panic(fmt.Sprintf("group: random source: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return prefix + "-" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// lookupOrCreate returns the named group, creating an Empty one when
// create is set and the coordinator has room; ok is false when the group
// does not exist (and was not created).
func (c *Coordinator) lookupOrCreate(name string, create bool) (g *group, ok, full bool) {
	if g := c.groups[name]; g != nil {
		return g, true, false
	}
	if !create {
		return nil, false, false
	}
	if len(c.groups) >= c.cfg.MaxGroups {
		return nil, false, true
	}
	g = newGroup(c, strings.Clone(name)) // req's bytes may be reused
	c.groups[g.name] = g
	return g, true, false
}
