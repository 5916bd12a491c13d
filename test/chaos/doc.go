// Package chaos holds the end-to-end tests of the chaos harness:
// TestChaosSmoke builds petrel and petrel-chaos and runs the CI smoke
// (cmd/petrel-chaos --smoke) against a real one-node broker;
// TestChaosSmokeCluster runs the cluster's (--smoke --nodes 3: kill -9 of
// a leader, and a leader isolated by nftables when the machine allows a
// network namespace) and shows minority-ack catches an acknowledgement by
// the cut-off node edited into its history; and the
// negative controls show the checker pipeline fails on a history that lost
// acknowledged records: TestNegativeControlSynthetic and the smoke's
// subtest on edited histories, TestNegativeControlRun on a real broker
// built with -tags failpoints that acknowledges before the commit and is
// crashed before it writes (petrel-chaos --negative-control).
package chaos
