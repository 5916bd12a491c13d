package kafka

import (
	"context"
	"fmt"
	"math"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Handler serves one request. It runs in its own goroutine, so it may wait
// (a Fetch long poll, a Produce waiting for acks=all); the connection still
// writes responses in request order. ctx ends when the connection closes or
// the server stops: a waiting handler must return then.
//
// Return values:
//   - (resp, nil): resp is written back (its version must be the request's,
//     except the ApiVersions KIP-511 fallback, which answers v0);
//   - (nil, nil): no response (Produce with acks=0);
//   - (_, err): the connection is closed once earlier responses are written.
type Handler func(ctx context.Context, r *Request) (kmsg.Response, error)

// API registers one API key: the versions it serves and its handler. One
// file per key (00_produce.go, 01_fetch.go, …) builds its API value; the
// node registers them all before serving, and ApiVersions answers from the
// registry, so the advertised ranges are exactly what is registered.
type API struct {
	Key        int16
	MinVersion int16
	MaxVersion int16
	// MaxBodyBytes caps this key's frames. 0 means
	// Config.DefaultMaxBodyBytes; math.MaxInt32 means up to
	// Config.MaxRequestBytes (Produce).
	MaxBodyBytes int32
	Handle       Handler
	// Check, when set, runs on the body (after the request header) before
	// it is decoded. A key with large frames walks its structure there and
	// refuses a body whose decoded size would exceed Amplification × its
	// length (Produce: partitions without records).
	Check func(version int16, body []byte) error
	// Amplification overrides the measured decode bound (amplify.go) for
	// the budget charge; allowed only with Check, which enforces it.
	Amplification float64
}

// registered is an API plus what the registry measured about it.
type registered struct {
	API
	// amplification is the worst decoded-bytes per body-byte ratio over
	// the registered versions (see amplify.go).
	amplification float64
}

// Registry maps API keys to handlers. It is built once at start-up
// (Register is not safe for use concurrently with serving) and read-only
// afterwards, from any goroutine.
type Registry struct {
	apis map[int16]*registered
}

// NewRegistry returns a registry that already serves ApiVersions
// (18_api_versions.go), computed from whatever else is registered.
func NewRegistry() *Registry {
	r := &Registry{apis: map[int16]*registered{}}
	if err := r.Register(r.apiVersionsAPI()); err != nil {
		panic(err) // a bug in this package, not an input
	}
	return r
}

// Register adds an API. Versions must lie within what kmsg can decode, and a
// key registers once.
func (r *Registry) Register(a API) error {
	req := kmsg.RequestForKey(a.Key)
	switch {
	case req == nil:
		return fmt.Errorf("%w: key %d unknown to kmsg", ErrRegistration, a.Key)
	case a.MinVersion < 0 || a.MinVersion > a.MaxVersion || a.MaxVersion > req.MaxVersion():
		return fmt.Errorf("%w: %s versions [%d, %d] outside [0, %d]", ErrRegistration, kmsg.NameForKey(a.Key), a.MinVersion, a.MaxVersion, req.MaxVersion())
	case a.Handle == nil:
		return fmt.Errorf("%w: %s has no handler", ErrRegistration, kmsg.NameForKey(a.Key))
	case a.MaxBodyBytes < 0:
		return fmt.Errorf("%w: %s MaxBodyBytes %d", ErrRegistration, kmsg.NameForKey(a.Key), a.MaxBodyBytes)
	case a.Amplification < 0 || (a.Amplification > 0 && a.Check == nil):
		return fmt.Errorf("%w: %s Amplification needs a Check that enforces it", ErrRegistration, kmsg.NameForKey(a.Key))
	case r.apis[a.Key] != nil:
		return fmt.Errorf("%w: %s registered twice", ErrRegistration, kmsg.NameForKey(a.Key))
	}
	amp := 0.0
	for v := a.MinVersion; v <= a.MaxVersion; v++ {
		amp = max(amp, amplification(a.Key, v))
	}
	if a.Amplification > 0 {
		amp = a.Amplification
	}
	r.apis[a.Key] = &registered{API: a, amplification: amp}
	return nil
}

// Lookup returns the API registered for key.
func (r *Registry) Lookup(key int16) (API, bool) {
	a, ok := r.apis[key]
	if !ok {
		return API{}, false
	}
	return a.API, true
}

// Versions lists the registered keys and ranges, sorted by key: the body
// of an ApiVersions response.
func (r *Registry) Versions() []kmsg.ApiVersionsResponseApiKey {
	out := make([]kmsg.ApiVersionsResponseApiKey, 0, len(r.apis))
	for _, a := range r.apis {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.Key, a.MinVersion, a.MaxVersion
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b kmsg.ApiVersionsResponseApiKey) int { return int(a.ApiKey) - int(b.ApiKey) })
	return out
}

// maxBody is the frame cap of a registered key under cfg.
func (a *registered) maxBody(cfg *Config) int32 {
	switch a.MaxBodyBytes {
	case 0:
		return cfg.DefaultMaxBodyBytes
	case math.MaxInt32:
		return cfg.MaxRequestBytes
	}
	return min(a.MaxBodyBytes, cfg.MaxRequestBytes)
}

// charge is the decode budget a frame of size bytes holds until its
// response is written: the frame, the worst case of what decoding it can
// allocate, and a fixed per-request overhead.
func (a *registered) charge(size int32) int64 {
	return int64(float64(size)*(1+a.amplification)) + requestOverheadBytes
}

// ConnInfo describes a client connection. Immutable; any goroutine.
type ConnInfo struct {
	ID     uint64
	Remote net.Addr
	Local  net.Addr
}

// Request is one decoded request handed to a Handler.
type Request struct {
	Conn          *ConnInfo
	Key           int16
	Version       int16
	CorrelationID int32
	ClientID      string // a null client id reads as ""
	Received      time.Time
	// Msg is the decoded request. Its byte fields (Produce records) alias
	// the frame buffer, which is recycled once the response is written,
	// unless the handler calls Retain.
	Msg kmsg.Request

	retained bool
	// turnWait/turnDone order the Produce requests of a connection.
	turnWait, turnDone chan struct{}
	turnOnce           sync.Once
}

// InOrder runs fn once every earlier request of the same connection that
// takes turns (Produce) has run its own InOrder or finished, so batches a
// client pipelines on one connection reach their partitions in the order
// it sent them, as Kafka serves a connection. Validation and waiting for
// acks stay outside fn, in parallel. It returns ctx's error if the
// connection closes first (fn is not run then).
func (r *Request) InOrder(ctx context.Context, fn func()) error {
	if r.turnWait == nil {
		fn()
		return nil
	}
	select {
	case <-r.turnWait:
	case <-ctx.Done():
		return ctx.Err()
	}
	fn()
	r.turnOnce.Do(func() { close(r.turnDone) })
	return nil
}

// endTurn passes the turn on when the handler did not (it returned early
// or failed): after the earlier requests, so the chain stays ordered.
func (r *Request) endTurn(ctx context.Context) {
	if r.turnDone == nil {
		return
	}
	select {
	case <-r.turnWait:
	case <-ctx.Done():
	}
	r.turnOnce.Do(func() { close(r.turnDone) })
}

// Retain keeps the frame buffer out of the pool: call it from the handler
// before returning when bytes of Msg must outlive the response (a Produce
// handing its record batches to a partition without copying).
func (r *Request) Retain() { r.retained = true }
