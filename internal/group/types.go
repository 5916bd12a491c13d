package group

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// RequestID names one request handed to Coordinator.Handle; the response
// for it comes back from Ready with the same ID. The caller chooses IDs and
// must not reuse one while its response is outstanding.
type RequestID uint64

// Client is what the coordinator knows of the connection a request came
// from: the Kafka client id (member ids are built from it) and the peer
// host, both reported by DescribeGroups.
type Client struct {
	ID   string
	Host string
}

// Token is the sequence number of a record handed out by Ready: the first
// record is 1 and each next record is one more. Persisted(t) says every
// record up to and including t is durable.
type Token uint64

// Record is one __consumer_offsets record, in Kafka's own encoding (see
// doc.go). A nil Value is a tombstone.
type Record struct {
	Key   []byte
	Value []byte
}

// Response is the answer to request ID. Msg carries the request's version.
type Response struct {
	ID  RequestID
	Msg kmsg.Response
}

// Ready is what the coordinator wants done: append Records (in order) to
// the log, call Persisted(Through) once they are durable, and send
// Responses. Every response in Responses is already covered by records
// that were persisted; responses that need Records come out of a later
// Ready, after Persisted.
type Ready struct {
	Records   []Record
	Through   Token // token of the last record in Records; 0 when none
	Responses []Response
}

// Empty reports whether there is nothing to do.
func (rd Ready) Empty() bool { return len(rd.Records) == 0 && len(rd.Responses) == 0 }

// Sentinels. Handle and Replay errors wrap one of these (Replay's
// undecodable records wrap model.ErrCorrupt as well).
var (
	// ErrUnsupported: Handle got a key or version this package does not
	// serve (see APIs).
	ErrUnsupported = errors.New("group: unsupported request")
	// ErrConfig: a Config field is out of its bounds.
	ErrConfig = errors.New("group: invalid config")
	// ErrClosed: the Service is closed.
	ErrClosed = errors.New("group: service closed")
	// ErrLogFailed: appending to the log failed; the Service stopped and
	// must be rebuilt from the log (the broker answers NOT_COORDINATOR).
	ErrLogFailed = errors.New("group: log append failed")
)
