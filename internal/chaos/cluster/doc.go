// Package cluster starts, stops and breaks the `petrel serve` processes of a
// chaos run or a crash test: real processes, real files, free loopback
// ports, and nothing but the processes it started.
//
// # Usage
//
//	bin, err := cluster.Build(ctx, cluster.BuildOptions{ModuleDir: root, Out: dir + "/petrel"})
//	c, err := cluster.New(cluster.Config{Binary: bin, Dir: runDir, Nodes: 3, Logger: log})
//	defer c.Close()                      // SIGKILL, by PID, whatever still runs
//	err = c.Start(ctx)                   // start every node, then wait for each /v1/status/ready
//	n := c.Node(0)
//	err = n.Kill()                       // SIGKILL, wait for the exit
//	err = n.Start(ctx)                   // same data dir, same ports and flags: rejoins; wait ready
//	d, err := n.ReplicaDigest(ctx, "t", 0, upto) // CRC-32C of its replica's batches below upto
//	took, err := n.Terminate()           // SIGTERM; > 30 s or exit status ≠ 0 is an error
//	n.Pause(); n.Resume()                // SIGSTOP / SIGCONT
//	probs := c.Problems()                // unexpected exits, panic / fatal error / DATA RACE in logs
//
// With a broker built with -tags failpoints (BuildOptions.Tags), Config.Env
// can arm failpoints at every start (PETRELFP_<NAME>=spec) and a running
// node's can be set through its admin API:
//
//	n.ExpectExit(true)                   // the crash about to be injected is ours
//	err = n.SetFailpoint(ctx, "storage/before-journal-sync", "20*off->panic")
//	<-n.Exited()
//
// # Contract
//
//   - A process is signalled only through the *os.Process this package
//     started (by PID, never by name); each runs in its own process group
//     (Setpgid) so a terminal's Ctrl-C reaches the harness, which then
//     kills its brokers in Close.
//   - A node keeps its ports across restarts (clients keep their seed
//     addresses); ports are picked free on 127.0.0.1 when the node is
//     created, or on the node's own host when Config.Hosts gives one per
//     node (Kafka, admin and RPC listeners all on it, the Kafka address
//     advertised as is); Config.GIDs runs node i with its own primary
//     group, by which internal/chaos/netfault gives its outgoing
//     connections its host as source address (network partitions, see
//     that package).
//   - Every exit the harness did not cause (Kill, Terminate, Close) is an
//     unexpected exit and is reported by Problems, as is any log line with
//     "panic:", "fatal error:" or "DATA RACE" (the broker-crash check),
//     except an exit marked by ExpectExit and the runtime's report of an
//     injected crash ("panic: failpoint <name>: injected crash").
//   - A node's stdout and stderr go to one log file that every start of
//     the node appends to, after a "=== chaos: start N ===" marker line.
//
// # Layout under Config.Dir
//
//	node-0/data/        the node's data directory (--data-dir)
//	node-0/petrel.log   stdout+stderr of every start of node 0
//	node-1/...
//
// # One node or a cluster
//
// Config.Nodes = 1 (the default) runs one node without --seeds: a
// single-node cluster, as every chaos run before the cluster issue did.
// With Nodes > 1 every node is started with the same flags at every start:
//
//	petrel serve --node-id i --data-dir node-i/data --kafka-addr K_i
//	    --admin-addr A_i --rpc-addr R_i --seeds R_0,R_1,…,R_n-1
//
// A new cluster forms only once every seed answers, so Cluster.Start
// starts every process before it waits for any to be ready; afterwards a
// single node restarts alone (Node.Start) and rejoins from its data dir.
// Ports are picked below the ephemeral range (20000–32767) so that no
// outgoing connection takes a stopped node's port.
//
// Test binaries share one build of the broker through TestBinary (see its
// example).
package cluster
