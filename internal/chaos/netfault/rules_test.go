package netfault

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden scripts in testdata")

// golden compares got with testdata/name, or rewrites it with -rewrite.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *rewrite {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (run with -rewrite and review the diff):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestScripts(t *testing.T) {
	n0, n1, n2 := NodeHost(0), NodeHost(1), NodeHost(2)
	for _, tc := range []struct {
		name  string
		rules *Rules
	}{
		{"empty.nft", new(Rules)},
		{"isolate.nft", new(Rules).Isolate(n0, n1, n2)},
		// The same partition, groups and members in another order, with
		// a repeated call: one script.
		{"isolate.nft", new(Rules).Partition([]string{n2 + ":33145", n1}, []string{n0}).Isolate(n0, n2)},
		{"three-ways.nft", new(Rules).Partition([]string{n0}, []string{n1}, []string{n2})},
		{"oneway.nft", new(Rules).Cut(n0, n1)},
		{"loss.nft", new(Rules).Loss(n0, n2, 30).Cut(n1, n0)},
	} {
		if err := tc.rules.Err(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		golden(t, tc.name, tc.rules.AppendScript(nil))
	}
	src, err := AppendSourceScript(nil, NodeSources(3))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "sources.nft", src)
}

func TestRuleErrors(t *testing.T) {
	for name, r := range map[string]*Rules{
		"not an address":      new(Rules).Isolate("node-1", "127.0.0.12"),
		"IPv6":                new(Rules).Cut("::1", "127.0.0.12"),
		"to itself":           new(Rules).Cut("127.0.0.12", "127.0.0.12:9092"),
		"in two groups":       new(Rules).Partition([]string{"127.0.0.11"}, []string{"127.0.0.12", "127.0.0.11"}),
		"loss 0":              new(Rules).Loss("127.0.0.11", "127.0.0.12", 0),
		"loss 101":            new(Rules).Loss("127.0.0.11", "127.0.0.12", 101),
		"error stays (first)": new(Rules).Cut("x", "127.0.0.1").Cut("127.0.0.1", "127.0.0.2"),
	} {
		err := r.Err()
		if !errors.Is(err, ErrBadAddr) && !errors.Is(err, ErrBadRule) {
			t.Errorf("%s: error %v, want ErrBadAddr or ErrBadRule", name, err)
		}
	}
	if _, err := AppendSourceScript(nil, []Source{{GID: 5, Addr: "127.0.0.11"}, {GID: 5, Addr: "127.0.0.12"}}); !errors.Is(err, ErrBadRule) {
		t.Errorf("a group id mapped twice: %v, want ErrBadRule", err)
	}
	if _, err := AppendSourceScript(nil, []Source{{GID: 5, Addr: "localhost"}}); !errors.Is(err, ErrBadAddr) {
		t.Errorf("a source that is no address: %v, want ErrBadAddr", err)
	}
}

func TestRunPattern(t *testing.T) {
	for name, want := range map[string]string{
		"TestSplit":          "^TestSplit$",
		"TestSplit/leader.1": `^TestSplit$/^leader\.1$`,
	} {
		if got := RunPattern(name); got != want {
			t.Errorf("RunPattern(%q) = %q, want %q", name, got, want)
		}
	}
}
