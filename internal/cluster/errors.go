package cluster

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Sentinels. Every validation error wraps exactly one of them, with a
// message naming what was wrong (the key and value of a bad config, the
// name of a bad topic), and ErrorCode maps them to Kafka codes.
var (
	ErrTopicExists              = errors.New("topic already exists")
	ErrUnknownTopic             = errors.New("unknown topic")
	ErrUnknownTopicID           = errors.New("unknown topic id")
	ErrInvalidTopic             = errors.New("invalid topic")
	ErrInvalidPartitions        = errors.New("invalid partitions")
	ErrInvalidReplicationFactor = errors.New("invalid replication factor")
	ErrInvalidReplicaAssignment = errors.New("invalid replica assignment")
	ErrInvalidConfig            = errors.New("invalid config")
	ErrInvalidRequest           = errors.New("invalid request")
	// ErrInternalTopic: the request would delete an internal topic
	// (__consumer_offsets, __transaction_state).
	ErrInternalTopic = errors.New("internal topic")
	// ErrUnknownCommand: a command type or version this build does not
	// know (a newer node wrote it). Not corruption: upgrade order.
	ErrUnknownCommand = errors.New("cluster: unknown command")
)

// codes is the one table from sentinel to Kafka error.
var codes = []struct {
	err  error
	kerr *kerr.Error
}{
	{ErrTopicExists, kerr.TopicAlreadyExists},
	{ErrUnknownTopic, kerr.UnknownTopicOrPartition},
	{ErrUnknownTopicID, kerr.UnknownTopicID},
	{ErrInvalidTopic, kerr.InvalidTopicException},
	{ErrInvalidPartitions, kerr.InvalidPartitions},
	{ErrInvalidReplicationFactor, kerr.InvalidReplicationFactor},
	{ErrInvalidReplicaAssignment, kerr.InvalidReplicaAssignment},
	{ErrInvalidConfig, kerr.InvalidConfig},
	{ErrInvalidRequest, kerr.InvalidRequest},
	{ErrInternalTopic, kerr.PolicyViolation},
	{ErrNoReassignmentInProgress, kerr.NoReassignmentInProgress},
	{ErrUnknownBroker, kerr.BrokerNotAvailable},
	{ErrNoReplacementBroker, kerr.InvalidReplicaAssignment},
	{ErrMaintenanceRefused, kerr.PolicyViolation},
}

// ErrorCode maps an error from Validate or Apply to the Kafka error code
// the wire edge answers with: 0 for nil, UNKNOWN_SERVER_ERROR for anything
// not in the table. The error's text is the matching error message.
func ErrorCode(err error) int16 {
	if err == nil {
		return 0
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.kerr.Code
		}
	}
	return kerr.UnknownServerError.Code
}
