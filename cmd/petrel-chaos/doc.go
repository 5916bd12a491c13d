// Command petrel-chaos runs Petrel's chaos harness (CHAOS.md §2): it starts
// real `petrel serve` processes, drives franz-go clients against them while
// a seeded nemesis injects faults, heals, reads everything back, and runs
// the checkers over the recorded history.
//
//	petrel-chaos --smoke                        # the fixed CI sequence, ≈1.5 min
//	petrel-chaos --duration 10m                 # random faults, random seed (printed)
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
// injected and the faults skipped with the reason, the ops line, one line
// per check, "chaos: N passed, M failed" and one JSON summary line, also
// written to <run>/summary.json. Exit status 1 when a safety check fails,
// 2 when the run could not be carried out. The run directory
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
// Today Petrel is one node: --nodes > 1 is refused until the cluster issue,
// and the faults that need it (network, disk-full) are listed as skipped
// with their reason, never faked.
package main
