// Package check holds the chaos harness's checkers: pure functions over a
// recorded history (package history) and the final reads, one per row of
// CHAOS.md §2.5 that a history can feed. They touch no broker, file or
// clock (except the linearizable check's time budget).
//
// # Usage
//
//	ops, err := history.ReadAll(f)                 // <run>/history.jsonl
//	results := check.All(check.Input{Ops: ops})    // Final built from the Read ops
//	check.Format(os.Stdout, results)               // PASS lost-write   acked=… lost=0
//	passed, failed := check.Summarize(results)     // failed > 0: exit 1
//
// # What each check looks at
//
// The history is first indexed once (linear in its size): invokes paired
// with completions by ID (an op that never completed counts as info, ending
// at +∞), sends by value id, every record any poll or read returned by
// (partition, offset) and by value, and the final read per partition (the
// Read ops merged, or Input.Final).
//
//	check                    severity  fails when
//	lost-write               safety    an ok send is not in the final read at its offset; an info send
//	                                   some reader saw is not in the final read; Jepsen's inference
//	                                   (no final read: a higher offset was read, this value never);
//	                                   a partition with acked sends has no final read (unverified)
//	ack-offset-mismatch      safety    a reader saw another value at an acked offset; negative ack
//	inconsistent-offsets     safety    one (partition, offset) with two values across acks and reads
//	duplicate                safety    an idempotent producer's value read at two offsets
//	                                   (other producers' count: Detail, informational)
//	realtime-order           safety    ok(A) completed before B was invoked, offset(B) ≤ offset(A)
//	nonmonotonic-send        safety    an idempotent producer's later send (invoke order) acked at a
//	                                   lower offset, or its seqs not increasing in the final read
//	read-then-lost           safety    a record a poll/read saw is not in the final read there
//	g1a                      safety    a failed send is read; a value never sent is read
//	poll-skip                safety    an assign consumer reads i then j with a known offset between
//	nonmonotonic-poll        safety    an assign consumer reads j ≤ i after i (within or across polls)
//	hw-regression            safety    one list_offsets process sees latest offset decrease; latest <
//	                                   offset+1 of a record acked or read before the call (G18; NoG18
//	                                   turns this half off)
//	leader-epoch-regression  safety    a client's epochs (send acks, list_offsets, consumed records in
//	                                   offset order) decrease; the final read's epochs decrease
//	data-loss-events         safety    franz-go reported ErrDataLoss on a poll
//	group-offset-regression  safety    one client's OffsetFetch decreases, no commit explaining it
//	group-offset-lost        safety    OffsetFetch < the latest acked commit completed before it, and no
//	                                   commit that may have come after that one lowered it
//	unseen-final             info      info sends no reader ever saw (a figure)
//	linearizable             safety    the lin topic has no linearization as a log (porcupine; see
//	                                   lin.go); out of budget is Inconclusive, neither pass nor fail
//	minority-ack             safety    a send straight to a node (op.Node: the workload's probes),
//	                                   invoked after Input.Faults cut that node off from the majority
//	                                   and answered before the heal, was acknowledged (G10)
//	replica-divergence       safety    Input.Replicas: a replica did not answer, or the replicas of a
//	                                   partition disagree on the high watermark or on the digest
//	                                   (CRC-32C of the batches) below it (G12, invariant 2)
//	liveness                 liveness  figures (Figures): per fault, fault in place → every partition's
//	                                   first ack invoked after it (unavailability), heal → the same
//	                                   (recovery); fails only past Input.Targets
//
// "Known offset" for poll-skip is any offset the final read or any reader
// holds, so gaps in offsets (none today) are not skips. Leader epoch 0 on a
// send ack or list_offsets means "not recorded" and is not compared.
//
// # Contract
//
// Every Result's Name is the check's name in CHAOS.md; All runs them in the
// order above; Examples hold at most 8 anomalies, each naming the partition,
// offset and value involved. A Safety result fails when Count > 0, so does
// a Liveness result (Count is then the targets missed; with no target it
// is 0); Informational results always pass (their figure is in
// Count/Detail).
//
// Fault spans and replica digests come from outside the history:
// cmd/petrel-chaos builds Input.Faults from the nemesis's fault log (same
// clock origin) and Input.Replicas from every node's digest endpoint
// (GET /v1/debug/partitions/kafka/{topic}/{p}/digest) after the final read.
package check
