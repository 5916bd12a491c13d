package cluster

import (
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Support says what Petrel does with a topic config.
type Support uint8

const (
	// Supported: the value changes how the topic behaves.
	Supported Support = iota
	// Stored: accepted, validated, stored and described, so that tools
	// which set it work, but it changes nothing (yet), usually because
	// Petrel's design makes it moot (flush.*: every acks=all write is
	// synced; preallocate: segments are always preallocated in steps).
	Stored
)

func (s Support) String() string {
	if s == Supported {
		return "supported"
	}
	return "stored"
}

// TopicConfigDecl is the one declaration of a Kafka topic config: the
// validation in Validate/Apply, Resolve, Describe and the docs all read
// this table.
type TopicConfigDecl struct {
	Name       string
	Type       kmsg.ConfigType // BOOLEAN, STRING, INT, LONG, DOUBLE or LIST
	Default    string          // Kafka's default unless Petrel's differs (then Doc says why)
	Bounds     string          // human-readable, "" when unbounded
	Enum       []string        // allowed values of a STRING, or of each LIST item
	BrokerName string          // the broker-level default it falls back to (its synonym)
	Support    Support
	Doc        string

	lo, hi  int64                          // numeric bounds (also of a DOUBLE), when bounded
	bounded bool                           // lo/hi apply
	refuse  func(value string) string      // non-empty: why an otherwise valid value is refused
	set     func(c *TopicConfig, v string) // stores a checked value into the resolved struct
}

const (
	mib = 1 << 20
	gib = 1 << 30
)

// topicConfigDecls is the table, sorted by name.
func topicConfigDecls() []TopicConfigDecl {
	return []TopicConfigDecl{
		{
			Name: "cleanup.policy", Type: kmsg.ConfigTypeList, Default: "delete", Enum: []string{"delete", "compact"},
			BrokerName: "log.cleanup.policy", Support: Supported,
			Doc:    "delete: old segments are removed by retention.ms and retention.bytes. compact is refused: compaction is not built yet.",
			refuse: refuseCompact,
		},
		{
			Name: "compression.type", Type: kmsg.ConfigTypeString, Default: "producer",
			Enum:       []string{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"},
			BrokerName: "compression.type", Support: Stored,
			Doc: "Compression of the topic's batches. Stored and described; the broker keeps the codec the producer chose.",
		},
		long("delete.retention.ms", 86400000, 0, math.MaxInt64, "log.cleaner.delete.retention.ms", Stored,
			"How long tombstones are kept on compacted topics (compaction is not built yet)."),
		long("file.delete.delay.ms", 60000, 0, math.MaxInt64, "log.segment.delete.delay.ms", Stored,
			"Delay before a deleted segment's file is removed."),
		long("flush.messages", math.MaxInt64, 1, math.MaxInt64, "log.flush.interval.messages", Stored,
			"Kafka's forced-flush interval in messages. Moot: Petrel makes every acknowledged write durable."),
		long("flush.ms", math.MaxInt64, 0, math.MaxInt64, "log.flush.interval.ms", Stored,
			"Kafka's forced-flush interval in ms. Moot: Petrel makes every acknowledged write durable."),
		{
			Name: "follower.replication.throttled.replicas", Type: kmsg.ConfigTypeList, BrokerName: "follower.replication.throttled.replicas",
			Support: Stored, Doc: "Replicas throttled on the follower side: partition:broker pairs, or *.",
			refuse: refuseThrottled,
		},
		withSet(integer("index.interval.bytes", 4096, 0, math.MaxInt32, "log.index.interval.bytes", Supported,
			"Bytes between entries of the sparse offset index."),
			func(c *TopicConfig, v string) { c.IndexIntervalBytes = int32(mustInt(v)) }),
		{
			Name: "leader.replication.throttled.replicas", Type: kmsg.ConfigTypeList, BrokerName: "leader.replication.throttled.replicas",
			Support: Stored, Doc: "Replicas throttled on the leader side: partition:broker pairs, or *.",
			refuse: refuseThrottled,
		},
		long("local.retention.bytes", -2, -2, math.MaxInt64, "log.local.retention.bytes", Stored,
			"Tiered storage: bytes kept locally; -2 means retention.bytes."),
		long("local.retention.ms", -2, -2, math.MaxInt64, "log.local.retention.ms", Stored,
			"Tiered storage: ms kept locally; -2 means retention.ms."),
		long("max.compaction.lag.ms", math.MaxInt64, 1, math.MaxInt64, "log.cleaner.max.compaction.lag.ms", Stored,
			"Longest a record stays uncompacted (compaction is not built yet)."),
		withSet(integer("max.message.bytes", 1048588, 0, math.MaxInt32, "message.max.bytes", Supported,
			"Largest record batch the topic accepts, in bytes."),
			func(c *TopicConfig, v string) { c.MaxMessageBytes = int32(mustInt(v)) }),
		withSet(long("message.timestamp.after.max.ms", math.MaxInt64, 0, math.MaxInt64, "log.message.timestamp.after.max.ms", Stored,
			"How far a CreateTime timestamp may be ahead of the broker's clock."),
			func(c *TopicConfig, v string) { c.TimestampAfterMaxMs = mustInt(v) }),
		withSet(long("message.timestamp.before.max.ms", math.MaxInt64, 0, math.MaxInt64, "log.message.timestamp.before.max.ms", Stored,
			"How far a CreateTime timestamp may be behind the broker's clock."),
			func(c *TopicConfig, v string) { c.TimestampBeforeMaxMs = mustInt(v) }),
		{
			Name: "message.timestamp.type", Type: kmsg.ConfigTypeString, Default: "CreateTime",
			Enum: []string{"CreateTime", "LogAppendTime"}, BrokerName: "log.message.timestamp.type", Support: Supported,
			Doc: "CreateTime keeps the producer's timestamps; LogAppendTime stamps each batch with the broker's time.",
			set: func(c *TopicConfig, v string) { c.LogAppendTime = v == "LogAppendTime" },
		},
		{
			Name: "min.cleanable.dirty.ratio", Type: kmsg.ConfigTypeDouble, Default: "0.5", Bounds: "[0, 1]",
			BrokerName: "log.cleaner.min.cleanable.ratio", Support: Stored, lo: 0, hi: 1, bounded: true,
			Doc: "Dirty ratio that triggers compaction (compaction is not built yet).",
		},
		long("min.compaction.lag.ms", 0, 0, math.MaxInt64, "log.cleaner.min.compaction.lag.ms", Stored,
			"Shortest time a record stays uncompacted (compaction is not built yet)."),
		integer("min.insync.replicas", 1, 1, math.MaxInt32, "min.insync.replicas", Stored,
			"Kafka's ISR floor for acks=all. Moot under Raft: acks=all waits for a majority."),
		{
			Name: "preallocate", Type: kmsg.ConfigTypeBoolean, Default: "false", BrokerName: "log.preallocate", Support: Stored,
			Doc: "Kafka preallocates whole segments when true. Moot: Petrel preallocates in bounded steps.",
		},
		{
			Name: "remote.storage.enable", Type: kmsg.ConfigTypeBoolean, Default: "false", BrokerName: "", Support: Stored,
			Doc: "Tiered storage for the topic (not built yet).",
		},
		withSet(long("retention.bytes", -1, -1, math.MaxInt64, "log.retention.bytes", Supported,
			"Largest size a partition may grow to before old segments are deleted; -1: no limit."),
			func(c *TopicConfig, v string) { c.RetentionBytes = mustInt(v) }),
		withSet(long("retention.ms", 604800000, -1, math.MaxInt64, "log.retention.ms", Supported,
			"How long a segment is kept after its newest record; -1: forever."),
			func(c *TopicConfig, v string) { c.RetentionMs = mustInt(v) }),
		withSet(integer("segment.bytes", gib, mib, math.MaxInt32, "log.segment.bytes", Supported,
			"Size at which a segment is closed and a new one started. At least 1 MiB (as Kafka 4, Redpanda)."),
			func(c *TopicConfig, v string) { c.SegmentBytes = mustInt(v) }),
		integer("segment.index.bytes", 10*mib, 4, math.MaxInt32, "log.index.size.max.bytes", Stored,
			"Kafka's preallocated index size. Petrel's sparse index grows as needed."),
		long("segment.jitter.ms", 0, 0, math.MaxInt64, "log.roll.jitter.ms", Stored,
			"Random jitter subtracted from segment.ms."),
		withSet(long("segment.ms", 604800000, 1000, math.MaxInt64, "log.roll.ms", Supported,
			"Age at which a segment is closed even if not full. At least 1 s (Kafka allows 1 ms: a segment per ms is a denial of service)."),
			func(c *TopicConfig, v string) { c.SegmentMs = mustInt(v) }),
		{
			Name: "unclean.leader.election.enable", Type: kmsg.ConfigTypeBoolean, Default: "false",
			BrokerName: "unclean.leader.election.enable", Support: Supported,
			Doc:    "Always false: Raft never elects a leader that may lack acknowledged records. true is refused.",
			refuse: func(v string) string { return refuseIf(v == "true", "Petrel never elects an unclean leader") },
		},
	}
}

func long(name string, def, lo, hi int64, broker string, sup Support, doc string) TopicConfigDecl {
	return numeric(name, kmsg.ConfigTypeLong, def, lo, hi, broker, sup, doc)
}

func integer(name string, def, lo, hi int64, broker string, sup Support, doc string) TopicConfigDecl {
	return numeric(name, kmsg.ConfigTypeInt, def, lo, hi, broker, sup, doc)
}

func numeric(name string, t kmsg.ConfigType, def, lo, hi int64, broker string, sup Support, doc string) TopicConfigDecl {
	return TopicConfigDecl{
		Name: name, Type: t, Default: itoa(def), Bounds: boundsText(lo, hi), BrokerName: broker, Support: sup, Doc: doc,
		lo: lo, hi: hi, bounded: true,
	}
}

func withSet(d TopicConfigDecl, set func(c *TopicConfig, v string)) TopicConfigDecl {
	d.set = set
	return d
}
