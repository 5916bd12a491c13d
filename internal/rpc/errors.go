package rpc

import (
	"context"
	"errors"
	"fmt"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Errors with identity; match them with errors.Is.
var (
	// ErrClosed: the transport was closed; every call in flight fails with it.
	ErrClosed = errors.New("rpc: transport closed")
	// ErrUnknownPeer: no address was set for the node (SetPeer).
	ErrUnknownPeer = errors.New("rpc: unknown peer")
	// ErrUnavailable: the peer's last dial failed; calls fail fast until a
	// dial succeeds (the reconnect loop keeps trying with backoff).
	ErrUnavailable = errors.New("rpc: peer unavailable")
	// ErrConnLost: the connection carrying the call broke before its response.
	// The request may or may not have been executed by the peer.
	ErrConnLost = errors.New("rpc: connection lost")
	// ErrQueueFull: a fire-and-forget message (Send, SendRaft) found the
	// peer's bounded queue full. Calls block instead (with their context).
	ErrQueueFull = errors.New("rpc: send queue full")
	// ErrFrameTooLarge: a payload over the frame limit, refused before it is
	// queued (sender) or before anything is allocated (receiver).
	ErrFrameTooLarge = errors.New("rpc: frame too large")
	// ErrBadFrame marks malformed input from the network. It wraps
	// model.ErrCorrupt.
	ErrBadFrame = fmt.Errorf("rpc: malformed frame: %w", model.ErrCorrupt)
	// ErrNoCluster: this transport has no cluster id yet (Config.ClusterID
	// "", SetClusterID not called): its dials fail with it (wrapped in
	// ErrUnavailable) and it refuses peers' hellos; it answers probes.
	ErrNoCluster = errors.New("rpc: this node has not joined a cluster yet")
	// ErrReservedMethod: Call, Send or Handle with a method id below
	// FirstUserMethod.
	ErrReservedMethod = errors.New("rpc: reserved method id")

	// Errors a peer reports (carried by RemoteError, which unwraps to them).

	// ErrWrongCluster: the peer belongs to another cluster (handshake refused).
	ErrWrongCluster = errors.New("rpc: wrong cluster")
	// ErrWrongNode: the peer at that address is not the node we dialed.
	ErrWrongNode = errors.New("rpc: wrong node")
	// ErrVersion: the peer speaks another protocol version.
	ErrVersion = errors.New("rpc: unsupported protocol version")
	// ErrUnknownMethod: no handler is registered for the method at the peer.
	ErrUnknownMethod = errors.New("rpc: unknown method")
	// ErrAnonymous: the peer serves that method only to callers with a
	// node id (CallAnonymous reaches only HandleAnonymous methods).
	ErrAnonymous = errors.New("rpc: method not served to a caller without a node id")
	// ErrRemote: the peer's handler returned an error (see RemoteError.Message).
	ErrRemote = errors.New("rpc: remote error")
)

// errProbed ends an accepted connection that was a probe, once answered.
var errProbed = errors.New("rpc: probe answered")

// Code is the error code an error response carries on the wire. Codes at
// or above FirstUserCode are for handlers (RemoteError with its own Code).
type Code uint16

const (
	CodeUnknownMethod Code = 1
	CodeHandler       Code = 2
	CodeWrongCluster  Code = 3
	CodeWrongNode     Code = 4
	CodeVersion       Code = 5
	CodeShutdown      Code = 6
	CodeDeadline      Code = 7 // the handler ran out of the caller's deadline
	CodeAnonymous     Code = 8 // a method not served to a caller without a node id
	CodeTooLarge      Code = 9 // a frame over the acceptor's limit
	FirstUserCode     Code = 100
)

func (c Code) sentinel() error {
	switch c {
	case CodeUnknownMethod:
		return ErrUnknownMethod
	case CodeWrongCluster:
		return ErrWrongCluster
	case CodeWrongNode:
		return ErrWrongNode
	case CodeVersion:
		return ErrVersion
	case CodeShutdown:
		return ErrClosed
	case CodeDeadline:
		return context.DeadlineExceeded
	case CodeAnonymous:
		return ErrAnonymous
	case CodeTooLarge:
		return ErrFrameTooLarge
	}
	return ErrRemote
}

// RemoteError is an error response from a peer. It unwraps to the sentinel
// of its code (ErrWrongCluster, ErrUnknownMethod, ErrRemote, …). A handler
// may return a *RemoteError to choose the code its caller sees; any other
// error is sent as CodeHandler with the error's text.
type RemoteError struct {
	Code    Code
	Message string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("%v: %s", e.Code.sentinel(), e.Message)
}

func (e *RemoteError) Unwrap() error { return e.Code.sentinel() }
