package group

import (
	"fmt"
	"time"
)

// Config holds the coordinator's settings, named after Kafka's broker
// settings they mirror. Start from DefaultConfig and change what you need:
// New validates every field.
type Config struct {
	// InitialRebalanceDelay (group.initial.rebalance.delay.ms, 3 s) is how
	// long the first rebalance of an empty group waits for more members;
	// each member joining in that window extends it, up to the rebalance
	// timeout. 0 disables the wait.
	InitialRebalanceDelay time.Duration
	// MinSessionTimeout and MaxSessionTimeout
	// (group.min/max.session.timeout.ms, 6 s and 30 min) bound the session
	// timeout a member may ask for (INVALID_SESSION_TIMEOUT).
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration
	// MaxGroupSize (group.max.size, 1000) bounds the members of one group,
	// pending members included (GROUP_MAX_SIZE_REACHED).
	MaxGroupSize int
	// MaxGroups (10000) bounds the groups of one coordinator; a request
	// that would create one more gets COORDINATOR_NOT_AVAILABLE, which
	// clients retry.
	MaxGroups int
	// MaxOffsetMetadataBytes (offset.metadata.max.bytes, 4096) bounds the
	// metadata string of a commit (OFFSET_METADATA_TOO_LARGE).
	MaxOffsetMetadataBytes int
	// MaxProtocolMetadataBytes (1 MiB) bounds the sum of the protocol
	// metadata a member sends in JoinGroup, and of one assignment in
	// SyncGroup (INVALID_REQUEST).
	MaxProtocolMetadataBytes int
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		InitialRebalanceDelay:    3 * time.Second,
		MinSessionTimeout:        6 * time.Second,
		MaxSessionTimeout:        30 * time.Minute,
		MaxGroupSize:             1000,
		MaxGroups:                10000,
		MaxOffsetMetadataBytes:   4096,
		MaxProtocolMetadataBytes: 1 << 20,
	}
}

func (c Config) validate() error {
	switch {
	case c.InitialRebalanceDelay < 0:
		return fmt.Errorf("%w: InitialRebalanceDelay %v < 0", ErrConfig, c.InitialRebalanceDelay)
	case c.MinSessionTimeout <= 0 || c.MaxSessionTimeout < c.MinSessionTimeout:
		return fmt.Errorf("%w: session timeout bounds [%v, %v]", ErrConfig, c.MinSessionTimeout, c.MaxSessionTimeout)
	case c.MaxGroupSize <= 0:
		return fmt.Errorf("%w: MaxGroupSize %d <= 0", ErrConfig, c.MaxGroupSize)
	case c.MaxGroups <= 0:
		return fmt.Errorf("%w: MaxGroups %d <= 0", ErrConfig, c.MaxGroups)
	case c.MaxOffsetMetadataBytes < 0:
		return fmt.Errorf("%w: MaxOffsetMetadataBytes %d < 0", ErrConfig, c.MaxOffsetMetadataBytes)
	case c.MaxProtocolMetadataBytes <= 0:
		return fmt.Errorf("%w: MaxProtocolMetadataBytes %d <= 0", ErrConfig, c.MaxProtocolMetadataBytes)
	}
	return nil
}
