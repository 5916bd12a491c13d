// Package bench is Petrel's own load generator and the reference brokers
// its figures are compared with: `petrel bench …` (NewCommand), driven by
// scripts/bench.sh (`make bench`).
//
// # What a run compares
//
// Every figure is a ratio to something measured in the same run, on the
// same machine:
//
//	raw disk   write+fdatasync of 1 MiB blocks (MB/s) and of 4 KiB blocks
//	           (p50/p99) into a file written beforehand (rawdisk)
//	null       a broker that acks without storing and serves synthetic
//	           fetches (NullBroker): the client's own ceiling
//	kfake      franz-go's kfake with DataDir + SyncWrites: the peer
//	petrel     `petrel serve`
//	petrel3    three `petrel serve` processes forming one cluster on the
//	           same machine (same disk, same cores), topics with
//	           replication factor 3: ratios to petrel of the same run
//
// The produce goal is ≥ 0.8 × min(null, raw 1 MiB bandwidth) and ahead of
// kfake; the latency goal p50 ≤ 2 × the raw 4 KiB fdatasync p50; catch-up
// consume ≥ 0.9 × null. The cluster's goal is ≥ 0.3 × the single node's
// produce throughput (cluster3_p1, cluster3_p12); its open-loop p50/p99
// at the same rate are reported as ratios to the single node's
// (cluster3_p50_ratio, cluster3_p99_ratio).
//
// # Failover
//
// `failover` is one round: under an acks=all producer (one 1 KiB record
// every 2 ms to partition 0 of a replication-factor-3 topic, at most 256
// unacknowledged; metadata refreshed at most every 250 ms) it finds the
// partition's leader through Metadata, sends SIGKILL to that node's PID
// (only PIDs passed with --pids, node=pid: the caller owns the processes
// and restarts them) and measures
//
//	to_ack_ms     kill(2) returned → acknowledgement of the first record
//	              handed to the client after it (only a new leader can
//	              have written it): the failover time
//	to_leader_ms  kill → Metadata names another leader
//
// scripts/bench.sh runs BENCH_FAILOVER_ROUNDS rounds per run, restarting
// the killed node and waiting for /v1/status/ready between rounds (the
// next round waits for 3 in-sync replicas before it kills), and reports
// failover_p50_ms (median of the rounds' to_ack_ms) and failover_max_ms.
// Every field of the final line is the median over the runs of a
// per-run figure.
//
// # Usage
//
//	petrel bench disk --dir /var/lib/petrel --duration 4s
//	petrel bench peer null --addr 127.0.0.1:19092 &          # until SIGTERM
//	petrel bench peer kfake --addr 127.0.0.1:19093 --data-dir /tmp/kfake &
//	petrel bench produce --brokers 127.0.0.1:19092 --topic t --partitions 12 \
//	    --record-size 1024 --acks all --duration 10s [--rate 10000000] [--json]
//	petrel bench consume --brokers 127.0.0.1:19092 --topic t
//	petrel bench e2e --brokers 127.0.0.1:19093 --topic t --rate 10000000
//	petrel bench produce --brokers A,B,C --topic t --replication-factor 3 …
//	petrel bench failover --brokers A,B,C --pids 0=4121,1=4122,2=4130 --json
//
// In Go: Produce, Consume, E2E, Disk, Failover, StartNull and StartKfake
// are the same runs without the command line.
//
// # Measuring without lying
//
//   - Open loop (--rate): record k is due at k × record size / rate after
//     the start; a record sent late (client blocked, sleep overshoot)
//     counts from its due time, so a stalled broker shows up in the
//     latency instead of slowing the arrivals down (no coordinated
//     omission). Latencies go into an HdrHistogram (1 µs – 1 min, 3
//     significant digits).
//   - Closed loop (no rate): records are handed to franz-go as fast as it
//     accepts them (its buffer of 50,000 records is the bound); latency
//     then includes time spent in that buffer.
//   - Throughput is acknowledged value bytes over the time from the start
//     to the last acknowledgement; one warm-up record, sent and waited for
//     before the clock starts, is not counted.
//   - A run checks its own books: sent = acknowledged + failed, and a
//     consume must read exactly the listed offsets; anything else is
//     ErrIncomplete.
//
// # The null broker
//
// Built on internal/kafka (so connections, framing and decoding cost what
// they cost in Petrel), with Metadata, CreateTopics, InitProducerId,
// Produce, ListOffsets and Fetch. Per partition it keeps the next offset
// and the value size of the last uncompressed batch produced; Fetch serves
// batches of zero-valued records of that size from a cached template (one
// per value size, at most 8), rewriting only the base offset (before the
// CRC). A consumer reading back what it produced therefore sees the same
// record count and value bytes; e2e against it fails (values carry no
// due time).
package bench
