// Command petrel-chaos runs Petrel's chaos harness (CHAOS.md §2): it starts
// real `petrel serve` processes, drives franz-go clients against them while
// a seeded nemesis injects faults, heals, reads everything back, and runs
// the checkers over the recorded history.
//
//	petrel-chaos --smoke                        # the fixed CI sequence on one node, ≈1.5 min
//	petrel-chaos --smoke --nodes 3              # the short cluster sequence, ≈40 s
//	petrel-chaos --duration 10m                 # random faults, random seed (printed)
//	petrel-chaos --nodes 3 --duration 10m       # a 3-node cluster: cluster and network faults
//	petrel-chaos --nodes 3 --faults isolate,leader-transfer-storm --duration 3m   # only these
//	petrel-chaos --seed 1731 --duration 10m     # replay a schedule
//	petrel-chaos --failpoints --duration 10m    # broker built with -tags failpoints: crash-points too
//	petrel-chaos --negative-control             # a deliberately broken broker: must be caught
//
// Phases: build the broker if --binary is absent → start the nodes → create
// topics → warm-up → fault cycles (workload running) → heal every fault,
// wait ready → final reads (brand-new consumers, 0 → HW) → SIGTERM the
// nodes → checks.
//
// Output (CHAOS.md §2.7): a header line (seed, mode, nodes), the faults
// skipped with the reason, the faults injected, the ops line (probes
// apart), the unavailability and recovery figures per fault type, one
// line per check, "chaos: N passed, M failed" and one JSON summary line,
// also written to <run>/summary.json (unavailability_s, recovery_s and
// targets among its figures). Exit status 1 when a safety check fails or
// a liveness target (--max-unavailability, --max-recovery) is missed, 2
// when the run could not be carried out. The run directory
// (history.jsonl, faults.jsonl, schedule.json, node-*/petrel.log,
// node-*/data, node-*/disk) is deleted when every check passed and kept, with its path
// printed, otherwise (or with --keep).
//
// Disks: as root with /dev/fuse (and --fuse, the default) every node's data
// directory is a lazy FUSE layer of package diskfault (node-*/disk holds the
// real files), which enables power-fail, power-fail-all, slow-disk and
// eio-fsync; the smoke then adds power-fail of one node after kill-all.
// The layers are unmounted (forcibly if need be) when the run ends, after
// the nodes are killed.
//
// Failpoints (package failpoint): --failpoints builds the broker with
// -tags failpoints (or checks that --binary serves /v1/failpoints) and adds
// crash-points to the random schedule: a panic at a journal sync boundary
// or before a Raft hard state is staged, at a random moment, then a
// restart; every safety check must still pass. clock-skew stays skipped:
// the broker has no single wall-clock seam to offset.
//
// Negative control (CHAOS.md §2.5): --negative-control starts the brokers
// with PETRELFP_KAFKA_ACK_BEFORE_COMMIT=on and PETRELFP_STORAGE_SKIP_FSYNC=skip
// and, after a 5 s warm-up, three times arms raft/before-hardstate with
// "10*off->1*panic(300)" and restarts the crashed broker: the entries being
// staged were acknowledged at their proposal and are written nowhere, so
// acknowledged records are lost. The run prints "negative control: caught
// by lost-write (N)" and exits 1, as the checks failed; "not caught" exits
// 3: the harness is broken. (On one node without the FUSE layer a kill -9
// keeps the page cache, so skip-fsync alone loses nothing observable.)
//
// Clusters: --nodes 3 (or more) starts the nodes with --seeds, creates the
// topics with RF 3, adds one prober per node to the workload (direct
// one-record produces that name the node that answered) and the cluster
// faults of nemesis.ClusterFaults: kill-leader, kill-follower (targets from
// Metadata), leader-transfer-storm (SIGTERM the leader, restart, elect the
// preferred leaders back) next to kill, kill-all, terminate, pause and the
// disk faults. Where a cluster runs (--net):
//
//	netns     root with nft and unshare: petrel-chaos re-runs itself under
//	          `unshare --net` (a private network namespace that dies with
//	          it), node i listens on 127.0.0.(11+i) with group 60011+i so
//	          its connections leave from its own address (package
//	          netfault), and the network faults run with nftables: isolate
//	          (a partition's leader cut from the other nodes; clients still
//	          reach it), isolate-follower, majority-minority (the
//	          controller alone), bridge, one-way, lossy-link,
//	          isolate-client-leader. The FUSE layers are mounted allow_other
//	          (FUSE would refuse the nodes' own groups).
//	loopback  every node on 127.0.0.1 in the host's namespace: the
//	          network faults are skipped, and the output says why ("network:
//	          loopback mode (…)"); the brief's "loopback + proxy" allowance
//	          without the proxy (slow-net stays skipped either way).
//	auto      netns when possible (the default).
//
// After the final read, every node's digest of every partition (admin API
// GET /v1/debug/partitions/kafka/{topic}/{p}/digest) is collected, once
// their high watermarks agree (≤ 30 s): replica-divergence compares them.
// The fault log's spans (nemesis.Spans) feed minority-ack (a node alone on
// its side of a cut acknowledges no probe sent after the cut) and the
// liveness figures. The smoke on a cluster is nemesis.ClusterSmoke:
// kill -9 of a partition's leader, restart, then (netns) a leader
// isolated for 8 s, healed; 30 s final read.

package main
