// Package netfault breaks the network between the processes of a chaos
// run or a cluster test: it cuts links (partitions, isolation, one-way
// cuts) and makes them lossy, with nftables, inside a private network
// namespace that dies with the test, so the host's own rules are never
// read or written (CHAOS.md §2.1, §2.4).
//
// # Usage
//
//	func TestSplit(t *testing.T) {
//		if !netfault.Enter(t) { // re-runs this test under `unshare --net`
//			return              // (or skips: not root, no nft, no unshare)
//		}
//		n, err := netfault.Open(logger)
//		err = n.Sources(ctx, netfault.NodeSources(3)) // before the nodes start
//		// start node i on netfault.NodeHost(i) with group netfault.NodeGID(i)
//		err = n.Isolate(ctx, netfault.NodeHost(0), netfault.NodeHost(1), netfault.NodeHost(2))
//		err = n.Partition(ctx, []string{h0}, []string{h1, h2}) // the same fault
//		err = n.Apply(ctx, new(netfault.Rules).Cut(h0, h1).Loss(h1, h2, 30))
//		err = n.Heal(ctx)                                       // delete the fault table
//	}
//
// # Address plan
//
// Everything runs on 127.0.0.0/8 on the namespace's lo (Enter brings it
// up): node i listens on 127.0.0.(11+i) (NodeHost); the test process and
// its clients leave from 127.0.0.1 (ClientAddr). Nothing can leave the
// namespace: it has no other interface and no route.
//
// On loopback the kernel gives every outgoing connection the source
// 127.0.0.1, whatever address the dialing process listens on, so a node's
// connections to its peers could not be told apart by address. Sources
// fixes that without touching the broker: node i runs with group id
// 60011+i (NodeGID), and a nat rule on postrouting rewrites the source of
// that group's connections to the node's own address, as a real network
// would show it:
//
//	table ip petrel_chaos_src                       (Sources; stays)
//	    postrouting (nat): meta skgid 60011 → snat to 127.0.0.11, …
//	table inet petrel_chaos                         (Apply; Heal deletes it)
//	    output (filter):  ip saddr . ip daddr { a . b, b . a, … } drop
//	    input  (filter):  the same set
//
// Loopback packets traverse the output hook, then postrouting (where a
// node's source is rewritten), then the input hook: the same drop rules
// sit in both filter hooks, so a node's own dial (still 127.0.0.1 on
// output) is dropped on input and the answers to it (from the peer's
// address) on output. A lossy link draws once per packet: the output hook
// marks the packets that passed its draw and the input hook lets marked
// packets through.
//
// # Contract
//
//   - Every call replaces the fault in place in one nft transaction
//     (`nft -f -`), so each is idempotent and the last one wins; Heal
//     deletes the fault table and is idempotent too.
//   - Rules only touch pairs of listed addresses: a partition between
//     nodes leaves clients (addresses in no group) able to reach every
//     node — the `isolate` fault of CHAOS.md §2.4. Cutting a client from
//     a node is a Partition with the client's address in a group.
//   - Rules is a pure builder: its script is golden-tested
//     (testdata/*.nft, -rewrite regenerates); the namespace tests prove
//     that the scripts cut and restore real TCP connections.
//   - Only connections opened after Sources are mapped: install it before
//     the nodes start.
package netfault
