// Command petrel-bench is the load generator and reference brokers of
// internal/bench as a binary of their own (the same commands as
// `petrel bench`), so scripts/bench.sh can drive the peers without
// building the broker.
package main
