package netfault

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
)

// Table names: every rule this package writes lives in one of these two
// tables of the namespace, and nothing else is touched.
const (
	// FaultTable holds the cuts and losses (inet family, filter chains on
	// the output and input hooks). Heal deletes it.
	FaultTable = "petrel_chaos"
	// SourceTable holds the source-address mapping (ip family, a nat
	// chain on the postrouting hook). It stays for the namespace's life.
	SourceTable = "petrel_chaos_src"
)

// lossMark marks a packet that already drew its loss lottery in the output
// hook, so that the input hook does not draw again for the same packet
// (loopback traffic traverses both).
const lossMark = 0x70657472 // "petr"

// ErrBadAddr: an address that is not an IPv4 address (the rules match on
// ip saddr / ip daddr).
var ErrBadAddr = errors.New("netfault: not an IPv4 address")

// ErrBadRule: a rule that cannot be built (a link from an address to
// itself, a loss outside 1–100 %, an address in two groups).
var ErrBadRule = errors.New("netfault: bad rule")

// link is one direction: packets from → to.
type link struct{ from, to netip.Addr }

func (l link) compare(o link) int {
	if c := l.from.Compare(o.from); c != 0 {
		return c
	}
	return l.to.Compare(o.to)
}

// Rules is a set of network faults between addresses: links cut (every
// packet dropped) and lossy links (a share of packets dropped at random).
// Build it with its methods, then apply it with Net.Apply, which replaces
// whatever fault was in place. Its zero value cuts nothing. Owned by one
// goroutine; Script is a pure function of the value.
type Rules struct {
	cut  []link
	loss map[link]int // percent
	err  error        // the first error of a builder call (sticky)
}

// Err is the first error a builder call met; Net.Apply refuses Rules
// with one.
func (r *Rules) Err() error { return r.err }

func (r *Rules) fail(err error) *Rules {
	if r.err == nil {
		r.err = err
	}
	return r
}

// parseAddrs parses IPv4 addresses, bare or host:port.
func parseAddrs(ss []string) ([]netip.Addr, error) {
	out := make([]netip.Addr, 0, len(ss))
	for _, s := range ss {
		a, err := ParseAddr(s)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// ParseAddr parses an IPv4 address, bare ("127.0.0.11") or with a port
// ("127.0.0.11:9092", the port ignored).
func ParseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(s)
		if err2 != nil {
			return netip.Addr{}, fmt.Errorf("%w: %q", ErrBadAddr, s)
		}
		a = ap.Addr()
	}
	if !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%w: %q", ErrBadAddr, s)
	}
	return a, nil
}

// Cut drops every packet from → to (one way: a TCP connection between
// them then fails both ways, its acknowledgements being lost, but the
// drop is only on one side, as a broken link in one direction).
func (r *Rules) Cut(from, to string) *Rules {
	as, err := parseAddrs([]string{from, to})
	if err != nil {
		return r.fail(err)
	}
	return r.cutLink(link{as[0], as[1]})
}

func (r *Rules) cutLink(l link) *Rules {
	if l.from == l.to {
		return r.fail(fmt.Errorf("%w: a link from %v to itself", ErrBadRule, l.from))
	}
	if !slices.Contains(r.cut, l) {
		r.cut = append(r.cut, l)
	}
	return r
}

// Partition cuts, both ways, every pair of addresses that are in different
// groups; addresses of one group still reach each other, and addresses in
// no group are not touched (clients, for example).
func (r *Rules) Partition(groups ...[]string) *Rules {
	parsed := make([][]netip.Addr, len(groups))
	seen := map[netip.Addr]int{}
	for i, g := range groups {
		as, err := parseAddrs(g)
		if err != nil {
			return r.fail(err)
		}
		for _, a := range as {
			if j, ok := seen[a]; ok && j != i {
				return r.fail(fmt.Errorf("%w: %v is in groups %d and %d", ErrBadRule, a, j, i))
			}
			seen[a] = i
		}
		parsed[i] = as
	}
	for i, g := range parsed {
		for _, h := range parsed[i+1:] {
			for _, a := range g {
				for _, b := range h {
					r.cutLink(link{a, b})
					r.cutLink(link{b, a})
				}
			}
		}
	}
	return r
}

// Isolate cuts addr from each of others, both ways: Partition({addr},
// others).
func (r *Rules) Isolate(addr string, others ...string) *Rules {
	return r.Partition([]string{addr}, others)
}

// Loss drops pct percent (1–100) of the packets between a and b, both
// ways, each packet drawing once.
func (r *Rules) Loss(a, b string, pct int) *Rules {
	as, err := parseAddrs([]string{a, b})
	if err != nil {
		return r.fail(err)
	}
	if pct < 1 || pct > 100 {
		return r.fail(fmt.Errorf("%w: loss of %d %%", ErrBadRule, pct))
	}
	if as[0] == as[1] {
		return r.fail(fmt.Errorf("%w: a link from %v to itself", ErrBadRule, as[0]))
	}
	if r.loss == nil {
		r.loss = map[link]int{}
	}
	r.loss[link{as[0], as[1]}] = pct
	r.loss[link{as[1], as[0]}] = pct
	return r
}

// Empty reports whether the rules cut nothing.
func (r *Rules) Empty() bool { return len(r.cut) == 0 && len(r.loss) == 0 }

// AppendScript appends the nft script that replaces the fault table with
// these rules, atomically when given to `nft -f` (one transaction). The
// same rules go in the output and the input hook: a packet between two
// local addresses traverses both, and a node's outgoing connection only
// gets its node's source address after the output hook (the nat table of
// SourceTable rewrites it on postrouting). Links are sorted, so equal
// Rules give equal scripts.
//
//	table inet petrel_chaos {}
//	delete table inet petrel_chaos
//	table inet petrel_chaos {
//		chain output {
//			type filter hook output priority filter; policy accept;
//			ip saddr . ip daddr { 127.0.0.11 . 127.0.0.12, … } drop
//			ip saddr 127.0.0.11 ip daddr 127.0.0.13 numgen random mod 100 < 30 drop
//			ip saddr 127.0.0.11 ip daddr 127.0.0.13 meta mark set 0x70657472
//		}
//		chain input {
//			type filter hook input priority filter; policy accept;
//			ip saddr . ip daddr { … } drop
//			meta mark 0x70657472 accept
//			ip saddr 127.0.0.11 ip daddr 127.0.0.13 numgen random mod 100 < 30 drop
//		}
//	}
func (r *Rules) AppendScript(dst []byte) []byte {
	dst = appendDeleteTable(dst, "inet", FaultTable)
	dst = append(dst, "table inet "+FaultTable+" {\n"...)
	cuts := slices.SortedFunc(slices.Values(r.cut), link.compare)
	var losses []link
	for l := range r.loss {
		losses = append(losses, l)
	}
	slices.SortFunc(losses, link.compare)
	for _, hook := range []string{"output", "input"} {
		dst = append(dst, "\tchain "+hook+" {\n\t\ttype filter hook "+hook+" priority filter; policy accept;\n"...)
		if len(cuts) > 0 {
			dst = append(dst, "\t\tip saddr . ip daddr { "...)
			for i, l := range cuts {
				if i > 0 {
					dst = append(dst, ", "...)
				}
				dst = append(dst, l.from.String()+" . "+l.to.String()...)
			}
			dst = append(dst, " } drop\n"...)
		}
		if len(losses) > 0 && hook == "input" {
			dst = append(dst, "\t\tmeta mark "+markHex()+" accept\n"...)
		}
		for _, l := range losses {
			match := "\t\tip saddr " + l.from.String() + " ip daddr " + l.to.String()
			dst = append(dst, match+" numgen random mod 100 < "+strconv.Itoa(r.loss[l])+" drop\n"...)
			if hook == "output" {
				dst = append(dst, match+" meta mark set "+markHex()+"\n"...)
			}
		}
		dst = append(dst, "\t}\n"...)
	}
	return append(dst, "}\n"...)
}

func markHex() string { return "0x" + strconv.FormatUint(lossMark, 16) }

// appendDeleteTable appends the idempotent deletion of a table: declaring
// it first makes the delete succeed whether it existed or not.
func appendDeleteTable(dst []byte, family, table string) []byte {
	return append(dst, "table "+family+" "+table+" {}\ndelete table "+family+" "+table+"\n"...)
}

// Source maps the sockets of one group id to one source address: every
// connection to 127.0.0.0/8 opened by a process whose group is GID leaves
// from Addr.
type Source struct {
	GID  uint32
	Addr string
}

// AppendSourceScript appends the nft script that replaces the source
// table with the mapping of srcs:
//
//	table ip petrel_chaos_src {}
//	delete table ip petrel_chaos_src
//	table ip petrel_chaos_src {
//		chain postrouting {
//			type nat hook postrouting priority srcnat; policy accept;
//			meta skgid 60011 ip daddr 127.0.0.0/8 snat to 127.0.0.11
//		}
//	}
//
// Why: on loopback the kernel picks 127.0.0.1 as the source of every
// connection, whatever address the dialing process listens on, so without
// this a node's outgoing connections could not be told from another's.
func AppendSourceScript(dst []byte, srcs []Source) ([]byte, error) {
	gids := map[uint32]bool{}
	for _, s := range srcs {
		if _, err := ParseAddr(s.Addr); err != nil {
			return dst, err
		}
		if gids[s.GID] || s.GID == 0 {
			return dst, fmt.Errorf("%w: group id %d used twice or 0", ErrBadRule, s.GID)
		}
		gids[s.GID] = true
	}
	dst = appendDeleteTable(dst, "ip", SourceTable)
	dst = append(dst, "table ip "+SourceTable+" {\n\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n"...)
	for _, s := range srcs {
		a, _ := ParseAddr(s.Addr)
		dst = append(dst, "\t\tmeta skgid "+strconv.FormatUint(uint64(s.GID), 10)+" ip daddr 127.0.0.0/8 snat to "+a.String()+"\n"...)
	}
	return append(dst, "\t}\n}\n"...), nil
}
