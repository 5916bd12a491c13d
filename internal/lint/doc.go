// Package lint holds the project's rules that go vet cannot know, written as
// Go tests (pebble's internal/lint is the model): `go test ./internal/lint`
// fails when a package reaches across a layer DESIGN.md forbids.
//
// The layers, leaf first:
//
//	model ← vfs ← storage (+ journal, kv, engine) ← partition ← cluster ← kafka, admin ← node ← cmd
//	shard: runtime only, no domain knowledge
//	cli:   a pure client (Kafka protocol, admin API types), plus storage for offline tools
//
// Rules are checked on transitive dependencies (go list -deps), so a forbidden
// edge cannot hide behind an intermediate package.
package lint
