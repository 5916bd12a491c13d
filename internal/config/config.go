package config

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Config is the merged, validated node configuration. Built once at
// start-up by Load or Resolve and read-only afterwards: any goroutine.
type Config struct {
	ConfigFile         string // the file read; "" when none was
	DataDir            string
	NodeID             model.NodeID
	KafkaAddr          string // host:port to listen on
	AdvertiseKafkaAddr string // host:port clients are told; derived from KafkaAddr when unset
	AdminAddr          string
	RPCAddr            string
	Seeds              []string      // host:port of other nodes' RPC listeners
	MemoryBytes        int64         // 0: a share of the RAM available (the node decides)
	Shards             int           // 0: one per core (GOMAXPROCS)
	JournalBytes       int64         // each shard's journal ring, fixed at data dir creation
	PinShards          bool          // lock each shard to a CPU
	DirectIO           bool          // O_DIRECT for segment and journal writes
	AutoCreateTopics   bool          // create unknown topics on produce/metadata
	LogLevel           string        // debug, info, warn, error
	ShutdownTimeout    time.Duration // bound on a clean shutdown
}

// Errors with identity. Every error from Load and Resolve is an *Error
// (several are joined with errors.Join) wrapping one of these.
var (
	ErrUnknownKey = errors.New("unknown setting")
	ErrInvalid    = errors.New("invalid value")
	ErrOutOfRange = errors.New("out of range")
)

// SourceKind says where a value came from, in increasing precedence.
type SourceKind int

const (
	FromDefault SourceKind = iota
	FromFile
	FromEnv
	FromFlag
)

// Source locates a value: "default", "file petrel.yaml:3",
// "env PETREL_MEMORY" or "flag --memory".
type Source struct {
	Kind SourceKind
	Name string // file path, variable or flag name
	Line int    // file line, 1-based
}

func (s Source) String() string {
	switch s.Kind {
	case FromFile:
		if s.Line <= 0 {
			return "file " + s.Name
		}
		return "file " + s.Name + ":" + strconv.Itoa(s.Line)
	case FromEnv:
		return "env " + s.Name
	case FromFlag:
		return "flag --" + s.Name
	}
	return "default"
}

// Error is one rejected setting: which key, from where, what value, why.
type Error struct {
	Key    string
	Source Source
	Value  string
	Err    error // wraps ErrUnknownKey, ErrInvalid or ErrOutOfRange
}

func (e *Error) Error() string {
	if e.Key == "" || errors.Is(e.Err, ErrUnknownKey) {
		return fmt.Sprintf("config: %s: %v", e.Source, e.Err)
	}
	return fmt.Sprintf("config: %s = %q (from %s): %v", e.Key, e.Value, e.Source, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Kind is a setting's value type.
type Kind int

const (
	KindString   Kind = iota
	KindInt           // decimal integer
	KindBool          // true/false (also 1/0, t/f)
	KindDuration      // Go syntax: 500ms, 30s, 1h
	KindBytes         // a size: 1073741824, 512MiB, 1GiB, 1G (= GiB), 1GB (= 10^9)
	KindList          // comma-separated in flags and env, a sequence or comma-separated in the file
	KindHostPort      // host:port; an empty host means all interfaces
)

func (k Kind) String() string {
	switch k {
	case KindInt:
		return "int"
	case KindBool:
		return "bool"
	case KindDuration:
		return "duration"
	case KindBytes:
		return "bytes"
	case KindList:
		return "list"
	case KindHostPort:
		return "host:port"
	}
	return "string"
}

// The operator CLI's environment (petrel topic …, internal/cli). They are
// declared here, with the node's settings, so that `petrel serve`, which
// refuses any other PETREL_* variable it does not know, ignores them: one
// shell can export both.
const (
	EnvBrokers  = "PETREL_BROKERS"   // comma-separated host:port list
	EnvAdminURL = "PETREL_ADMIN_URL" // http://host:port of the admin API
	EnvProfile  = "PETREL_PROFILE"   // the CLI profile to use instead of the current one
)

// ClientEnv lists the CLI's variables, which serve ignores.
var ClientEnv = []string{EnvBrokers, EnvAdminURL, EnvProfile}
