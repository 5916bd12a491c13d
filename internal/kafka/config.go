package kafka

import (
	"fmt"
	"time"
)

// Config bounds what one connection, and all of them together, may cost.
// Zero fields take the defaults of DefaultConfig.
type Config struct {
	// MaxRequestBytes caps any frame (Kafka's socket.request.max.bytes).
	MaxRequestBytes int32
	// DefaultMaxBodyBytes caps the frames of every key that does not set
	// API.MaxBodyBytes. Real clients send kilobytes; only Produce (and
	// later JoinGroup/SyncGroup with big metadata) need more.
	DefaultMaxBodyBytes int32
	// DecodeBudgetBytes is the node-wide memory that frames being read,
	// decoded and served may hold (frame bytes × decode amplification +
	// a per-request overhead). A reader waits for its charge before it
	// reads a body: overload becomes backpressure.
	DecodeBudgetBytes int64
	// MaxInFlight bounds requests read but not yet answered, per
	// connection (Kafka's queued.max.requests is per broker). Beyond it
	// the connection's reader stops reading.
	MaxInFlight int
	// ReadTimeout bounds receiving one frame once its first byte arrived
	// (slow-loris), including waiting for decode budget.
	ReadTimeout time.Duration
	// IdleTimeout closes a connection with nothing in flight that sends
	// nothing (Kafka's connections.max.idle.ms).
	IdleTimeout time.Duration
	// WriteTimeout bounds writing responses to a client that does not read.
	WriteTimeout time.Duration
}

// Defaults.
const (
	DefaultMaxRequestBytes         = 100 << 20
	DefaultMaxBodyBytes            = 1 << 20
	DefaultDecodeBudgetBytes       = 512 << 20
	DefaultMaxInFlight             = 100
	DefaultReadTimeout             = 60 * time.Second
	DefaultIdleTimeout             = 10 * time.Minute
	DefaultWriteTimeout            = 60 * time.Second
	minFrameBytes                  = 10 // request header v1: key, version, correlation id, client id length
	maxInFlightLimit               = 10000
	requestOverheadBytes     int64 = 16 << 10 // charged per request: goroutine stack, structs, response
)

// DefaultConfig returns Kafka's defaults where Kafka has one.
func DefaultConfig() Config {
	return Config{
		MaxRequestBytes:     DefaultMaxRequestBytes,
		DefaultMaxBodyBytes: DefaultMaxBodyBytes,
		DecodeBudgetBytes:   DefaultDecodeBudgetBytes,
		MaxInFlight:         DefaultMaxInFlight,
		ReadTimeout:         DefaultReadTimeout,
		IdleTimeout:         DefaultIdleTimeout,
		WriteTimeout:        DefaultWriteTimeout,
	}
}

// withDefaults fills zero fields and validates the result.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = d.MaxRequestBytes
	}
	if c.DefaultMaxBodyBytes == 0 {
		c.DefaultMaxBodyBytes = min(d.DefaultMaxBodyBytes, c.MaxRequestBytes)
	}
	if c.DecodeBudgetBytes == 0 {
		c.DecodeBudgetBytes = d.DecodeBudgetBytes
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = d.MaxInFlight
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = d.ReadTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	switch {
	case c.MaxRequestBytes < minFrameBytes:
		return c, fmt.Errorf("kafka: MaxRequestBytes %d below %d", c.MaxRequestBytes, minFrameBytes)
	case c.DefaultMaxBodyBytes < minFrameBytes || c.DefaultMaxBodyBytes > c.MaxRequestBytes:
		return c, fmt.Errorf("kafka: DefaultMaxBodyBytes %d outside [%d, MaxRequestBytes]", c.DefaultMaxBodyBytes, minFrameBytes)
	case c.DecodeBudgetBytes < 2*requestOverheadBytes:
		return c, fmt.Errorf("kafka: DecodeBudgetBytes %d below %d", c.DecodeBudgetBytes, 2*requestOverheadBytes)
	case c.MaxInFlight < 1 || c.MaxInFlight > maxInFlightLimit:
		return c, fmt.Errorf("kafka: MaxInFlight %d outside [1, %d]", c.MaxInFlight, maxInFlightLimit)
	case c.ReadTimeout < 0 || c.IdleTimeout < 0 || c.WriteTimeout < 0:
		return c, fmt.Errorf("kafka: negative timeout")
	}
	return c, nil
}
