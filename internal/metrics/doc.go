// Package metrics is a node's Prometheus metrics: one registry per node
// (no package globals), served at the admin API's /metrics.
//
// # Where the numbers come from
//
// Three sources, none of which puts a lock or a map lookup on a shard:
//
//	data path counters   the Kafka server reports each request through
//	                     kafka.Observer (Metrics implements it): requests,
//	                     failures and latency per API key, record bytes in
//	                     and out per topic
//	file system          InstrumentFS wraps the node's vfs.FS: every fsync
//	                     is timed, and the bytes written to the file since
//	                     its previous sync are the size of what it made
//	                     durable (for the journal: one group-commit round)
//	probe at scrape      SetProbe installs a function returning a plain
//	                     Probe struct (connections, memory budgets, each
//	                     partition's published read state, consumer group
//	                     offsets); the collector turns it into series
//
// # Series
//
//	petrel_kafka_requests_total{api}                 counter
//	petrel_kafka_request_errors_total{api}           counter
//	petrel_kafka_request_latency_seconds{api}        histogram
//	petrel_kafka_bytes_in_total{topic}               counter (Produce record bytes received)
//	petrel_kafka_bytes_out_total{topic}              counter (Fetch record bytes sent)
//	petrel_kafka_connections                         gauge
//	petrel_kafka_requests_in_flight                  gauge
//	petrel_storage_fsync_latency_seconds{file}       histogram (journal, segment, other, dir)
//	petrel_storage_round_bytes{file}                 histogram (bytes per sync)
//	petrel_memory_budget_used_bytes{shard,subsystem} gauge
//	petrel_memory_budget_limit_bytes{shard,subsystem} gauge
//	petrel_partitions                                gauge
//	petrel_raft_leaders                              gauge
//	petrel_raft_leadership_changes_total             counter
//	petrel_consumer_group_lag{group,topic,partition} gauge (HW - committed)
//	petrel_consumer_group_committed_offset{group,topic,partition} gauge
//	petrel_partition_high_watermark{topic,partition}  gauge
//	petrel_partition_log_start_offset{topic,partition} gauge
//	petrel_partition_log_end_offset{topic,partition}  gauge
//	go_*, process_*                                  the Go runtime and process
//
// # Cardinality
//
// Every label is bounded by something the operator controls: API keys
// (fixed), topics (byte counters of deleted topics are dropped at the
// next scrape), shards and subsystems (fixed), groups and partitions.
// Options.PartitionSeries off removes every series with a partition
// label: consumer lag is then summed per group and topic
// (petrel_consumer_group_lag{group,topic}) and the per-partition offsets
// are not exported.
//
// # Consumer lag
//
// Lag is computed at scrape time, not sampled: the probe asks each group
// coordinator for its committed offsets and reads each partition's high
// watermark from its published read state, so the series is exact at the
// moment of the scrape and costs nothing between scrapes.
package metrics
