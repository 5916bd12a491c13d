// Package chaos holds the end-to-end tests of the chaos harness:
// TestChaosSmoke builds petrel and petrel-chaos and runs the CI smoke
// (cmd/petrel-chaos --smoke) against a real one-node broker, and the
// negative controls show the checker pipeline fails on a history that lost
// acknowledged records.
package chaos
