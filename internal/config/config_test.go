package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/petrel-streaming/petrel/internal/model"
)

func TestDefaults(t *testing.T) {
	c, err := Resolve(Input{})
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		DataDir:            "./petrel-data",
		NodeID:             -1, // settled at start (internal/node)
		KafkaAddr:          "0.0.0.0:9092",
		AdvertiseKafkaAddr: "127.0.0.1:9092",
		AdminAddr:          "0.0.0.0:9644",
		RPCAddr:            "0.0.0.0:33145",
		JournalBytes:       256 << 20,
		LogLevel:           "info",
		ShutdownTimeout:    30 * time.Second,
	}
	if d := cmp.Diff(want, c); d != "" {
		t.Fatalf("defaults (-want +got):\n%s", d)
	}
}

// TestJournalBytesBounds: the journal size is bounded, and a bad value
// names the setting.
func TestJournalBytesBounds(t *testing.T) {
	for _, v := range []string{"1MiB", "65GiB", "lots"} {
		_, err := Resolve(Input{Env: []string{"PETREL_JOURNAL_BYTES=" + v}})
		if err == nil || !strings.Contains(err.Error(), "journal_bytes") {
			t.Errorf("journal_bytes=%s: %v", v, err)
		}
	}
	c, err := Resolve(Input{Env: []string{"PETREL_JOURNAL_BYTES=16MiB"}})
	if err != nil || c.JournalBytes != 16<<20 {
		t.Fatalf("16MiB: %v %d", err, c.JournalBytes)
	}
}

// Each source overrides the ones below it, setting by setting.
func TestPrecedence(t *testing.T) {
	file := []byte("data_dir: /from/file\nnode_id: 1\nshards: 3\nmemory: 1GiB\n")
	env := []string{"PETREL_NODE_ID=2", "PETREL_SHARDS=4", "HOME=/root", "PATH=/bin"}
	flags := []FlagValue{{"shards", "5"}}
	for _, c := range []struct {
		name   string
		in     Input
		want   func(*Config) any
		expect any
	}{
		{"default", Input{}, func(c *Config) any { return c.Shards }, 0},
		{"node id default: auto", Input{}, func(c *Config) any { return c.NodeID }, model.NodeID(-1)},
		{"node id 0 explicit", Input{Flags: []FlagValue{{"node-id", "0"}}}, func(c *Config) any { return c.NodeID }, model.NodeID(0)},
		{"file over default", Input{File: file, FileName: "p.yaml"}, func(c *Config) any { return c.DataDir }, "/from/file"},
		{"env over file", Input{File: file, FileName: "p.yaml", Env: env}, func(c *Config) any { return c.NodeID }, model.NodeID(2)},
		{"flag over env", Input{File: file, FileName: "p.yaml", Env: env, Flags: flags}, func(c *Config) any { return c.Shards }, 5},
		{"file kept under env+flag", Input{File: file, FileName: "p.yaml", Env: env, Flags: flags}, func(c *Config) any { return c.MemoryBytes }, int64(1 << 30)},
		{"last flag wins", Input{Flags: []FlagValue{{"shards", "5"}, {"smp", "6"}}}, func(c *Config) any { return c.Shards }, 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Resolve(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.want(cfg); got != c.expect {
				t.Fatalf("got %v (%T), want %v (%T)", got, got, c.expect, c.expect)
			}
		})
	}
}

// Every rejected input names the key, the source (with the file line) and
// what was wanted.
func TestErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		in   Input
		is   error
		msg  []string
	}{
		{"unknown file key", Input{File: []byte("data_dir: x\nkafka_address: :1\n"), FileName: "petrel.yaml"},
			ErrUnknownKey, []string{"file petrel.yaml:2", `"kafka_address"`, `did you mean "kafka_addr"`}},
		{"unknown env", Input{Env: []string{"PETREL_MEMROY=1G"}},
			ErrUnknownKey, []string{"env PETREL_MEMROY", `did you mean "PETREL_MEMORY"`}},
		{"unknown flag name", Input{Flags: []FlagValue{{"nope", "1"}}}, ErrUnknownKey, []string{"flag --nope"}},
		{"int syntax", Input{Env: []string{"PETREL_NODE_ID=abc"}},
			ErrInvalid, []string{"node_id", `"abc"`, "env PETREL_NODE_ID", "want an integer"}},
		{"int bound", Input{Flags: []FlagValue{{"shards", "5000"}}},
			ErrOutOfRange, []string{"shards", `"5000"`, "flag --shards", "[0, 1024]"}},
		{"negative node id", Input{File: []byte("node_id: -2\n"), FileName: "f.yaml"},
			ErrOutOfRange, []string{"node_id", "file f.yaml:1", "[-1, 2147483647]"}},
		{"bytes unit", Input{File: []byte("\n\nmemory: 12XB\n"), FileName: "petrel.yaml"},
			ErrInvalid, []string{"memory", `"12XB"`, "file petrel.yaml:3", "512MiB"}},
		{"bytes minimum", Input{Flags: []FlagValue{{"memory", "1MiB"}}},
			ErrOutOfRange, []string{"memory", "flag --memory", "at least 64MiB"}},
		{"bool", Input{Env: []string{"PETREL_DIRECT_IO=maybe"}},
			ErrInvalid, []string{"direct_io", "env PETREL_DIRECT_IO", "true or false"}},
		{"duration", Input{Flags: []FlagValue{{"shutdown-timeout", "30"}}},
			ErrInvalid, []string{"shutdown_timeout", "duration"}},
		{"duration bound", Input{Flags: []FlagValue{{"shutdown-timeout", "1h"}}},
			ErrOutOfRange, []string{"shutdown_timeout", "[1s, 10m0s]"}},
		{"host:port", Input{Flags: []FlagValue{{"kafka-addr", "9092"}}},
			ErrInvalid, []string{"kafka_addr", "flag --kafka-addr", "host:port"}},
		{"port range", Input{Env: []string{"PETREL_ADMIN_ADDR=:70000"}},
			ErrInvalid, []string{"admin_addr", "[0, 65535]"}},
		{"seed", Input{File: []byte("seeds: [a:1, b]\n"), FileName: "f.yaml"},
			ErrInvalid, []string{"seeds", "file f.yaml:1", `"b"`}},
		{"enum", Input{Flags: []FlagValue{{"log-level", "loud"}}},
			ErrInvalid, []string{"log_level", "debug, info, warn, error"}},
		{"empty data dir", Input{Env: []string{"PETREL_DATA_DIR="}}, ErrInvalid, []string{"data_dir", "empty"}},
		{"advertise all-interfaces", Input{Flags: []FlagValue{{"advertise-kafka-addr", "0.0.0.0:9092"}}},
			ErrInvalid, []string{"advertise_kafka_addr", "all-interfaces"}},
		{"config in file", Input{File: []byte("config: other.yaml\n"), FileName: "f.yaml"},
			ErrInvalid, []string{"config", "only a flag (--config) or PETREL_CONFIG"}},
		{"mapping value", Input{File: []byte("memory:\n  a: 1\n"), FileName: "f.yaml"},
			ErrInvalid, []string{"memory", "file f.yaml:1", "single bytes value"}},
		{"not a mapping", Input{File: []byte("- a\n- b\n"), FileName: "f.yaml"},
			ErrInvalid, []string{"file f.yaml:1", "mapping"}},
		{"yaml syntax", Input{File: []byte("a: [\n"), FileName: "f.yaml"}, ErrInvalid, []string{"file f.yaml", "yaml"}},
		{"duplicate key", Input{File: []byte("shards: 1\nshards: 2\n"), FileName: "f.yaml"}, ErrInvalid, []string{"already defined"}},
		{"two documents", Input{File: []byte("shards: 1\n---\nshards: 2\n"), FileName: "f.yaml"}, ErrInvalid, []string{"one YAML document"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Resolve(c.in)
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			if !errors.Is(err, c.is) {
				t.Fatalf("error %q is not %v", err, c.is)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %q is not a *config.Error", err)
			}
			for _, m := range c.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

// All bad settings are reported together, not one per start attempt.
func TestErrorsJoined(t *testing.T) {
	_, err := Resolve(Input{
		File: []byte("shards: -1\nbogus: 1\n"), FileName: "f.yaml",
		Env: []string{"PETREL_NODE_ID=x"}, Flags: []FlagValue{{"memory", "1KB"}},
	})
	for _, key := range []string{"shards", "bogus", "PETREL_NODE_ID", "memory"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("joined error %v does not mention %s", err, key)
		}
	}
}

func TestErrorsBounded(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 500; i++ { // 500 distinct unknown keys
		b.WriteString("k" + strings.Repeat("z", i%7) + string(rune('a'+i%26)) + strings.Repeat("q", i/26) + ": 1\n")
	}
	_, err := Resolve(Input{File: []byte(b.String()), FileName: "f"})
	if err == nil {
		t.Fatal("accepted 500 unknown keys")
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != maxErrors+1 || !strings.Contains(err.Error(), "and 480 more errors") {
		t.Fatalf("%d lines of errors for 500 unknown keys; last: %q", n, err.Error()[len(err.Error())-60:])
	}
}

func TestValues(t *testing.T) {
	in := Input{
		File: []byte(strings.Join([]string{
			"seeds:", "  - 10.0.0.1:33145", "  - 10.0.0.2:33145",
			"direct_io: yes", // YAML 1.1 "yes" is not a Go bool: rejected below
		}, "\n")),
		FileName: "f.yaml",
	}
	if _, err := Resolve(in); !errors.Is(err, ErrInvalid) {
		t.Fatalf("direct_io: yes: %v", err)
	}
	in.File = []byte("seeds:\n  - 10.0.0.1:33145\n  - '[::1]:33145'\ndirect_io: true\nkafka_addr: 192.168.1.5:19092\n" +
		"auto_create_topics: 1\nmemory: 1.5GiB\nshutdown_timeout: 2m\n")
	in.Env = []string{"PETREL_PIN_SHARDS=true"}
	in.Flags = []FlagValue{{"seeds", "h:1, h:2"}}
	c, err := Resolve(in)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"h:1", "h:2"}, c.Seeds); d != "" {
		t.Errorf("seeds from flag over file: %s", d)
	}
	if !c.DirectIO || !c.AutoCreateTopics || !c.PinShards || c.MemoryBytes != 3<<29 ||
		c.ShutdownTimeout != 2*time.Minute || c.AdvertiseKafkaAddr != "192.168.1.5:19092" {
		t.Errorf("config %+v", c)
	}
	in.Flags = nil
	c, err = Resolve(in)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"10.0.0.1:33145", "[::1]:33145"}, c.Seeds); d != "" {
		t.Errorf("seeds from a YAML sequence: %s", d)
	}
	if v, ok := c.Value("memory"); !ok || v != "1536MiB" {
		t.Errorf("Value(memory) = %q, %v", v, ok)
	}
	if _, ok := c.Value("nope"); ok {
		t.Error("Value of an unknown setting")
	}
}

func TestParseBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		err  error
	}{
		{"0", 0, nil}, {"1073741824", 1 << 30, nil}, {"1GiB", 1 << 30, nil}, {"1G", 1 << 30, nil},
		{"1gb", 1e9, nil}, {"512MiB", 512 << 20, nil}, {" 2 KiB ", 2048, nil}, {"1.5K", 1536, nil},
		{"64m", 64 << 20, nil}, {"3TB", 3e12, nil}, {"10B", 10, nil},
		{"", 0, ErrInvalid}, {"GiB", 0, ErrInvalid}, {"-1", 0, ErrInvalid}, {"1e9", 0, ErrInvalid},
		{"1.5", 0, ErrInvalid}, {"12XB", 0, ErrInvalid}, {"0x10", 0, ErrInvalid},
		{"9999999999TiB", 0, ErrOutOfRange}, {"99999999999999999999", 0, ErrInvalid},
		{"9999999999.5TiB", 0, ErrOutOfRange},
	} {
		got, err := ParseBytes(c.in)
		if got != c.want || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, %v", c.in, got, err, c.want, c.err)
		}
	}
	for n, want := range map[int64]string{0: "0", 1 << 30: "1GiB", 1536 << 20: "1536MiB", 1000: "1000", 3 << 40: "3TiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// Every declaration is complete and its default passes its own validation;
// names are unique in every namespace.
func TestDeclarations(t *testing.T) {
	seen := map[string]string{}
	for _, d := range Declarations() {
		if d.Name == "" || d.Flag == "" || d.Doc == "" || d.set == nil || d.get == nil {
			t.Errorf("incomplete declaration %+v", d)
		}
		if d.Env != "PETREL_"+strings.ToUpper(d.Name) || strings.ReplaceAll(d.Name, "_", "-") != d.Flag {
			t.Errorf("%s: env %s, flag %s do not follow the name", d.Name, d.Env, d.Flag)
		}
		for _, n := range append([]string{"name " + d.Name, "env " + d.Env, "flag " + d.Flag}, prefixed("flag ", d.Aliases)...) {
			if other, dup := seen[n]; dup {
				t.Errorf("%s declared by %s and %s", n, other, d.Name)
			}
			seen[n] = d.Name
		}
		if _, err := d.value(raw{text: d.Default}); err != nil {
			t.Errorf("%s: default %q fails validation: %v", d.Name, d.Default, err)
		}
	}
	for _, want := range []string{"data-dir", "kafka-addr", "advertise-kafka-addr", "admin-addr", "rpc-addr",
		"node-id", "seeds", "config", "memory", "shards", "smp", "direct-io", "auto-create-topics"} {
		if seen["flag "+want] == "" {
			t.Errorf("flag --%s not declared", want)
		}
	}
}

func prefixed(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}

// The flags cmd/petrel registers feed Load, which also reads the file
// named by --config; bool flags work bare and list flags repeat.
func TestFlagsLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "petrel.yaml")
	if err := os.WriteFile(path, []byte("node_id: 7\nshards: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	flags := RegisterFlags(fs)
	err := fs.Parse([]string{"--config", path, "--direct-io", "--seeds", "a:1", "--seeds=b:2", "--smp", "3"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := flags.Load([]string{"PETREL_NODE_ID=8"})
	if err != nil {
		t.Fatal(err)
	}
	if c.ConfigFile != path || c.NodeID != 8 || c.Shards != 3 || !c.DirectIO || !cmp.Equal(c.Seeds, []string{"a:1", "b:2"}) {
		t.Fatalf("config %+v", c)
	}
	if fl := fs.Lookup("memory"); fl == nil || fl.DefValue != "0" || !strings.Contains(fl.Usage, "PETREL_MEMORY") {
		t.Fatalf("memory flag %+v", fl)
	}

	// A file named explicitly must exist; the default one may be absent.
	fs = pflag.NewFlagSet("serve", pflag.ContinueOnError)
	flags = RegisterFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := flags.Load([]string{"PETREL_CONFIG=" + filepath.Join(dir, "missing.yaml")}); err == nil ||
		!strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("missing explicit file: %v", err)
	}
	t.Chdir(dir)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if c, err := flags.Load(nil); err != nil || c.ConfigFile != "" {
		t.Fatalf("absent default file: %+v, %v", c, err)
	}
}

func FuzzConfig(f *testing.F) {
	f.Add([]byte("data_dir: /x\nmemory: 1GiB\nseeds: [a:1, b:2]\n"))
	f.Add([]byte("a: &x [1]\nb: *x\n"))
	f.Add([]byte("memory: !!binary aGVsbG8=\n"))
	f.Add([]byte("---\n...\n"))
	f.Add([]byte("shards: 99999999999999999999999\nnode_id: 0x10\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Resolve(Input{File: b, FileName: "fuzz.yaml"})
		if err == nil {
			if c.DataDir == "" || c.Shards < 0 || c.Shards > 1024 || c.AdvertiseKafkaAddr == "" {
				t.Fatalf("accepted an invalid config %+v from %q", c, b)
			}
			return
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("error %q is not a *config.Error", err)
		}
	})
}
