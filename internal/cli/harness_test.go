package cli_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/petrel-streaming/petrel"
	"github.com/petrel-streaming/petrel/internal/cli"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from this run's output")

// broker is the embedded broker every test in this package talks to; each
// test uses its own topic and group names.
var broker *petrel.Broker

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "petrel-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	broker, err = petrel.Start(ctx, petrel.Config{DataDir: dir, AdminAddr: "127.0.0.1:0", Shards: 2,
		MemoryBytes: 256 << 20, GroupInitialRebalanceDelay: -1})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start broker:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := broker.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close broker:", err)
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// session runs CLI command lines in-process and records a transcript.
type session struct {
	t         *testing.T
	configDir string
	env       map[string]string
	tty       bool
	now       func() time.Time // nil: time.Now
	connect   bool             // add --brokers and --admin-url of the test broker
	log       bytes.Buffer
}

func newSession(t *testing.T) *session {
	return &session{t: t, configDir: t.TempDir(), env: map[string]string{}, connect: true}
}

// result is one command line's outcome.
type result struct {
	stdout, stderr string
	err            error
}

// run executes `petrel args...` with stdin and returns its outcome.
func (s *session) run(stdin string, args ...string) result {
	s.t.Helper()
	var out, errb bytes.Buffer
	d := cli.Deps{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, StderrTerminal: s.tty,
		Getenv:    func(k string) string { return s.env[k] },
		ConfigDir: func() (string, error) { return s.configDir, nil },
		Now:       s.now,
	}
	root := &cobra.Command{Use: "petrel", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(cli.Commands(d)...)
	full := args
	if s.connect {
		full = append(append([]string{}, args...), "--brokers", broker.Addr(), "--admin-url", "http://"+broker.AdminAddr())
	}
	root.SetArgs(full)
	root.SetOut(&out)
	root.SetErr(&errb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return result{stdout: out.String(), stderr: errb.String(), err: err}
}

// step runs a command line, records it in the transcript, and checks that
// it failed or not as wantErr says.
func (s *session) step(wantErr bool, stdin string, args ...string) result {
	s.t.Helper()
	r := s.run(stdin, args...)
	fmt.Fprintf(&s.log, "$ petrel %s\n", quoteArgs(args))
	if stdin != "" {
		fmt.Fprintf(&s.log, "< %q\n", stdin)
	}
	s.log.WriteString(r.stdout)
	if r.err != nil {
		fmt.Fprintf(&s.log, "error: %v\n", r.err)
	}
	s.log.WriteString("\n")
	if (r.err != nil) != wantErr {
		s.t.Errorf("petrel %s: error %v, want error: %v\nstdout:\n%s", quoteArgs(args), r.err, wantErr, r.stdout)
	}
	return r
}

func (s *session) ok(args ...string) result   { s.t.Helper(); return s.step(false, "", args...) }
func (s *session) fail(args ...string) result { s.t.Helper(); return s.step(true, "", args...) }

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\%$") {
			q[i] = strconv.Quote(a)
		}
	}
	return strings.Join(q, " ")
}

// masks replace what differs from run to run.
var masks = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`[A-Za-z0-9+/]{22}==`), "<TOPIC-ID>"},
	{regexp.MustCompile(`"timestamp": ?\d+`), `"timestamp":<TS>`},
	{regexp.MustCompile(`petrel-cli-[0-9a-f-]{8,}`), "<MEMBER-ID>"},
	{regexp.MustCompile(`"topics": \d+`), `"topics": <N>`}, // other tests' topics count too
}

func (s *session) masked() string {
	out := s.log.String()
	addr := broker.Addr()
	_, port, _ := strings.Cut(addr, ":")
	_, aport, _ := strings.Cut(broker.AdminAddr(), ":")
	out = strings.ReplaceAll(out, addr, "<KAFKA-ADDR>")
	out = strings.ReplaceAll(out, broker.AdminAddr(), "<ADMIN-ADDR>")
	out = regexp.MustCompile(`\b`+port+`\b`).ReplaceAllString(out, "<PORT>")
	out = regexp.MustCompile(`\b`+aport+`\b`).ReplaceAllString(out, "<ADMIN-PORT>")
	for _, m := range masks {
		out = m.re.ReplaceAllString(out, m.repl)
	}
	if cid := clusterID(s.t); cid != "" {
		out = strings.ReplaceAll(out, cid, "<CLUSTER-ID>")
	}
	return out
}

// golden compares the masked transcript with testdata/<test>.golden.
func (s *session) golden() {
	s.t.Helper()
	compareGolden(s.t, s.masked())
}

// compareGolden compares got with testdata/<test name>.golden, or writes
// it there with -update.
func compareGolden(t *testing.T, got string) {
	t.Helper()
	path := filepath.Join("testdata", strings.ReplaceAll(t.Name(), "/", "_")+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got), rerun with -update to accept:\n%s", path, diff)
	}
}

var cachedClusterID string

// clusterID is the test broker's cluster id, read through the CLI itself.
func clusterID(t *testing.T) string {
	if cachedClusterID != "" {
		return cachedClusterID
	}
	s := &session{t: t, connect: true, env: map[string]string{}, configDir: t.TempDir()}
	r := s.run("", "cluster", "info", "--format", "json")
	m := regexp.MustCompile(`"cluster_id": "([^"]+)"`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no cluster id in %q (%v)", r.stdout, r.err)
	}
	cachedClusterID = m[1]
	return cachedClusterID
}
