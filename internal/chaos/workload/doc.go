// Package workload is the client side of a chaos run: franz-go producers,
// consumers, group committers and ListOffsets pollers that record every
// operation they attempt into a history.Recorder (CHAOS.md §2.3).
//
// # Usage
//
//	w := workload.New(workload.Config{Seeds: c.Seeds(), Rec: rec, Seed: seed, Logger: log})
//	err := w.Setup(ctx)          // topics chaos (6 partitions) and lin (1)
//	w.Run(ctx)                   // until ctx ends; every loop stops with it
//	... heal every fault, wait until the nodes are ready ...
//	err = w.FinalRead(ctx, 60*time.Second)   // brand-new consumers, 0 → HW: Read ops
//
// # Clients (one history process each; a process never runs two ops at once
// except a producer, whose sends are pipelined like a real one)
//
//	producers    Producers idempotent (default 3) + 1 non-idempotent, manual
//	             partitioner over topic chaos, acks=all, sharing one token
//	             bucket (Rate records/s, default 300); values of 100–1000
//	             bytes "<value id>:<filler>" with header petrel-chaos: <value id>;
//	             each recreated every RecreateEvery (new producer id, new name)
//	assign       2 consumers of every chaos partition from offset 0; each poll
//	             records one Poll op per partition (invoke: the position);
//	             recreated every RecreateEvery, resuming at their position
//	group        1 group member (subscribe): after each poll, one Commit op per
//	             partition it polled, then FetchOffset ops for every partition
//	list-offsets 1 poller: earliest and latest of every chaos partition
//	lin          2 processes on topic lin (1 partition), LinRate ops/s in all:
//	             sequential sends and ListOffsets for the linearizability check
//	probes       1 per node of ProbeNodes (a cluster): one-record acks=all
//	             produces sent straight to that node (not routed), every
//	             ProbeEvery, to the chaos partitions in turn; non-idempotent
//	             sends of producer "n<id>.probe" whose ops carry Node, so the
//	             minority-ack check knows which node answered
//
// # Outcomes
//
// A send completes ok (offset, leader epoch), fail (a definite Kafka
// rejection: the broker applied nothing; see definite) or info (anything
// else: timeouts, disconnects, retries exhausted, client closed).
package workload
