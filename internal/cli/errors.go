package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrFailed marks a command that printed its per-item results and some of
// them failed: the output says which; the exit code must be non-zero.
var ErrFailed = errors.New("failed")

// hints say what to do about a Kafka error, by code.
var hints = map[int16]string{
	kerr.TopicAlreadyExists.Code:         "pick another name, or delete the topic first with `petrel topic delete`",
	kerr.UnknownTopicOrPartition.Code:    "check the name with `petrel topic list`",
	kerr.UnknownTopicID.Code:             "check the name with `petrel topic list`",
	kerr.InvalidPartitions.Code:          "a topic needs at least one partition; partitions can only be added, never removed",
	kerr.InvalidReplicationFactor.Code:   "the replication factor cannot exceed the number of brokers: see `petrel cluster info`",
	kerr.InvalidTopicException.Code:      "topic names are 1-249 characters of [a-zA-Z0-9._-], not \".\" or \"..\"",
	kerr.InvalidConfig.Code:              "see the topic's configs and their values with `petrel topic describe`",
	kerr.InvalidRequest.Code:             "the broker refused the request as asked; see the message",
	kerr.PolicyViolation.Code:            "the broker's policy refuses this change",
	kerr.GroupIDNotFound.Code:            "check the name with `petrel group list`",
	kerr.NonEmptyGroup.Code:              "stop the group's consumers first (the group must be Empty)",
	kerr.UnknownMemberID.Code:            "the group has active members: stop its consumers first",
	kerr.RebalanceInProgress.Code:        "the group is rebalancing: stop its consumers first",
	kerr.CoordinatorNotAvailable.Code:    "the broker is starting or electing a coordinator: retry in a moment",
	kerr.CoordinatorLoadInProgress.Code:  "the coordinator is loading its groups: retry in a moment",
	kerr.NotCoordinator.Code:             "the coordinator moved: retry",
	kerr.LeaderNotAvailable.Code:         "the partition is electing a leader: retry in a moment",
	kerr.NotLeaderForPartition.Code:      "leadership moved: retry",
	kerr.OffsetOutOfRange.Code:           "the offset is outside [log start, high watermark]: see `petrel topic describe`",
	kerr.RequestTimedOut.Code:            "the broker did not finish in time: retry, or raise --timeout",
	kerr.UnsupportedVersion.Code:         "this broker does not implement the request yet",
	kerr.ClusterAuthorizationFailed.Code: "the principal lacks the ACL for this operation",
	kerr.TopicAuthorizationFailed.Code:   "the principal lacks the ACL for this topic",
	kerr.GroupAuthorizationFailed.Code:   "the principal lacks the ACL for this group",
	kerr.MessageTooLarge.Code:            "the record is larger than the topic's max.message.bytes",
	kerr.RecordListTooLarge.Code:         "the batch is larger than the topic's max.message.bytes",
}

// kafkaHint returns the Kafka error in err and what to do about it.
func kafkaHint(err error) (*kerr.Error, string) {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return nil, ""
	}
	return ke, hints[ke.Code]
}

// kafkaError is a Kafka error code with the broker's message and what to
// do; errors.Is/As see the code (kerr).
type kafkaError struct {
	code *kerr.Error
	msg  string // the broker's message, if any
	hint string // what to do, if known
}

func (e *kafkaError) Error() string {
	s := e.code.Message
	if e.msg != "" {
		s += ": " + e.msg
	}
	if e.hint != "" {
		s += " (" + e.hint + ")"
	}
	return s
}

func (e *kafkaError) Unwrap() error { return e.code }

// describeErr renders one per-item error: the Kafka error's name, the
// broker's message, and what to do (hint, or the table's default).
func describeErr(err error, msg string) error {
	return describeErrHint(err, msg, "")
}

func describeErrHint(err error, msg, hint string) error {
	if err == nil {
		return nil
	}
	ke, def := kafkaHint(err)
	if ke == nil {
		if msg != "" && !strings.Contains(err.Error(), msg) {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	if hint == "" {
		hint = def
	}
	return &kafkaError{code: ke, msg: msg, hint: hint}
}

// explain adds to err what the operator can do about it, keeping err's
// identity (errors.Is/As still see the Kafka error).
func explain(err error) error {
	var done *kafkaError
	if err == nil || errors.Is(err, ErrFailed) || errors.As(err, &done) {
		return err
	}
	if ke, hint := kafkaHint(err); ke != nil && hint != "" {
		return fmt.Errorf("%w (%s)", err, hint)
	}
	var ne *net.OpError
	if errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (is a broker running there? set --brokers, %s or a profile: `petrel profile create`)", err, EnvBrokers)
	}
	return err
}
