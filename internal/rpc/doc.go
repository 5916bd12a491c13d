// Package rpc is the node-to-node transport: framed, multiplexed TCP
// connections between the nodes of one cluster, requests with deadlines
// answered out of order, one-way messages, and Raft messages of many
// groups batched per peer node, plus a node-level heartbeat.
//
// # Usage
//
//	t, err := rpc.New(rpc.Config{NodeID: 1, ClusterID: id, ListenAddr: ":33145",
//	        RaftSink: func(from model.NodeID, msgs []rpc.RaftMessage) { /* to shards */ },
//	        OnLiveness: func(n model.NodeID, up bool) { /* wake quiesced groups */ }})
//	t.Handle(methodFoo, func(ctx context.Context, from model.NodeID, req []byte) ([]byte, error) {…})
//	t.Start()
//	who, err := rpc.Probe(ctx, "10.0.0.2:33145", 1, 0) // seed's node id and cluster id ("" = none yet)
//	resp, err := rpc.CallAnonymous(ctx, "10.0.0.2:33145", who, methodBar, req) // no node id of our own yet
//	err = t.SetClusterID(id)                  // once formed, when New had ClusterID "" (unformed)
//	t.SetPeer(2, "10.0.0.2:33145")            // from the controller's broker table
//	resp, err := t.Call(ctx, 2, methodFoo, req) // waits for the answer, ctx or the connection's end
//	err = t.SendRaft(2, msgs...)               // all groups' messages for node 2, one frame
//	defer t.Close()                            // in-flight calls fail with ErrClosed
//
// # Connections
//
// Each node dials each peer ConnsPerPeer times (2) and only answers on the
// connections peers dial to it, so a pair of nodes has one pool each way.
// Calls are spread over a pool round-robin; Raft batches and the heartbeat
// always use its first connection, so Raft frames arrive in send order.
// A connection that breaks fails its calls with ErrConnLost (the request
// may or may not have run) and is redialed: at once if it had lived at
// least ReconnectBackoffMax (callers wait for that dial), else after an
// exponential backoff from ReconnectBackoffMin to ReconnectBackoffMax with
// jitter in [d/2, d]. From a failed dial until the next successful one,
// calls fail at once with ErrUnavailable wrapping the dial's error (a
// refused handshake is errors.Is ErrWrongCluster, ErrWrongNode or
// ErrVersion): a dead peer costs no waiting.
//
// # Backpressure
//
// Every connection has one bounded send queue (SendQueueFrames,
// SendQueueBytes) drained by its writer. Call blocks on a full queue
// until space or the end of its context; Send and SendRaft never block:
// Send fails with ErrQueueFull, SendRaft buffers at most RaftQueueBytes
// per peer and then fails with ErrQueueFull (Raft resends). On the
// receiving side at most MaxConcurrentHandlers handlers run per
// connection; beyond that the reader stops, TCP fills, and the sender's
// queue fills: a stuck receiver makes its senders block or fail, never
// grow.
//
// # Raft batching
//
// SendRaft encodes messages into the peer's buffer at once; the peer's
// flush goroutine sends everything buffered as one frame (split only at
// MaxFrameBytes, 65536 messages or 65536 entries). All groups' heartbeats
// for a peer, sent in one call per tick, make one frame; while a frame
// waits for the queue the next batch grows. The receiver decodes a frame
// and calls the RaftSink with its messages, on the connection's reader,
// so a node's batches are delivered in the order it sent them. Coalescing
// heartbeats into one message per node pair (and fanning them out on
// receipt) and quiescing idle groups is the caller's part; OnLiveness
// tells it when a peer stops answering the node-level heartbeat
// (HeartbeatInterval, HeartbeatTimeout) and when it comes back; Live
// reports the same state on demand.
//
// # Frame format (big endian)
//
//	0       4        6       7          8                  16          20
//	+-------+--------+-------+----------+------------------+-----------+----------
//	| len   | method | flags | reserved | correlation id   | timeout   | payload
//	| u32   | u16    | u8    | u8 = 0   | u64              | u32 ms    | len-16 B
//	+-------+--------+-------+----------+------------------+-----------+----------
//
//	len      bytes after the len field (16 + payload); the whole frame
//	         (len + 4) must be at most MaxFrameBytes, checked before the
//	         payload is allocated; else the connection is closed
//	method   1 hello, 2 ping, 3 raft batch; 16 and up: registered handlers
//	flags    bit 0 response, bit 1 error (responses only), bit 2 one-way;
//	         other bits must be zero
//	corr     chosen by the requester, echoed by the response: responses
//	         come in any order
//	timeout  requests: the caller's remaining deadline in ms (0 none); the
//	         handler's context ends with it
//
//	error payload   code u16 | msg len u16 | msg (at most 1024 bytes)
//	codes           1 unknown method, 2 handler error, 3 wrong cluster,
//	                4 wrong node, 5 version, 6 shutting down, 7 deadline
//	                (errors.Is context.DeadlineExceeded), 8 method not served
//	                to an anonymous caller, 9 frame too large (anonymous
//	                exchange); 100 and up: handlers'
//
// # Handshake
//
// The dialer's first frame is a hello; the acceptor answers with its own
// hello or an error response and closes. Until then the acceptor reads at
// most 512 bytes per frame.
//
//	hello payload   version u16 | from node i32 | to node i32 | cluster len u8 | cluster id
//
//	to       the node id the dialer expects at this address; -1: a probe
//	cluster  the sender's cluster id; "" (length 0) while it has none
//
// The acceptor refuses another version (CodeVersion), another cluster id
// (CodeWrongCluster: "node 3 of cluster "x" dialed node 1 of cluster
// "y""), or a dialer that expected another node id at this address
// (CodeWrongNode); the dialer checks the answer the same way.
//
// A probe (Probe; to = -1) asks only who listens at an address: the
// acceptor answers with its hello (its node id and its current cluster
// id, "" while unformed) whatever the prober's cluster id or node id,
// even when the prober claims the acceptor's own id (that is how a node
// finds its own address among the seeds), then closes; a probe never
// becomes a connection that carries frames. Only another version is
// refused. This is how a node that knows its seeds only by address
// learns their node ids and whether they already formed a cluster.
//
// An anonymous hello (from = -1, Anonymous) comes from a node that has
// no node id yet, e.g. one asking the cluster for one (CallAnonymous).
// The acceptor checks version, cluster id and to as for any hello, then
// reads exactly one request (at most 4 KiB, header included), serves it
// only if its method was registered with HandleAnonymous (else code 8,
// ErrAnonymous), answers (at most 4 KiB, else code 9, ErrFrameTooLarge)
// and closes: an anonymous connection never becomes a wire, and raft
// batches, one-way frames and other methods are never taken from it.
//
// A transport may start unformed (Config.ClusterID ""): it answers
// probes, refuses every other hello (CodeWrongCluster: "… dialed node 2,
// which has not joined a cluster yet") and fails its own dials with
// ErrNoCluster (wrapped in ErrUnavailable) without touching the network.
// SetClusterID gives it the cluster id of every later handshake, both
// ways, and wakes its peers' connections waiting out a dial backoff;
// connections already established keep running.
//
// # Raft batch payload
//
//	count uvarint | count × message
//	message   group uvarint | presence uvarint | present fields, in order:
//	          type, to, from, term, logTerm, index, commit, vote (uvarints),
//	          reject (byte 0/1), rejectHint (uvarint), context (len uvarint +
//	          bytes), entries (count uvarint + entries), snapshot
//	entry     presence byte (type, term, index, data) | present fields
//	snapshot  presence byte (data, metadata) | data | metadata:
//	          presence byte (conf state, index, term) | conf state: presence
//	          byte (voters, learners, voters outgoing, learners next, auto
//	          leave) | lists (count uvarint + ids) | auto leave byte | index | term
//
// Only set fields are encoded, so nil and zero survive the trip. Decoding
// checks every count against the bytes left and the limits before it
// allocates, rejects unknown presence bits and trailing bytes, and wraps
// ErrBadFrame (itself model.ErrCorrupt); the connection is then closed.
// Byte fields of decoded messages alias the frame. Message.Responses
// (local to raft's async storage) is not carried.
//
// # Ownership
//
// A Transport is safe for any goroutine. Handle only before Start. The
// RaftSink runs on reader goroutines (one per inbound connection), the
// OnLiveness callback on the peer's heartbeat goroutine; neither may
// block for long.
package rpc
