package cluster

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TopicConfig is a topic's resolved configuration, typed, as partitions
// use it: every field holds the topic's value, else the broker default,
// else the declared default.
type TopicConfig struct {
	RetentionMs          int64 // -1: forever
	RetentionBytes       int64 // -1: no limit
	SegmentBytes         int64
	SegmentMs            int64
	IndexIntervalBytes   int32
	MaxMessageBytes      int32
	LogAppendTime        bool // message.timestamp.type=LogAppendTime
	TimestampBeforeMaxMs int64
	TimestampAfterMaxMs  int64
}

// declTable is the declaration table with a name index, read-only once
// built, so any goroutine may share it.
type declTable struct {
	list   []TopicConfigDecl
	byName map[string]int
}

// decls returns the one shared, immutable declTable, built on first use.
var decls = sync.OnceValue(newDeclTable)

func newDeclTable() *declTable {
	t := &declTable{list: topicConfigDecls(), byName: map[string]int{}}
	for i, d := range t.list {
		t.byName[d.Name] = i
	}
	return t
}

func (t *declTable) lookup(name string) (*TopicConfigDecl, bool) {
	i, ok := t.byName[name]
	if !ok {
		return nil, false
	}
	return &t.list[i], true
}

// TopicConfigDecls returns the declarations, sorted by name. The slice is
// a copy.
func TopicConfigDecls() []TopicConfigDecl { return topicConfigDecls() }

// check validates one value against its declaration. Errors wrap
// ErrInvalidConfig and name the key and the value.
func (d *TopicConfigDecl) check(value string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %s=%q: %s", ErrInvalidConfig, d.Name, value, why)
	}
	switch d.Type {
	case kmsg.ConfigTypeBoolean:
		if value != "true" && value != "false" {
			return bad("want true or false")
		}
	case kmsg.ConfigTypeInt, kmsg.ConfigTypeLong:
		bits := 64
		if d.Type == kmsg.ConfigTypeInt {
			bits = 32
		}
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, bits)
		if err != nil {
			return bad(fmt.Sprintf("want a %d-bit integer", bits))
		}
		if d.bounded && (n < d.lo || n > d.hi) {
			return bad("want " + d.Bounds)
		}
	case kmsg.ConfigTypeDouble:
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || math.IsNaN(f) {
			return bad("want a number")
		}
		if d.bounded && (f < float64(d.lo) || f > float64(d.hi)) {
			return bad("want " + d.Bounds)
		}
	case kmsg.ConfigTypeString:
		if len(d.Enum) > 0 && !slices.Contains(d.Enum, value) {
			return bad("want one of " + strings.Join(d.Enum, ", "))
		}
	case kmsg.ConfigTypeList:
		if len(d.Enum) > 0 {
			items := splitList(value)
			if len(items) == 0 {
				return bad("want one or more of " + strings.Join(d.Enum, ", "))
			}
			for _, it := range items {
				if !slices.Contains(d.Enum, it) {
					return bad("want one or more of " + strings.Join(d.Enum, ", "))
				}
			}
		}
	}
	if d.refuse != nil {
		if why := d.refuse(value); why != "" {
			return bad(why)
		}
	}
	return nil
}

// CheckTopicConfigs validates a set of topic configs: every key declared,
// every value valid. The first error wins, in key order, so the same input
// always gives the same error.
func CheckTopicConfigs(m map[string]string) error { return decls().checkAll(m) }

func (t *declTable) checkAll(m map[string]string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := t.checkOne(k, m[k]); err != nil {
			return err
		}
	}
	return nil
}

func (t *declTable) checkOne(key, value string) error {
	d, ok := t.lookup(key)
	if !ok {
		return fmt.Errorf("%w: unknown topic config %q", ErrInvalidConfig, key)
	}
	return d.check(value)
}

// Resolve returns the typed configuration of a topic whose own configs are
// topic, on a node whose broker-level defaults are broker (keyed by topic
// config name: "retention.ms", not "log.retention.ms"; nil for none). Both
// are validated.
func Resolve(topic, broker map[string]string) (TopicConfig, error) {
	t := decls()
	if err := t.checkAll(broker); err != nil {
		return TopicConfig{}, fmt.Errorf("broker default: %w", err)
	}
	if err := t.checkAll(topic); err != nil {
		return TopicConfig{}, err
	}
	var c TopicConfig
	for i := range t.list {
		d := &t.list[i]
		if d.set == nil {
			continue
		}
		v, _ := resolveValue(d, topic, broker)
		d.set(&c, v)
	}
	return c, nil
}

// resolveValue is the value in effect and where it came from.
func resolveValue(d *TopicConfigDecl, topic, broker map[string]string) (string, kmsg.ConfigSource) {
	if v, ok := topic[d.Name]; ok {
		return v, kmsg.ConfigSourceDynamicTopicConfig
	}
	if v, ok := broker[d.Name]; ok {
		return v, kmsg.ConfigSourceStaticBrokerConfig
	}
	return d.Default, kmsg.ConfigSourceDefaultConfig
}

// ConfigEntry is one config as DescribeConfigs reports it.
type ConfigEntry struct {
	Name      string
	Value     string
	Source    kmsg.ConfigSource
	IsDefault bool
	ReadOnly  bool
	Sensitive bool // always false: no topic or broker config here is secret
	Type      kmsg.ConfigType
	Doc       string
	Synonyms  []ConfigSynonym // in precedence order, the entry's own source first
}

// ConfigSynonym is one of the places a config's value may come from.
type ConfigSynonym struct {
	Name   string
	Value  string
	Source kmsg.ConfigSource
}

// DescribeTopicConfigs describes every declared topic config of a topic
// with configs topic on a node with broker-level defaults broker, sorted by
// name. The inputs are assumed valid (they were checked when stored).
func DescribeTopicConfigs(topic, broker map[string]string) []ConfigEntry {
	t := decls()
	out := make([]ConfigEntry, 0, len(t.list))
	for i := range t.list {
		d := &t.list[i]
		v, src := resolveValue(d, topic, broker)
		e := ConfigEntry{
			Name: d.Name, Value: v, Source: src, IsDefault: src == kmsg.ConfigSourceDefaultConfig,
			Type: d.Type, Doc: d.Doc,
		}
		if tv, ok := topic[d.Name]; ok {
			e.Synonyms = append(e.Synonyms, ConfigSynonym{d.Name, tv, kmsg.ConfigSourceDynamicTopicConfig})
		}
		e.Synonyms = append(e.Synonyms, brokerSynonyms(d, broker)...)
		out = append(out, e)
	}
	return out
}

// brokerSynonyms are the broker-level sources of d: the static broker
// value when set, then the default, both under the broker config's name.
func brokerSynonyms(d *TopicConfigDecl, broker map[string]string) []ConfigSynonym {
	name := d.BrokerName
	if name == "" {
		name = d.Name
	}
	var out []ConfigSynonym
	if bv, ok := broker[d.Name]; ok {
		out = append(out, ConfigSynonym{name, bv, kmsg.ConfigSourceStaticBrokerConfig})
	}
	return append(out, ConfigSynonym{name, d.Default, kmsg.ConfigSourceDefaultConfig})
}

// BrokerInfo is what DescribeBrokerConfigs reports beyond topic defaults:
// the node's own settings.
type BrokerInfo struct {
	NodeID                   int32
	Rack                     string
	DefaultPartitions        int32
	DefaultReplicationFactor int16
	AutoCreateTopics         bool
	// TopicDefaults are the broker-level topic config defaults, keyed by
	// topic config name (retention.ms), as passed to Resolve.
	TopicDefaults map[string]string
}

// DescribeBrokerConfigs describes a broker's configs, all read-only (the
// broker has almost no tunables and none changes at run time): broker.id,
// broker.rack, num.partitions, default.replication.factor,
// auto.create.topics.enable, and the broker-level name (log.retention.ms,
// message.max.bytes, …) of every topic config that has one. Sorted by name.
func DescribeBrokerConfigs(b BrokerInfo) []ConfigEntry {
	static := func(name, value string, t kmsg.ConfigType, doc string) ConfigEntry {
		return ConfigEntry{
			Name: name, Value: value, Source: kmsg.ConfigSourceStaticBrokerConfig, ReadOnly: true, Type: t, Doc: doc,
			Synonyms: []ConfigSynonym{{name, value, kmsg.ConfigSourceStaticBrokerConfig}},
		}
	}
	out := []ConfigEntry{
		static("broker.id", itoa(int64(b.NodeID)), kmsg.ConfigTypeInt, "This node's broker id."),
		static("broker.rack", b.Rack, kmsg.ConfigTypeString, "This node's rack, for replica placement."),
		static("num.partitions", itoa(int64(b.DefaultPartitions)), kmsg.ConfigTypeInt, "Partitions of a topic created without a count."),
		static("default.replication.factor", itoa(int64(b.DefaultReplicationFactor)), kmsg.ConfigTypeInt, "Replication factor of a topic created without one."),
		static("auto.create.topics.enable", strconv.FormatBool(b.AutoCreateTopics), kmsg.ConfigTypeBoolean, "Create a topic a client produces to or asks metadata for."),
	}
	t := decls()
	for i := range t.list {
		d := &t.list[i]
		if d.BrokerName == "" || slices.ContainsFunc(out, func(e ConfigEntry) bool { return e.Name == d.BrokerName }) {
			continue
		}
		v, src := resolveValue(d, nil, b.TopicDefaults)
		out = append(out, ConfigEntry{
			Name: d.BrokerName, Value: v, Source: src, IsDefault: src == kmsg.ConfigSourceDefaultConfig, ReadOnly: true,
			Type: d.Type, Doc: "Default of topic config " + d.Name + ". " + d.Doc, Synonyms: brokerSynonyms(d, b.TopicDefaults),
		})
	}
	slices.SortFunc(out, func(a, b ConfigEntry) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// splitList splits a LIST value on commas, trimming spaces, dropping
// empty items.
func splitList(v string) []string {
	var out []string
	for _, it := range strings.Split(v, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

func refuseIf(cond bool, why string) string {
	if cond {
		return why
	}
	return ""
}

func refuseCompact(v string) string {
	return refuseIf(slices.Contains(splitList(v), "compact"), "compaction is not supported yet")
}

// refuseThrottled accepts Kafka's throttled-replica lists: empty, "*", or
// partition:broker pairs.
func refuseThrottled(v string) string {
	if strings.TrimSpace(v) == "*" {
		return ""
	}
	for _, it := range splitList(v) {
		p, b, ok := strings.Cut(it, ":")
		_, e1 := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
		_, e2 := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
		if !ok || e1 != nil || e2 != nil {
			return "want * or partition:broker pairs"
		}
	}
	return ""
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// mustInt parses a value check already accepted.
func mustInt(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return n
}

func boundsText(lo, hi int64) string {
	switch {
	case hi == math.MaxInt64 || hi == math.MaxInt32:
		return "[" + itoa(lo) + ",...]"
	default:
		return "[" + itoa(lo) + ", " + itoa(hi) + "]"
	}
}
