package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Handler serves one request method. ctx ends when the caller's deadline
// (carried in the frame) passes or the connection dies; req is owned by
// the handler. The returned bytes are owned by the transport. Return a
// *RemoteError to choose the code the caller sees.
type Handler func(ctx context.Context, from model.NodeID, req []byte) ([]byte, error)

// RaftSink receives the Raft messages of one frame from one node, on the
// connection's reader goroutine: batches from one node arrive in the order
// that node sent them, and the next frame waits until the sink returns, so
// a sink should hand the messages off (to their shards) and return.
type RaftSink func(from model.NodeID, msgs []RaftMessage)

// LivenessFunc is told when a peer starts or stops answering the
// node-level heartbeat (the first answer or failure counts as a change),
// and (up again) when it answers as a new process, restarted between two
// pings.
// It runs on the peer's heartbeat goroutine; changes of one peer come in
// order.
type LivenessFunc func(node model.NodeID, up bool)

const defaultDialTimeout = 2 * time.Second

// Config of a Transport. Zero values take the defaults noted.
type Config struct {
	NodeID model.NodeID // this node
	// ClusterID is checked in every handshake; at most 255 bytes. ""
	// starts the transport unformed: it answers probes but refuses peers'
	// hellos and does not dial until SetClusterID.
	ClusterID string
	// ListenAddr is where peers dial us ("" = dial out only).
	ListenAddr string
	Logger     *slog.Logger

	ConnsPerPeer  int // dialed connections per peer (2); Raft and pings use the first
	MaxFrameBytes int // whole frame, header included (16 MiB); same limit both ways

	SendQueueFrames int // per connection (1024)
	SendQueueBytes  int // per connection (8 MiB)
	RaftQueueBytes  int // encoded Raft messages waiting per peer (8 MiB)
	// MaxConcurrentHandlers per accepted connection (64); beyond, the
	// reader waits (TCP backpressure on the sender).
	MaxConcurrentHandlers int

	DialTimeout         time.Duration // per dial, handshake included (2 s)
	ReconnectBackoffMin time.Duration // first wait after a failed dial (50 ms)
	ReconnectBackoffMax time.Duration // cap of the doubling, jittered (2 s)

	HeartbeatInterval time.Duration // node-level ping per peer (250 ms); <0 disables
	HeartbeatTimeout  time.Duration // a ping unanswered this long: peer down (3 × interval)

	RaftSink   RaftSink
	OnLiveness LivenessFunc
	Seed       uint64 // for backoff jitter; 0 = from the clock
}

func (c Config) withDefaults() (Config, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.ConnsPerPeer, 2)
	def(&c.MaxFrameBytes, 16<<20)
	def(&c.SendQueueFrames, 1024)
	def(&c.SendQueueBytes, 8<<20)
	def(&c.RaftQueueBytes, 8<<20)
	def(&c.MaxConcurrentHandlers, 64)
	defDur(&c.DialTimeout, defaultDialTimeout)
	defDur(&c.ReconnectBackoffMin, 50*time.Millisecond)
	defDur(&c.ReconnectBackoffMax, 2*time.Second)
	defDur(&c.HeartbeatInterval, 250*time.Millisecond)
	if c.HeartbeatInterval > 0 {
		defDur(&c.HeartbeatTimeout, 3*c.HeartbeatInterval)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	if err := checkClusterID(c.ClusterID); err != nil {
		return c, err
	}
	switch {
	case c.NodeID < 0:
		return c, fmt.Errorf("rpc: node id %d", c.NodeID)
	case c.ConnsPerPeer < 1 || c.ConnsPerPeer > 16:
		return c, fmt.Errorf("rpc: ConnsPerPeer %d not in [1, 16]", c.ConnsPerPeer)
	case c.MaxFrameBytes < 4<<10 || c.MaxFrameBytes > 1<<30:
		return c, fmt.Errorf("rpc: MaxFrameBytes %d not in [4 KiB, 1 GiB]", c.MaxFrameBytes)
	case c.SendQueueFrames < 1 || c.SendQueueBytes < 1 || c.RaftQueueBytes < 1 || c.MaxConcurrentHandlers < 1:
		return c, fmt.Errorf("rpc: queue bounds must be positive")
	case c.ReconnectBackoffMin <= 0 || c.ReconnectBackoffMax < c.ReconnectBackoffMin:
		return c, fmt.Errorf("rpc: reconnect backoff [%v, %v]", c.ReconnectBackoffMin, c.ReconnectBackoffMax)
	case c.DialTimeout <= 0 || (c.HeartbeatInterval > 0 && c.HeartbeatTimeout <= 0):
		return c, fmt.Errorf("rpc: timeouts must be positive")
	}
	return c, nil
}

// checkClusterID: a cluster id travels in a hello with a one-byte length.
func checkClusterID(id string) error {
	if len(id) > 255 {
		return fmt.Errorf("rpc: cluster id of %d bytes, at most 255", len(id))
	}
	return nil
}
