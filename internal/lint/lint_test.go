package lint

import (
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const mod = "github.com/petrel-streaming/petrel"

// rule forbids packages under pkg (itself and below) from depending,
// directly or transitively, on anything under the listed prefixes.
type rule struct {
	pkg       string
	forbidden []string
	why       string
	direct    bool // check direct imports only (for the standard library, which fmt already pulls os into)
}

var project = []string{mod + "/internal/", mod + "/cmd/", mod}

var rules = []rule{
	{"internal/model", project, "model is the leaf: no project imports and no I/O", false},
	{"internal/model", []string{"os", "net", "syscall", "golang.org/x/sys"}, "model does no I/O", true},
	{"internal/vfs", project, "vfs sits on model only (and the failpoint leaf)", false},
	{"internal/failpoint", project, "failpoint is a leaf: every layer may hold a failpoint", false},
	{"internal/storage", layersAbove("storage"), "storage knows nothing of Raft, Kafka or the node", false},
	{"internal/storage", []string{"go.etcd.io/raft", "github.com/twmb/franz-go"}, "storage knows nothing of Raft or the Kafka protocol", false},
	{"internal/storage", []string{"os", "syscall", "golang.org/x/sys"}, "all storage file I/O goes through vfs", true},
	{"internal/shard", project, "the shard runtime has no domain knowledge", false},
	{"internal/partition", layersAbove("partition"), "a partition replica does not know the cluster or the wire", false},
	{"internal/rpc", prefixes("internal/cluster", "internal/kafka", "internal/admin", "internal/cli", "internal/node"), "rpc is transport only", false},
	{"internal/cluster", prefixes("internal/kafka", "internal/admin", "internal/cli", "internal/node"), "the controller does not know its callers", false},
	// The wire edge uses partition's read views and results, and partition
	// sits on the engine: the storage internals are forbidden as imports
	// of kafka's own code, not as transitive dependencies.
	{"internal/kafka", prefixes("internal/vfs", "internal/storage/journal", "internal/storage/kv", "internal/storage/engine"), "the wire edge reaches partitions through shards and read views", true},
	{"internal/kafka", prefixes("internal/admin", "internal/cli", "internal/node"), "the wire edge does not know the node that wires it", false},
	{"internal/admin", prefixes("internal/vfs", "internal/storage/journal", "internal/storage/kv", "internal/storage/engine", "internal/kafka", "internal/cli", "internal/node"), "the admin API reads typed snapshots", false},
	{"internal/cli", prefixes("internal/partition", "internal/cluster", "internal/shard", "internal/kafka", "internal/rpc", "internal/node", "internal/storage/engine"), "the CLI is a client", false},
	{"internal", prefixes("cmd/"), "nothing imports a command", false},
}

// layersAbove lists the packages that a layer must not reach.
func layersAbove(layer string) []string {
	order := []string{"storage", "shard", "partition", "rpc", "cluster", "kafka", "admin", "transform", "tiered", "cli", "node"}
	var out []string
	seen := false
	for _, l := range order {
		if seen && !(layer == "storage" && l == "shard") && !(layer == "partition" && l == "rpc") {
			out = append(out, mod+"/internal/"+l)
		}
		if l == layer {
			seen = true
		}
	}
	return append(out, mod+"/cmd/", mod)
}

func prefixes(ps ...string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = mod + "/" + p
	}
	return out
}

// allowedWithin reports whether dep is allowed despite matching a
// forbidden prefix: a package may always depend on itself and, for the
// project-wide prefixes, on the explicitly allowed leaf packages.
func allowedWithin(r rule, pkg, dep string) bool {
	if dep == pkg || strings.HasPrefix(dep, mod+"/"+r.pkg+"/") || dep == mod+"/"+r.pkg {
		return true
	}
	switch r.pkg {
	case "internal/vfs":
		return dep == mod+"/internal/model" || dep == mod+"/internal/failpoint"
	case "internal/shard":
		return dep == mod+"/internal/model"
	}
	return false
}

func matches(dep, prefix string) bool {
	switch {
	case prefix == mod:
		return dep == mod
	case strings.HasSuffix(prefix, "/"):
		return strings.HasPrefix(dep, prefix)
	default:
		return dep == prefix || strings.HasPrefix(dep, prefix+"/")
	}
}

func TestImportLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{join .Imports " "}}|{{join .Deps " "}}`, mod+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	var violations []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.Split(line, "|")
		pkg, imports, deps := parts[0], strings.Fields(parts[1]), strings.Fields(parts[2])
		for _, r := range rules {
			if !matches(pkg, mod+"/"+r.pkg) {
				continue
			}
			checked++
			list := deps
			if r.direct {
				list = imports
			}
			for _, dep := range list {
				for _, f := range r.forbidden {
					if matches(dep, f) && !allowedWithin(r, pkg, dep) {
						violations = append(violations, pkg+" → "+dep+": "+r.why)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package matched any rule: the module path or the rules are wrong")
	}
	sort.Strings(violations)
	for _, v := range violations {
		t.Error(v)
	}
}

// TestRulesCatchViolations proves the matcher fires: a rule list applied to
// a made-up dependency must report it.
func TestRulesCatchViolations(t *testing.T) {
	cases := []struct {
		pkg, dep string
		want     bool
	}{
		{mod + "/internal/model", mod + "/internal/vfs", true},
		{mod + "/internal/model", "os", true},
		{mod + "/internal/vfs", mod + "/internal/model", false},
		{mod + "/internal/vfs", mod + "/internal/storage", true},
		{mod + "/internal/vfs", mod + "/internal/failpoint", false},
		{mod + "/internal/failpoint", mod + "/internal/model", true},
		{mod + "/internal/shard", mod + "/internal/failpoint", true},
		{mod + "/internal/storage", "go.etcd.io/raft/v3", true},
		{mod + "/internal/storage/journal", "os", true},
		{mod + "/internal/storage/engine", mod + "/internal/storage/journal", false},
		{mod + "/internal/storage", mod + "/internal/partition", true},
		{mod + "/internal/partition", mod + "/internal/storage", false},
		{mod + "/internal/partition", mod + "/internal/kafka", true},
		{mod + "/internal/kafka", mod + "/internal/storage/engine", true},
		{mod + "/internal/cli", mod + "/internal/node", true},
		{mod + "/internal/shard", mod + "/internal/storage", true},
		{mod + "/internal/shard", mod + "/internal/model", false},
	}
	for _, c := range cases {
		got := false
		for _, r := range rules {
			if !matches(c.pkg, mod+"/"+r.pkg) {
				continue
			}
			for _, f := range r.forbidden {
				if matches(c.dep, f) && !allowedWithin(r, c.pkg, c.dep) {
					got = true
				}
			}
		}
		if got != c.want {
			t.Errorf("%s → %s: violation=%v, want %v", c.pkg, c.dep, got, c.want)
		}
	}
}
