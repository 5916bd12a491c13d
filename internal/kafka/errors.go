package kafka

import "errors"

// Sentinels for the reasons a connection is closed or a registration is
// refused. Every close path wraps one of these, so tests and logs can tell
// them apart with errors.Is.
var (
	// ErrFrameSize: the 4-byte size prefix is negative, shorter than a
	// request header, or larger than Config.MaxRequestBytes.
	ErrFrameSize = errors.New("kafka: bad frame size")
	// ErrBodyTooLarge: the frame is larger than the cap of its API key, or
	// its worst-case decode memory exceeds the whole decode budget.
	ErrBodyTooLarge = errors.New("kafka: request too large for its api key")
	// ErrUnknownKey: the API key is not registered.
	ErrUnknownKey = errors.New("kafka: unknown api key")
	// ErrUnsupportedVersion: the key is registered, the version is not.
	ErrUnsupportedVersion = errors.New("kafka: unsupported api version")
	// ErrMalformed: the header or body does not decode.
	ErrMalformed = errors.New("kafka: malformed request")
	// ErrTrailingBytes: bytes follow a body that decoded completely.
	ErrTrailingBytes = errors.New("kafka: trailing bytes after request body")
	// ErrTimeout: a frame was not received within Config.ReadTimeout, or
	// a response could not be written within Config.WriteTimeout.
	ErrTimeout = errors.New("kafka: connection timed out")
	// ErrServerClosed is returned by Serve after Close.
	ErrServerClosed = errors.New("kafka: server closed")
	// ErrAcksZeroRefused: an acks=0 Produce had a partition refused
	// (not led here, unknown, invalid records); Kafka closes the
	// connection then, the only signal an acks=0 client gets to refresh
	// its metadata.
	ErrAcksZeroRefused = errors.New("kafka: acks=0 produce refused for a partition")
	// ErrRegistration: an API registration is invalid or duplicated.
	ErrRegistration = errors.New("kafka: invalid api registration")

	errNoDecoder = errors.New("kafka: no decoder for request type")
)
