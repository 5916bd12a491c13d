package config

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Setting is the one declaration of a setting: everything that reads,
// validates, documents or serves it (flags, env, file, admin API, docs)
// works from this table.
type Setting struct {
	Name         string   // file key, snake_case: kafka_addr
	Flag         string   // long flag without "--": kafka-addr
	Aliases      []string // more flag names: smp for shards
	Env          string   // PETREL_ + upper-case Name
	Kind         Kind
	Doc          string
	Default      string // in the syntax of Kind
	Bounds       string // human-readable bounds, "" when unbounded
	NeedsRestart bool   // a change takes effect only after a restart
	FileAllowed  bool   // false for settings only a flag or env may set (config)

	min, max int64 // ints, bytes, durations (ns); used when bounded
	bounded  bool
	check    func(v any) error // extra validation after parsing and bounds
	set      func(c *Config, v any)
	get      func(c *Config) any
}

// Declarations returns every setting, in documentation order. The slice is
// a copy: callers may keep it.
func Declarations() []Setting { return declarations() }

func declarations() []Setting {
	table := []Setting{
		{
			Name: "config", Flag: "config", Kind: KindString, Default: "petrel.yaml",
			Doc: "Configuration file (YAML, keys are the setting names). The default is read only " +
				"when it exists; a file named explicitly must exist.",
			set: func(c *Config, v any) { c.ConfigFile = v.(string) },
			get: func(c *Config) any { return c.ConfigFile },
		},
		{
			Name: "data_dir", Flag: "data-dir", Kind: KindString, Default: "./petrel-data", FileAllowed: true,
			Doc:   "Directory holding the node's logs and metadata.",
			check: nonEmpty,
			set:   func(c *Config, v any) { c.DataDir = v.(string) },
			get:   func(c *Config) any { return c.DataDir },
		},
		{
			Name: "node_id", Flag: "node-id", Kind: KindInt, Default: "-1", FileAllowed: true,
			Doc: "This node's broker ID, unique in the cluster. -1: keep the id in node.json, else a founder takes its position in --seeds, else a joining node is given the next free id by the cluster (a node without seeds is 0).",
			min: -1, max: math.MaxInt32, bounded: true,
			set: func(c *Config, v any) { c.NodeID = model.NodeID(v.(int64)) },
			get: func(c *Config) any { return int64(c.NodeID) },
		},
		{
			Name: "kafka_addr", Flag: "kafka-addr", Kind: KindHostPort, Default: "0.0.0.0:9092", FileAllowed: true,
			Doc: "Address the Kafka API listens on.",
			set: func(c *Config, v any) { c.KafkaAddr = v.(string) },
			get: func(c *Config) any { return c.KafkaAddr },
		},
		{
			Name: "advertise_kafka_addr", Flag: "advertise-kafka-addr", Kind: KindHostPort, FileAllowed: true,
			Doc: "Address clients are told to connect to. Empty: kafka_addr, with 127.0.0.1 " +
				"in place of an all-interfaces host (0.0.0.0, ::, empty).",
			set: func(c *Config, v any) { c.AdvertiseKafkaAddr = v.(string) },
			get: func(c *Config) any { return c.AdvertiseKafkaAddr },
		},
		{
			Name: "admin_addr", Flag: "admin-addr", Kind: KindHostPort, Default: "0.0.0.0:9644", FileAllowed: true,
			Doc: "Address of the admin HTTP API (status, metrics).",
			set: func(c *Config, v any) { c.AdminAddr = v.(string) },
			get: func(c *Config) any { return c.AdminAddr },
		},
		{
			Name: "rpc_addr", Flag: "rpc-addr", Kind: KindHostPort, Default: "0.0.0.0:33145", FileAllowed: true,
			Doc: "Address of the node-to-node RPC listener.",
			set: func(c *Config, v any) { c.RPCAddr = v.(string) },
			get: func(c *Config) any { return c.RPCAddr },
		},
		{
			Name: "seeds", Flag: "seeds", Kind: KindList, FileAllowed: true,
			Doc:   "RPC addresses (host:port) of nodes to join; empty for a new single-node cluster.",
			check: eachHostPort,
			set:   func(c *Config, v any) { c.Seeds = v.([]string) },
			get:   func(c *Config) any { return c.Seeds },
		},
		{
			Name: "memory", Flag: "memory", Kind: KindBytes, Default: "0", FileAllowed: true,
			Doc: "Memory the node may use, split into per-shard budgets (and, for petrel serve, set " +
				"as the Go memory limit). 0: a quarter of the RAM available to the process, at most 1 GiB.",
			min: 0, max: 1 << 50, bounded: true, check: zeroOrAtLeast(64 << 20),
			set: func(c *Config, v any) { c.MemoryBytes = v.(int64) },
			get: func(c *Config) any { return c.MemoryBytes },
		},
		{
			Name: "shards", Flag: "shards", Aliases: []string{"smp"}, Kind: KindInt, Default: "0", FileAllowed: true,
			Doc: "Number of shards. 0: one per core (GOMAXPROCS).",
			min: 0, max: 1024, bounded: true,
			set: func(c *Config, v any) { c.Shards = int(v.(int64)) },
			get: func(c *Config) any { return int64(c.Shards) },
		},
		{
			Name: "journal_bytes", Flag: "journal-bytes", Kind: KindBytes, Default: "256MiB", FileAllowed: true,
			Doc: "Size of each shard's journal: four preallocated, zero-filled files through which small " +
				"writes become durable together; the most written-behind data a shard holds before a " +
				"flush must free space. Fixed when the data directory is created.",
			min: 4 << 20, max: 64 << 30, bounded: true,
			set: func(c *Config, v any) { c.JournalBytes = v.(int64) },
			get: func(c *Config) any { return c.JournalBytes },
		},
		{
			Name: "pin_shards", Flag: "pin-shards", Kind: KindBool, Default: "false", FileAllowed: true,
			Doc: "Lock each shard to one CPU (an optimisation to measure; off by default).",
			set: func(c *Config, v any) { c.PinShards = v.(bool) },
			get: func(c *Config) any { return c.PinShards },
		},
		{
			Name: "direct_io", Flag: "direct-io", Kind: KindBool, Default: "false", FileAllowed: true,
			Doc: "Write logs with O_DIRECT, bypassing the page cache, where the file system supports it.",
			set: func(c *Config, v any) { c.DirectIO = v.(bool) },
			get: func(c *Config) any { return c.DirectIO },
		},
		{
			Name: "auto_create_topics", Flag: "auto-create-topics", Kind: KindBool, Default: "false", FileAllowed: true,
			Doc: "Create a topic when a client produces to or asks metadata for one that does not exist.",
			set: func(c *Config, v any) { c.AutoCreateTopics = v.(bool) },
			get: func(c *Config) any { return c.AutoCreateTopics },
		},
		{
			Name: "log_level", Flag: "log-level", Kind: KindString, Default: "info", FileAllowed: true,
			Doc:   "Least severe log level written: debug, info, warn or error.",
			check: oneOf("debug", "info", "warn", "error"),
			set:   func(c *Config, v any) { c.LogLevel = v.(string) },
			get:   func(c *Config) any { return c.LogLevel },
		},
		{
			Name: "shutdown_timeout", Flag: "shutdown-timeout", Kind: KindDuration, Default: "30s", FileAllowed: true,
			Doc: "How long a clean shutdown may take before the node exits anyway.",
			min: int64(time.Second), max: int64(10 * time.Minute), bounded: true,
			set: func(c *Config, v any) { c.ShutdownTimeout = v.(time.Duration) },
			get: func(c *Config) any { return c.ShutdownTimeout },
		},
	}
	for i := range table {
		s := &table[i]
		s.Env = "PETREL_" + strings.ToUpper(s.Name)
		s.NeedsRestart = true // every node setting so far is read at start-up
		if s.bounded {
			s.Bounds = "[" + format(s.Kind, boundValue(s.Kind, s.min)) + ", " + format(s.Kind, boundValue(s.Kind, s.max)) + "]"
		}
	}
	return table
}

func boundValue(k Kind, n int64) any {
	if k == KindDuration {
		return time.Duration(n)
	}
	return n
}

// inBounds checks an int, bytes or duration value against the bounds.
func (s *Setting) inBounds(v any) error {
	if !s.bounded {
		return nil
	}
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case time.Duration:
		n = int64(x)
	default:
		return nil
	}
	if n < s.min || n > s.max {
		return fmt.Errorf("%w: want %s", ErrOutOfRange, s.Bounds)
	}
	return nil
}

func nonEmpty(v any) error {
	if strings.TrimSpace(v.(string)) == "" {
		return fmt.Errorf("%w: must not be empty", ErrInvalid)
	}
	return nil
}

func eachHostPort(v any) error {
	for _, s := range v.([]string) {
		if err := checkHostPort(s); err != nil {
			return fmt.Errorf("%q: %w", s, err)
		}
	}
	return nil
}

func zeroOrAtLeast(min int64) func(any) error {
	return func(v any) error {
		if n := v.(int64); n != 0 && n < min {
			return fmt.Errorf("%w: want 0 (automatic) or at least %s", ErrOutOfRange, FormatBytes(min))
		}
		return nil
	}
}

func oneOf(allowed ...string) func(any) error {
	return func(v any) error {
		for _, a := range allowed {
			if v.(string) == a {
				return nil
			}
		}
		return fmt.Errorf("%w: want one of %s", ErrInvalid, strings.Join(allowed, ", "))
	}
}
