package cli_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/petrel-streaming/petrel/internal/cli"
)

// editConfig rewrites an exported file: set replaces a key's line (""
// removes it), add appends lines.
func editConfig(t *testing.T, src, dst string, set map[string]string, add ...string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		key, _, _ := strings.Cut(line, ":")
		if v, ok := set[key]; ok && !strings.HasPrefix(line, "#") {
			if v == "" {
				continue
			}
			line = key + ": " + v
		}
		out = append(out, line)
	}
	out = append(out, add...)
	if err := os.WriteFile(dst, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestClusterConfigExportImport runs export and import against the
// embedded broker. The broker refuses every change for now (each setting
// is read at start-up: "needs restart"), so an import with changes ends in
// that refusal; TestClusterConfigImportApplies shows an accepted one.
func TestClusterConfigExportImport(t *testing.T) {
	s := newSession(t)
	dir := t.TempDir()
	exported := filepath.Join(dir, "cluster.yaml")
	changed := filepath.Join(dir, "changed.yaml")
	unknown := filepath.Join(dir, "unknown.yaml")
	badValue := filepath.Join(dir, "bad.yaml")
	empty := filepath.Join(dir, "empty.yaml")

	r := s.ok("cluster", "config", "export")
	s.ok("cluster", "config", "export", "--file", exported)
	if data, err := os.ReadFile(exported); err != nil || string(data) != r.stdout {
		t.Errorf("export --file differs from stdout: %v", err)
	}
	s.ok("cluster", "config", "export", "--format", "json")
	// Round trip: what export wrote is what the cluster has.
	s.ok("cluster", "config", "import", "--file", exported, "--dry-run")
	s.ok("cluster", "config", "import", "--file", exported)

	// memory set (in another unit), shards left out (2, reset to 0),
	// log_level left out (already the default: no change), shutdown_timeout
	// written another way (same value: no change).
	editConfig(t, exported, changed, map[string]string{"memory": "512MiB", "shards": "", "log_level": "", "shutdown_timeout": "0.5m"})
	s.ok("cluster", "config", "import", "--file", changed, "--dry-run")
	s.ok("cluster", "config", "import", "--file", changed, "--dry-run", "--format", "json")
	r = s.fail("cluster", "config", "import", "--file", changed)
	if !errors.Is(r.err, cli.ErrAdmin) || !strings.Contains(r.err.Error(), "400 Bad Request") ||
		!strings.Contains(r.err.Error(), "memory: needs restart") || !strings.Contains(r.err.Error(), "shards: needs restart") {
		t.Errorf("import refused by the broker: %v", r.err)
	}

	editConfig(t, exported, unknown, nil, "retention_ms: 5", "bogus: true")
	for _, extra := range [][]string{nil, {"--dry-run"}} {
		r = s.fail(append([]string{"cluster", "config", "import", "--file", unknown}, extra...)...)
		if !errors.Is(r.err, cli.ErrUnknownSetting) || !strings.Contains(r.err.Error(), `"bogus", "retention_ms"`) || r.stdout != "" {
			t.Errorf("unknown keys %v: %v\n%s", extra, r.err, r.stdout)
		}
	}
	editConfig(t, exported, badValue, map[string]string{"shards": "many", "seeds": "{a: 1}", "shutdown_timeout": "soon"})
	r = s.fail("cluster", "config", "import", "--file", badValue, "--dry-run")
	if !errors.Is(r.err, cli.ErrConfigFile) || !strings.Contains(r.err.Error(), `shards: want an integer, not "many"`) {
		t.Errorf("bad values: %v", r.err)
	}
	if err := os.WriteFile(empty, []byte("# nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = s.fail("cluster", "config", "import", "--file", empty)
	if !errors.Is(r.err, cli.ErrConfigFile) {
		t.Errorf("empty file: %v", r.err)
	}
	s.fail("cluster", "config", "import")
	s.fail("cluster", "config", "import", "--file", filepath.Join(dir, "missing.yaml"))

	out := strings.ReplaceAll(s.masked(), dir, "<DIR>")
	out = regexp.MustCompile(`[^\s"]*petrel-cli-test\d+`).ReplaceAllString(out, "<DATA-DIR>")
	compareGolden(t, out)
}

// configAdmin is a stand-in admin API that serves the embedded broker's
// schema and values and, unlike the broker today, applies a valid PUT.
type configAdmin struct {
	mu     sync.Mutex
	schema []byte
	values map[string]json.RawMessage
	puts   []string
}

func newConfigAdmin(t *testing.T) *configAdmin {
	get := func(path string) []byte {
		resp, err := http.Get("http://" + broker.AdminAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	a := &configAdmin{schema: get("/v1/cluster_config/schema")}
	if err := json.Unmarshal(get("/v1/cluster_config"), &a.values); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *configAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.Method + " " + r.URL.Path {
	case "GET /v1/cluster_config/schema":
		w.Write(a.schema)
	case "GET /v1/cluster_config":
		json.NewEncoder(w).Encode(a.values)
	case "PUT /v1/cluster_config":
		body, _ := io.ReadAll(r.Body)
		a.puts = append(a.puts, string(body))
		var p struct {
			Upsert map[string]json.RawMessage `json:"upsert"`
			Remove []string                   `json:"remove"`
		}
		var sc struct {
			Properties map[string]struct {
				Default string `json:"default"`
			} `json:"properties"`
		}
		if json.Unmarshal(body, &p) != nil || json.Unmarshal(a.schema, &sc) != nil {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"message":"bad body","code":400}`))
			return
		}
		for k, v := range p.Upsert {
			a.values[k] = v
		}
		for _, k := range p.Remove {
			def := sc.Properties[k].Default
			if json.Valid([]byte(def)) {
				a.values[k] = json.RawMessage(def)
			} else {
				a.values[k], _ = json.Marshal(def)
			}
		}
		w.Write([]byte(`{"config_version":7}`))
	default:
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"message":"not found","code":404}`))
	}
}

// TestClusterConfigImportApplies: an import that the admin API accepts is
// one PUT of the changes; importing the same file again, or a fresh
// export, finds no changes and sends nothing.
func TestClusterConfigImportApplies(t *testing.T) {
	admin := newConfigAdmin(t)
	srv := httptest.NewServer(admin)
	defer srv.Close()
	s := newSession(t)
	s.connect = false
	url := []string{"--admin-url", srv.URL}
	dir := t.TempDir()
	exported, changed, again := filepath.Join(dir, "cluster.yaml"), filepath.Join(dir, "changed.yaml"), filepath.Join(dir, "again.yaml")

	s.ok(append([]string{"cluster", "config", "export", "--file", exported}, url...)...)
	editConfig(t, exported, changed, map[string]string{"memory": "512MiB", "shards": "", "seeds": "[10.0.0.1:33145, 10.0.0.2:33145]",
		"shutdown_timeout": "2m"})
	r := s.ok(append([]string{"cluster", "config", "import", "--file", changed}, url...)...)
	want := []string{`{"upsert":{"memory":536870912,"seeds":["10.0.0.1:33145","10.0.0.2:33145"],"shutdown_timeout":"2m0s"},"remove":["shards"]}`}
	if strings.Join(admin.puts, "\n") != strings.Join(want, "\n") {
		t.Errorf("PUTs\n%s\nwant\n%s", strings.Join(admin.puts, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(r.stdout, "applied 4 changes (config version 7)") {
		t.Errorf("import: %s", r.stdout)
	}
	r = s.ok(append([]string{"cluster", "config", "import", "--file", changed}, url...)...)
	if !strings.Contains(r.stdout, "no changes") || len(admin.puts) != 1 {
		t.Errorf("second import: %d PUTs\n%s", len(admin.puts), r.stdout)
	}
	s.ok(append([]string{"cluster", "config", "export", "--file", again}, url...)...)
	r = s.ok(append([]string{"cluster", "config", "import", "--file", again, "--format", "json"}, url...)...)
	if !strings.Contains(r.stdout, `"changes": []`) || len(admin.puts) != 1 {
		t.Errorf("import of a fresh export: %d PUTs\n%s", len(admin.puts), r.stdout)
	}
	data, err := os.ReadFile(again)
	if err != nil || !strings.Contains(string(data), "\nmemory: 536870912\n") || !strings.Contains(string(data), "\nshards: 0\n") ||
		!strings.Contains(string(data), "\nseeds: ['10.0.0.1:33145', '10.0.0.2:33145']\n") {
		t.Errorf("export after import: %v\n%s", err, data)
	}
}
