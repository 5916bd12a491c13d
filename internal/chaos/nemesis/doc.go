// Package nemesis injects faults into a chaos run on a seeded schedule and
// logs every injection and heal with monotonic times.
//
// # Faults
//
// A Fault is a name, an availability test and an inject/heal pair:
//
//	type Fault struct {
//	    Name      string
//	    Available func() error      // nil: usable here; else why not (printed, never faked)
//	    Inject    func(ctx) error   // break something
//	    Heal      func(ctx) error   // undo it, and wait until the node is ready again
//	    Hold      [2]time.Duration  // how long it stays injected: U(Hold[0], Hold[1])
//	}
//
// Catalog builds the faults of CHAOS.md §2.4 that need no cluster: kill
// (SIGKILL a random node, restart after U(0,3) s), kill-all, terminate
// (SIGTERM, clean exit ≤ 30 s or the fault fails; a node hands its
// leaderships over first), pause (SIGSTOP U(2,8) s, SIGCONT) and
// truncate-tail (SIGKILL, cut the active segment mid-batch inside the
// journal-covered tail, restart: the broker must repair it from its
// journal, see package diskfault). With the FUSE disk layers of package
// diskfault under the nodes' data directories (Disks; root and /dev/fuse),
// the disk faults work too: power-fail (SIGKILL one node, drop everything
// its disk had not synced, restart), power-fail-all (every node at once),
// slow-disk (U(5,50) ms on every write and fsync of one node, U(5,20) s)
// and eio-fsync (fsync fails with EIO, then writes do, U(5,15) s; heal:
// SIGKILL, drop what was not synced, clear the errors, restart).
//
// ClusterFaults (clusterfaults.go) adds the faults of a cluster of 3 or
// more nodes, targets found through Metadata: kill-leader and
// kill-follower of a random partition, leader-transfer-storm (every 2 s a
// partition's leader is SIGTERMed, restarted, and the preferred leaders
// elected back through ElectLeaders) and, in netns mode (a
// netfault.Net, nodes on their own hosts), isolate (a partition's leader
// cut from the other nodes; clients still reach it), isolate-follower,
// majority-minority (the controller alone | the two others), bridge,
// one-way, lossy-link (30 %) and isolate-client-leader. A cut that leaves
// a node alone logs a "minority" event naming it; Spans turns the log
// into fault windows for the minority-ack and liveness checks. On one
// node those are unavailable (ErrNeedsCluster), in loopback mode the
// network ones (ErrNeedsNetns); slow-net (needs a delay proxy) and
// disk-full (a data dir small enough to fill) are always skipped with
// their reason, never faked.
//
// Failpoints (crashpoints.go, brokers built with -tags failpoints):
// CrashPoints arms a random crash point (CrashPointNames) "N*off->1*panic"
// on a random node, waits U(5,15) s for the crash and restarts the node;
// WithFault puts it in place of the catalog's placeholder (Placeholders:
// crash-points without a failpoints build; clock-skew always, the broker
// having no single clock seam). The negative control's AckLoss and
// NegativeControl schedule crash a broker started with NegativeControlEnv
// (ack before commit, skip fsync) where acknowledged records are in memory
// only.
//
// # Schedule (seeded, reproducible)
//
//	|-- warm-up --|-- inject U(hold) --|heal|-- gap U(5,10) s --|-- inject … --| … end
//
// Plan(seed, …) lays out the cycles until the duration ends; a cycle is
// "no fault" with probability 1/6. Smoke(…) is the fixed CI sequence on
// one node, ClusterSmoke(…) the short one on a cluster (kill-leader, then
// isolate in netns mode). Run
// executes a plan: for each step it waits until the step's start, injects,
// holds, heals, and records each event. A failed inject or heal is a
// finding (e.g. a terminate past 30 s, a node that does not come back),
// returned in the Report and logged.
//
// # Fault log (faults.jsonl in the run directory)
//
//	{"ns":15000812345,"ev":"inject","fault":"kill","node":0}
//	{"ns":15004120001,"ev":"injected","fault":"kill","node":0,"detail":"pid 4711"}
//	{"ns":16530000000,"ev":"heal","fault":"kill","node":0}
//	{"ns":17310044210,"ev":"healed","fault":"kill","node":0}
//	{"ns":29000000000,"ev":"none"}                      a no-fault cycle
//	{"ns":…,"ev":"minority","fault":"isolate","node":2}  node 2 cut off from every other node
//	{"ns":…,"ev":"error","fault":"terminate","detail":"…no exit within…"}
//
// ns is monotonic nanoseconds since the run's origin (the same origin as
// the history), so faults and operations line up.
package nemesis
