// Package kafka is Petrel's wire edge: it accepts Kafka client connections,
// reads and checks frames, decodes requests, hands each to the handler its
// API key registered, and writes the responses back in request order.
// Handlers for the keys (00_produce.go, 01_fetch.go, …) live here too, one
// file per key; this package reaches partitions only through shards and the
// read views they publish (DESIGN.md).
//
// # Usage
//
//	reg := kafka.NewRegistry()            // already serves ApiVersions
//	err := reg.Register(kafka.API{Key: 3, MinVersion: 0, MaxVersion: 12, Handle: h.metadata})
//	srv, err := kafka.NewServer(kafka.Config{}, reg, logger)   // zero fields: defaults
//	go srv.Serve(ln)                      // any number of listeners
//	…
//	err = srv.Close(ctx)                  // graceful, bounded by ctx
//
// # Frames
//
//	request:  size int32 | key int16 | version int16 | correlation id int32 |
//	          client id nullable string | [tagged fields, flexible versions] | body
//	response: size int32 | correlation id int32 | [tagged fields, flexible
//	          versions except ApiVersions] | body
//
// # The connection pipeline
//
//	        TCP                                                       TCP
//	         │                                                         ▲
//	┌────────▼─────────┐   queue (in request order,   ┌────────────────┴──┐
//	│ reader goroutine │   ≤ MaxInFlight entries)     │ writer goroutine  │
//	│ 1 take a slot    │ ───────────────────────────▶ │ for each entry in │
//	│ 2 size, key, ver │                              │ order: wait until │
//	│   checked: no    │     ┌──────────────────┐     │ done, encode,     │
//	│   allocation yet │ ──▶ │ handler goroutine│ ──▶ │ write, release    │
//	│ 3 charge budget  │     │ per request; may │done │ buffer, budget,   │
//	│ 4 read body      │     │ wait (long poll, │     │ slot              │
//	│ 5 decode, check  │     │ acks=all)        │     └───────────────────┘
//	└──────────────────┘     └──────────────────┘
//
// Handlers run concurrently and finish in any order; the writer writes
// responses strictly in the order requests were read. A connection holds at
// most MaxInFlight requests read and not answered: the reader takes a slot
// before it reads a frame, and the writer gives it back after writing the
// response, so a client that pipelines beyond the limit stops being read
// (TCP backpressure). Goroutines per connection: 2 + requests in flight.
//
// A handler returning (nil, nil) sends no response (Produce acks=0); an
// error, or a panic, closes the connection once the earlier responses are
// written. A handler must return when its context ends (connection closed,
// server aborting).
//
// # Limits (Config)
//
//   - MaxRequestBytes (100 MiB, Kafka's socket.request.max.bytes) bounds any
//     frame. A size below a v1 header (10 bytes), negative, or over the
//     limit closes the connection before anything is allocated; so do a TLS
//     ClientHello (reads as ~369 MB) and "GET / HTTP/1.1" (~1.2 GB).
//   - Per key, the frame is capped before allocation: API.MaxBodyBytes, by
//     default DefaultMaxBodyBytes (1 MiB: clients send kilobytes for
//     everything but Produce; Produce registers math.MaxInt32 =
//     MaxRequestBytes).
//   - DecodeBudgetBytes (512 MiB, node-wide, a shard.Budget) is charged
//     frame size × (1 + amplification) + 16 KiB per request before the body
//     is read, and released when the response is written. Waiting for it is
//     backpressure; a frame whose charge exceeds the whole budget is refused.
//     10k connections that announce 100 MiB each hold at most the budget.
//   - ReadTimeout (60 s): a frame must arrive whole, budget wait included,
//     once its first byte has (slow-loris). IdleTimeout (10 min, Kafka's
//     connections.max.idle.ms): a connection with nothing in flight that
//     sends nothing is closed. WriteTimeout (60 s): responses to a client
//     that does not read.
//
// # Decoding without amplification
//
// kmsg's decoders are written for clients, which trust their broker. On
// hostile bytes they allocate count × element size for an array before
// decoding any element (count is only checked against the remaining bytes,
// and an element struct is 20–200 bytes, so a 100 MiB frame can cost
// gigabytes: CVE-2022-34917), and a tagged-field count of 2^32−1 makes them
// loop 4 billion times on a 9-byte body (~60 s of CPU, measured). So this
// package decodes with its own copy of kmsg's request decoders,
// zz_decode_gen.go, generated from kmsg's source by internal/gendecode
// (go generate) with these rewrites: arrays grow by doubling as elements
// decode and stop at the first short read; tag loops stop at the first
// short read and unknown tags are skipped, not stored; the decoder reports
// the bytes left over. TestDecodersMatchKmsg checks every request type and
// version against kmsg.
//
// What is left is the densest legal content: a flexible struct of defaults
// encodes in 2–3 bytes and occupies ~100. amplification (amplify.go)
// measures, per key and version with kmsg's own encoder, the worst
// sizeof(element) / encoded size over every array of the request, and
// bounds the heap a body can cost by 4× that + 1 (doubling growth and its
// garbage, string copies). Across kmsg's request types the bound runs from
// 5× (ApiVersions) to 108× (Metadata 97×, Fetch and OffsetCommit 86×,
// JoinGroup 65×); a crafted 1 MiB Metadata frame measured 40 MiB against a
// 97 MiB bound (TestDecodeAmplificationBounded). Produce would be 86×, far
// too much for 100 MiB frames: its key file must set
// API.Check, a walk of the Produce structure that refuses bodies denser
// than a declared API.Amplification (partitions without records), and
// charge that instead.
//
// Trailing bytes after a body that decodes completely close the connection
// (ErrTrailingBytes), as does any body that does not decode: Kafka closes on
// unparseable requests, and no Kafka error response can be built for a
// request we could not read. Non-canonical varints can therefore be
// refused; real clients do not send them.
//
// # Keys and versions
//
// An unknown key, or a registered key at a version outside its range, closes
// the connection. ApiVersions is the exception (KIP-511): at a version above
// ours its body is not decoded and it is answered with a v0 response carrying
// UNSUPPORTED_VERSION (35) and the ApiVersions range, so the client retries.
// ApiVersions advertises exactly the registry, never a hand-written list.
//
// # In a cluster
//
// Clients are told every registered broker and each partition's leader as
// this node knows it (Broker.Leadership, Broker.ControllerID; leaders.go).
// Keys that need the leader's log (Produce, Fetch, ListOffsets,
// OffsetForLeaderEpoch, DeleteRecords, DescribeProducers) answer
// NOT_LEADER_OR_FOLLOWER for a follower replica or a partition this node
// does not host, and Produce v10+ / Fetch v16+ add where the leader is
// (KIP-951). A group's coordinator is the leader of its
// __consumer_offsets partition.
//
// # Adding a key
//
// Write NN_name.go (NN = the key), opening with a comment on the versions
// and behaviour (see 18_api_versions.go), with a constructor that returns an
// API{Key, MinVersion, MaxVersion, Handle} (plus MaxBodyBytes/Check/
// Amplification if its frames are large) closing over its dependencies; the
// node registers it with Registry.Register before serving. The handler gets
// a *Request (header fields, ConnInfo, decoded Msg) and returns
// Msg.ResponseKind() filled in. Msg's byte fields alias the frame buffer,
// which is recycled after the response is written: call Request.Retain to
// keep them longer.
package kafka
