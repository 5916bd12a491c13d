package cluster

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/petrel-streaming/petrel/internal/model"
)

// TestDataDriven runs the command transcripts in testdata/commands: each command
// goes through the frontend (plan, Validate), the codec (AppendTo,
// DecodeCommand) and the backend (Apply at the next index), and prints the
// result; "tables" prints the read view. Every command also checks that
// Validate and Apply agree, and that a snapshot taken after it decodes to
// the same state. Rewrite with -rewrite.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/commands", func(t *testing.T, path string) {
		h := &harness{s: NewState(), defaults: Defaults{Partitions: 1, ReplicationFactor: 3}}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return h.run(t, d)
		})
	})
}

type harness struct {
	s        *State
	index    model.Index
	defaults Defaults
}

func (h *harness) run(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "tables":
		return formatTables(h.s.Tables())
	case "describe":
		return h.describe(t, d)
	case "plan-decommission", "plan-recommission":
		return h.planDrain(t, d)
	case "decommission-status":
		st, err := h.s.Tables().DecommissionStatus(model.NodeID(intArg(t, d, "id", 0)))
		if err != nil {
			return "error: " + formatErr(err)
		}
		return fmt.Sprintf("draining=%v partitions=%d moving=%d done=%v listed=%v\n", st.Draining, st.Partitions, st.Moving, st.Done(), st.Listed)
	case "broker-defaults":
		if err := h.s.SetTopicDefaults(inputConfigs(t, d)); err != nil {
			return "error: " + err.Error() + "\n"
		}
		return "ok\n"
	}
	cmd, err := h.command(t, d)
	if err != nil {
		return "plan error: " + formatErr(err)
	}
	return h.apply(t, cmd)
}

// apply runs cmd through the codec, Validate and Apply, checks they agree
// and that the state survives a snapshot round trip, and formats the result.
func (h *harness) apply(t *testing.T, cmd Command) string {
	t.Helper()
	enc := cmd.AppendTo(nil)
	dec, err := DecodeCommand(enc)
	if err != nil {
		t.Fatalf("decode own encoding of %T: %v", cmd, err)
	}
	if re := dec.AppendTo(nil); !slices.Equal(re, enc) {
		t.Fatalf("%T: re-encoding differs:\n%x\n%x", cmd, enc, re)
	}
	verr := h.s.Validate(dec)
	before := h.s.AppendSnapshot(nil)
	h.index++
	res, aerr := h.s.Apply(h.index, dec)
	if ErrorCode(verr) != ErrorCode(aerr) {
		t.Fatalf("Validate said %v, Apply said %v", verr, aerr)
	}
	h.checkSnapshot(t)
	if aerr != nil {
		after := h.s.AppendSnapshot(nil)
		if string(before[12:len(before)-4]) != string(after[12:len(after)-4]) { // all but index and crc
			t.Fatalf("a failed %T changed the state", cmd)
		}
		return "error: " + formatErr(aerr)
	}
	switch {
	case res.Moves != nil:
		var b strings.Builder
		fmt.Fprintf(&b, "ok: topic %s\n", res.Topic.Name)
		for _, m := range res.Moves {
			if m.Err != nil {
				fmt.Fprintf(&b, "  p%d %s", m.Partition, formatErr(m.Err))
			} else {
				fmt.Fprintf(&b, "  p%d ok\n", m.Partition)
			}
		}
		return b.String()
	case res.Topic != nil:
		return fmt.Sprintf("ok: topic %s, %d partitions\n", res.Topic.Name, len(res.Topic.Partitions))
	case cmd.Type() == TypeAllocateProducerIDs:
		return fmt.Sprintf("ok: first producer id %d\n", res.FirstProducerID)
	}
	return "ok\n"
}

func (h *harness) checkSnapshot(t *testing.T) {
	t.Helper()
	snap := h.s.AppendSnapshot(nil)
	got, err := DecodeSnapshot(snap)
	if err != nil {
		t.Fatalf("decode own snapshot: %v", err)
	}
	if err := got.SetTopicDefaults(h.s.Tables().TopicDefaults()); err != nil {
		t.Fatal(err)
	}
	if a, b := formatTables(got.Tables()), formatTables(h.s.Tables()); a != b {
		t.Fatalf("snapshot round trip differs:\n%s\nwant\n%s", a, b)
	}
	if re := got.AppendSnapshot(nil); !slices.Equal(re, snap) {
		t.Fatal("snapshot of decoded snapshot differs")
	}
}

func (h *harness) command(t *testing.T, d *datadriven.TestData) (Command, error) {
	tables := h.s.Tables()
	switch d.Cmd {
	case "register":
		c := &RegisterBroker{KafkaAddr: "127.0.0.1:9092", RPCAddr: "127.0.0.1:33145"}
		c.NodeID = model.NodeID(intArg(t, d, "id", 0))
		d.MaybeScanArgs(t, "kafka", &c.KafkaAddr)
		d.MaybeScanArgs(t, "rpc", &c.RPCAddr)
		d.MaybeScanArgs(t, "rack", &c.Rack)
		return c, nil
	case "create-topic":
		req := TopicRequest{Partitions: -1, ReplicationFactor: -1, Configs: inputConfigs(t, d)}
		d.ScanArgs(t, "name", &req.Name)
		req.Partitions = int32(intArg(t, d, "partitions", -1))
		req.ReplicationFactor = int16(intArg(t, d, "rf", -1))
		req.Assignment = assignArg(t, d)
		id := testTopicID(intArg(t, d, "id", 1))
		if d.HasArg("raw") { // straight to the backend, no plan
			return &CreateTopic{Name: req.Name, ID: id, Partitions: req.Partitions, ReplicationFactor: req.ReplicationFactor,
				Assignment: req.Assignment, Configs: req.Configs}, nil
		}
		return tables.PlanCreateTopic(req, id, h.defaults)
	case "delete-topic":
		return &DeleteTopic{ID: h.topicID(t, d)}, nil
	case "create-partitions":
		total := int32(intArg(t, d, "total", 0))
		if d.HasArg("raw") {
			return &CreatePartitions{ID: h.topicID(t, d), NewTotal: total, Assignment: assignArg(t, d)}, nil
		}
		var name string
		d.ScanArgs(t, "name", &name)
		return tables.PlanCreatePartitions(name, total, assignArg(t, d))
	case "alter-configs":
		c := &AlterConfigs{Set: inputConfigs(t, d), Replace: d.HasArg("replace")}
		if d.HasArg("id") {
			c.ID = testTopicID(intArg(t, d, "id", 0))
		} else {
			d.MaybeScanArgs(t, "name", &c.Name)
		}
		if a, ok := d.Arg("delete"); ok {
			c.Delete = a.Vals
		}
		return c, nil
	case "alloc-pids":
		return &AllocateProducerIDs{Count: int64(intArg(t, d, "count", 0))}, nil
	case "reassign":
		c := &AlterReassignments{Topic: h.topicID(t, d)}
		if a, ok := d.Arg("moves"); ok {
			for _, v := range a.Vals {
				p, target, ok := strings.Cut(v, ":")
				if !ok {
					t.Fatalf("moves: %q: want partition:replicas or partition:cancel", v)
				}
				n, err := strconv.Atoi(p)
				if err != nil {
					t.Fatalf("moves: %q", v)
				}
				m := Move{Partition: model.PartitionID(n)}
				switch target {
				case "cancel":
				case "empty":
					m.Target = []model.NodeID{}
				default:
					m.Target = nodeList(t, target)
				}
				c.Moves = append(c.Moves, m)
			}
		}
		return c, nil
	case "complete":
		var r string
		d.ScanArgs(t, "replicas", &r)
		return &CompleteReassignment{Topic: h.topicID(t, d), Partition: model.PartitionID(intArg(t, d, "p", 0)), Replicas: nodeList(t, r)}, nil
	case "drain":
		return &SetBrokerDraining{NodeID: model.NodeID(intArg(t, d, "id", 0)), Draining: !d.HasArg("off")}, nil
	case "maintenance":
		return &SetBrokerMaintenance{NodeID: model.NodeID(intArg(t, d, "id", 0)), Enabled: !d.HasArg("off")}, nil
	}
	t.Fatalf("unknown command %q", d.Cmd)
	return nil, nil
}

// topicID resolves name= through the tables, or takes id= as is.
func (h *harness) topicID(t *testing.T, d *datadriven.TestData) model.TopicID {
	if d.HasArg("id") {
		return testTopicID(intArg(t, d, "id", 0))
	}
	var name string
	d.ScanArgs(t, "name", &name)
	if tp, ok := h.s.Tables().TopicByName(name); ok {
		return tp.ID
	}
	return testTopicID(999)
}

func (h *harness) describe(t *testing.T, d *datadriven.TestData) string {
	var entries []ConfigEntry
	if d.HasArg("broker") {
		entries = DescribeBrokerConfigs(BrokerInfo{NodeID: 1, DefaultPartitions: h.defaults.Partitions,
			DefaultReplicationFactor: h.defaults.ReplicationFactor, TopicDefaults: h.s.Tables().TopicDefaults()})
	} else {
		var name string
		d.ScanArgs(t, "name", &name)
		tp, ok := h.s.Tables().TopicByName(name)
		if !ok {
			return "unknown topic\n"
		}
		entries = h.s.Tables().DescribeConfigs(tp)
	}
	var b strings.Builder
	for _, e := range entries {
		if d.HasArg("changed") && e.IsDefault {
			continue
		}
		fmt.Fprintf(&b, "%s=%s %s %s ro=%v", e.Name, e.Value, e.Source, e.Type, e.ReadOnly)
		for _, s := range e.Synonyms {
			fmt.Fprintf(&b, " [%s=%s %s]", s.Name, s.Value, s.Source)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// planDrain prints PlanDecommission's (or PlanRecommission's) commands
// and, with apply, applies them.
func (h *harness) planDrain(t *testing.T, d *datadriven.TestData) string {
	plan := h.s.Tables().PlanDecommission
	if d.Cmd == "plan-recommission" {
		plan = h.s.Tables().PlanRecommission
	}
	cmds, err := plan(model.NodeID(intArg(t, d, "id", 0)))
	if err != nil {
		return "error: " + formatErr(err)
	}
	var b strings.Builder
	for _, c := range cmds {
		tp, _ := h.s.Tables().TopicByID(c.Topic)
		for _, m := range c.Moves {
			to := fmt.Sprint(m.Target)
			if m.Target == nil {
				to = "cancel"
			}
			fmt.Fprintf(&b, "%s/%d %v -> %s\n", tp.Name, m.Partition, tp.Partitions[m.Partition].Replicas, to)
		}
		if d.HasArg("apply") {
			b.WriteString(h.apply(t, c))
		}
	}
	if len(cmds) == 0 {
		b.WriteString("nothing to move\n")
	}
	return b.String()
}

func formatErr(err error) string {
	name := "UNKNOWN"
	if ke := kerr.ErrorForCode(ErrorCode(err)); ke != nil {
		var k *kerr.Error
		if errors.As(ke, &k) {
			name = k.Message
		}
	}
	return name + ": " + err.Error() + "\n"
}

func formatTables(t *Tables) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version=%d next-producer-id=%d partitions=%d\n", t.Version(), t.NextProducerID(), t.PartitionCount())
	for _, br := range t.Brokers() {
		fmt.Fprintf(&b, "broker %d kafka=%s rpc=%s rack=%q", br.NodeID, br.KafkaAddr, br.RPCAddr, br.Rack)
		if br.Draining {
			b.WriteString(" draining")
		}
		if br.Maintenance {
			b.WriteString(" maintenance")
		}
		b.WriteString("\n")
	}
	for _, tp := range t.Topics() {
		fmt.Fprintf(&b, "topic %s id=%s rf=%d revision=%d internal=%v\n", tp.Name, shortID(tp.ID), tp.ReplicationFactor, tp.Revision, tp.Internal)
		if len(tp.Configs) > 0 {
			b.WriteString("  configs:")
			for _, k := range slices.Sorted(maps.Keys(tp.Configs)) {
				fmt.Fprintf(&b, " %s=%s", k, tp.Configs[k])
			}
			b.WriteString("\n")
		}
		c := tp.Config
		fmt.Fprintf(&b, "  resolved: retention.ms=%d retention.bytes=%d segment.bytes=%d segment.ms=%d max.message.bytes=%d log-append-time=%v\n",
			c.RetentionMs, c.RetentionBytes, c.SegmentBytes, c.SegmentMs, c.MaxMessageBytes, c.LogAppendTime)
		for i, p := range tp.Partitions {
			if i == 6 {
				fmt.Fprintf(&b, "  … %d more\n", len(tp.Partitions)-i)
				break
			}
			fmt.Fprintf(&b, "  p%d replicas=%v leader=%d", p.ID, p.Replicas, p.Leader)
			if p.Target != nil {
				fmt.Fprintf(&b, " target=%v", p.Target)
			}
			if p.Moved {
				b.WriteString(" moved")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// testTopicID makes a readable id: n in the last two bytes.
func testTopicID(n int) model.TopicID {
	var id model.TopicID
	id[14], id[15] = byte(n>>8), byte(n)
	return id
}

func shortID(id model.TopicID) string {
	if id == testTopicID(int(id[14])<<8|int(id[15])) {
		return "#" + strconv.Itoa(int(id[14])<<8|int(id[15]))
	}
	return id.String()
}

func intArg(t *testing.T, d *datadriven.TestData, key string, def int) int {
	if !d.HasArg(key) {
		return def
	}
	var v int
	d.ScanArgs(t, key, &v)
	return v
}

// assignArg reads assign=(1/2,2/3): partitions separated by commas,
// replicas by slashes.
func assignArg(t *testing.T, d *datadriven.TestData) [][]model.NodeID {
	a, ok := d.Arg("assign")
	if !ok {
		return nil
	}
	var out [][]model.NodeID
	for _, v := range a.Vals {
		out = append(out, nodeList(t, v))
	}
	return out
}

// nodeList reads 1/2/3.
func nodeList(t *testing.T, s string) []model.NodeID {
	var out []model.NodeID
	for _, f := range strings.Split(s, "/") {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("node list %q", s)
		}
		out = append(out, model.NodeID(n))
	}
	return out
}

// inputConfigs reads key=value lines from the input.
func inputConfigs(t *testing.T, d *datadriven.TestData) map[string]string {
	if strings.TrimSpace(d.Input) == "" {
		return nil
	}
	m := map[string]string{}
	for _, line := range strings.Split(d.Input, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("config line %q: want key=value", line)
		}
		m[k] = v
	}
	return m
}
