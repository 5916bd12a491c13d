package group

import (
	"encoding/binary"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// counterRand is a deterministic random source: the n-th 16-byte read
// encodes n, so the n-th member id ends in ...-8000-00000000000n and
// transcripts can name it #n.
type counterRand struct{ n uint64 }

func (r *counterRand) Read(p []byte) (int, error) {
	clear(p)
	r.n++
	if len(p) >= 8 {
		binary.BigEndian.PutUint64(p[len(p)-8:], r.n)
	}
	return len(p), nil
}

const uuidPrefix = "00000000-0000-4000-8000-"

var uuidRE = regexp.MustCompile(uuidPrefix + `([0-9a-f]{12})`)

// shorten renders generated uuids as #n.
func shorten(s string) string {
	return uuidRE.ReplaceAllStringFunc(s, func(u string) string {
		n, _ := strconv.ParseUint(u[len(uuidPrefix):], 16, 64)
		return "#" + strconv.FormatUint(n, 10)
	})
}

var shortRE = regexp.MustCompile(`#([0-9]+)`)

// expand turns #n back into the generated uuid.
func expand(s string) string {
	return shortRE.ReplaceAllStringFunc(s, func(h string) string {
		n, _ := strconv.ParseUint(h[1:], 10, 64)
		return fmt.Sprintf("%s%012x", uuidPrefix, n)
	})
}

// harness drives one Coordinator with an explicit clock and a log.
type harness struct {
	c       *Coordinator
	rand    *counterRand
	now     time.Time
	nextID  RequestID
	log     []Record // every record handed out, in order
	durable int      // how many of log are persisted
	manual  bool     // persist only on the "persist" command
	through Token
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newHarness(t testing.TB, cfg Config) *harness {
	r := &counterRand{}
	c, err := New(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{c: c, rand: r, now: epoch}
}

// args is a command's arguments: key → comma-separated values.
type args map[string]string

func parseArgs(d *datadriven.TestData) args {
	a := args{}
	for _, ca := range d.CmdArgs {
		a[ca.Key] = expand(strings.Join(ca.Vals, ","))
	}
	return a
}

func (a args) str(k, def string) string {
	if v, ok := a[k]; ok {
		return v
	}
	return def
}

func (a args) strPtr(k string) *string {
	if v, ok := a[k]; ok {
		return &v
	}
	return nil
}

func (a args) int(t testing.TB, k string, def int64) int64 {
	v, ok := a[k]
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", k, v, err)
	}
	return n
}

func (a args) list(k string) []string {
	v, ok := a[k]
	if !ok || v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// flush takes Ready, records what it wrote, persists it unless manual,
// and renders everything that came out.
func (h *harness) flush(t testing.TB) string {
	var b strings.Builder
	for {
		rd := h.c.Ready()
		if rd.Empty() {
			break
		}
		for _, r := range rd.Records {
			h.log = append(h.log, r)
			fmt.Fprintf(&b, "rec %d: %s\n", len(h.log), fmtRecord(r))
		}
		if rd.Through > 0 {
			h.through = rd.Through
		}
		for _, r := range rd.Responses {
			fmt.Fprintf(&b, "r%d: %s\n", r.ID, fmtResponse(roundTrip(t, r.Msg)))
		}
		if h.manual || len(rd.Records) == 0 {
			if !h.c.HasReady() {
				break
			}
			continue
		}
		h.c.Persisted(rd.Through)
		h.durable = len(h.log)
	}
	return shorten(b.String())
}

func (h *harness) handle(t testing.TB, a args, req kmsg.Request) {
	maxV := int64(0)
	for _, api := range APIs() {
		if api.Key == req.Key() {
			maxV = int64(api.MaxVersion)
		}
	}
	req.SetVersion(int16(a.int(t, "v", maxV)))
	h.nextID++
	client := Client{ID: a.str("client", "c"), Host: "/127.0.0.1"}
	if err := h.c.Handle(h.now, h.nextID, client, req); err != nil {
		t.Fatalf("handle: %v", err)
	}
}

func (h *harness) run(t *testing.T, d *datadriven.TestData) string {
	a := parseArgs(d)
	switch d.Cmd {
	case "new":
		cfg := DefaultConfig()
		cfg.InitialRebalanceDelay = time.Duration(a.int(t, "delay", 0)) * time.Millisecond
		cfg.MaxGroupSize = int(a.int(t, "max-size", int64(cfg.MaxGroupSize)))
		cfg.MaxGroups = int(a.int(t, "max-groups", int64(cfg.MaxGroups)))
		cfg.MaxOffsetMetadataBytes = int(a.int(t, "max-md", int64(cfg.MaxOffsetMetadataBytes)))
		*h = *newHarness(t, cfg)
		h.manual = a.str("persist", "auto") == "manual"
		return ""
	case "advance":
		h.now = h.now.Add(time.Duration(a.int(t, "ms", 0)) * time.Millisecond)
		h.c.Tick(h.now)
		return h.flush(t)
	case "persist": // manual mode: everything handed out is durable now
		h.c.Persisted(h.through)
		h.durable = len(h.log)
		h.manual = false
		out := h.flush(t)
		h.manual = true
		return out
	case "ready":
		return h.flush(t)
	case "deadline":
		d, ok := h.c.NextDeadline()
		if !ok {
			return "none\n"
		}
		return fmt.Sprintf("+%dms\n", d.Sub(h.now).Milliseconds())
	case "dump":
		return shorten(dumpState(h.c))
	case "replay":
		return shorten(h.replay(t))
	}
	req := h.request(t, d.Cmd, a)
	h.handle(t, a, req)
	return h.flush(t)
}

// replay rebuilds a coordinator from the durable log and dumps it.
func (h *harness) replay(t testing.TB) string {
	c, err := New(h.c.cfg, &counterRand{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range h.log[:h.durable] {
		if err := c.Replay(r.Key, r.Value); err != nil {
			t.Fatalf("replay: %v", err)
		}
	}
	return dumpState(c)
}

func TestTranscripts(t *testing.T) {
	datadriven.Walk(t, "testdata/transcripts", func(t *testing.T, path string) {
		h := newHarness(t, DefaultConfig())
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return h.run(t, d)
		})
	})
}

// dumpState renders what survives a restart: groups with state, protocol
// type, generation and offsets (members are listed apart).
func dumpState(c *Coordinator) string {
	var b strings.Builder
	for _, name := range c.sortedGroupNames() {
		g := c.groups[name]
		fmt.Fprintf(&b, "group %q type=%q gen=%d meta=%v\n", name, g.protocolType, g.generation, g.hasMetadata)
		for _, tp := range g.sortedOffsets() {
			o := g.offsets[tp]
			fmt.Fprintf(&b, "  %s/%d = %d epoch=%d md=%q\n", tp.topic, tp.partition, o.offset, o.leaderEpoch, o.metadata)
		}
	}
	return b.String()
}

func errName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	if e, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return e.Message
	}
	return strconv.Itoa(int(code))
}

// fmtMeta renders protocol metadata or an assignment: consumer-protocol
// topics when it decodes as that, else the raw string.
func fmtMeta(b []byte) string {
	var md kmsg.ConsumerMemberMetadata
	if md.ReadFrom(b) == nil && len(b) > 0 {
		return "{" + strings.Join(md.Topics, ",") + "}"
	}
	return strconv.Quote(string(b))
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func fmtRecord(r Record) string {
	switch binary.BigEndian.Uint16(r.Key) {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		_ = k.ReadFrom(r.Key)
		if r.Value == nil {
			return fmt.Sprintf("offset %s %s/%d tombstone", k.Group, k.Topic, k.Partition)
		}
		var v kmsg.OffsetCommitValue
		_ = v.ReadFrom(r.Value)
		return fmt.Sprintf("offset %s %s/%d = %d epoch=%d md=%q", k.Group, k.Topic, k.Partition, v.Offset, v.LeaderEpoch, v.Metadata)
	default:
		var k kmsg.GroupMetadataKey
		_ = k.ReadFrom(r.Key)
		if r.Value == nil {
			return fmt.Sprintf("group %s tombstone", k.Group)
		}
		var v kmsg.GroupMetadataValue
		_ = v.ReadFrom(r.Value)
		var ms []string
		for _, m := range v.Members {
			ms = append(ms, fmt.Sprintf("%s(inst=%s sub=%s assign=%s)", m.MemberID, deref(m.InstanceID), fmtMeta(m.Subscription), fmtMeta(m.Assignment)))
		}
		return fmt.Sprintf("group %s type=%s gen=%d proto=%s leader=%s members=[%s]", k.Group, v.ProtocolType, v.Generation, deref(v.Protocol), deref(v.Leader), strings.Join(ms, " "))
	}
}

// roundTrip encodes a response at its version and decodes it back, as a
// client would: transcripts show what reaches the client (fields the
// version lacks are gone), and a response that does not decode fails.
func roundTrip(t testing.TB, resp kmsg.Response) kmsg.Response {
	t.Helper()
	back := resp.RequestKind().ResponseKind()
	if err := back.ReadFrom(resp.AppendTo(nil)); err != nil {
		t.Fatalf("%T v%d does not decode: %v", resp, resp.GetVersion(), err)
	}
	return back
}
