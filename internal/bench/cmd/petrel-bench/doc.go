// Command petrel-bench runs `petrel bench` on its own, so scripts/bench.sh
// can drive the load generator and the reference brokers before (and
// independently of) the petrel binary wiring it in.
package main
