package records

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/petrel-streaming/petrel/internal/model"
)

// sentinel is an error with identity that also matches, under errors.Is and
// errors.As, the Kafka error it stands for and any marks (model.ErrCorrupt).
// The declarations below are the one table from reasons to Kafka codes.
type sentinel struct {
	msg   string
	marks []error
}

func (e *sentinel) Error() string   { return e.msg }
func (e *sentinel) Unwrap() []error { return e.marks }

// Reasons Validate refuses a batch. Every error Validate returns wraps exactly
// one of them; match with errors.Is and turn into a wire code with ErrorCode.
var (
	// ErrCorrupt: the bytes are damaged: framing shorter than announced,
	// trailing bytes, a CRC-32C mismatch, or compressed data that does not
	// decompress. It also matches model.ErrCorrupt. CORRUPT_MESSAGE.
	ErrCorrupt error = &sentinel{"records: corrupt record batch", []error{model.ErrCorrupt, kerr.CorruptMessage}}
	// ErrTooLarge: the batch is larger than Limits.MaxMessageBytes, or it
	// decompresses to more than Limits.MaxUncompressedBytes. MESSAGE_TOO_LARGE.
	ErrTooLarge error = &sentinel{"records: record batch too large", []error{kerr.MessageTooLarge}}
	// ErrInvalidRecord: the batch is well framed and its CRC holds, but it
	// breaks a rule: no batch or several, a non-zero base offset, a record
	// count that disagrees with lastOffsetDelta, a control batch, a bad
	// sequence, or records that do not parse. INVALID_RECORD.
	ErrInvalidRecord error = &sentinel{"records: invalid record", []error{kerr.InvalidRecord}}
	// ErrUnsupportedMagic: the batch is not record batch v2. Kafka answers a
	// produce of v3 and later (the only versions Kafka 4 serves) with
	// INVALID_RECORD, so this maps to INVALID_RECORD too.
	ErrUnsupportedMagic error = &sentinel{"records: record batch magic is not 2", []error{kerr.InvalidRecord}}
	// ErrUnsupportedCompression: codec 5-7, or zstd where Limits.NoZstd
	// (produce before v7). UNSUPPORTED_COMPRESSION_TYPE.
	ErrUnsupportedCompression error = &sentinel{"records: unsupported compression codec", []error{kerr.UnsupportedCompressionType}}
	// ErrInvalidTimestamp: a producer set the LogAppendTime attribute, or a
	// CreateTime timestamp is outside the window Limits allows. INVALID_TIMESTAMP.
	ErrInvalidTimestamp error = &sentinel{"records: invalid timestamp", []error{kerr.InvalidTimestamp}}
)

// ErrorCode returns the Kafka error code for err: 0 for nil, the code of the
// first kerr error err wraps (every sentinel of this package wraps one, and so
// may errors of other packages), CORRUPT_MESSAGE for anything else marked
// model.ErrCorrupt, and UNKNOWN_SERVER_ERROR (-1) otherwise.
func ErrorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	if errors.Is(err, model.ErrCorrupt) {
		return kerr.CorruptMessage.Code
	}
	return kerr.UnknownServerError.Code
}
