package cli_test

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/petrel-streaming/petrel/internal/cli"
)

func TestTopicAdmin(t *testing.T) {
	s := newSession(t)
	s.ok("topic", "create", "ta-orders", "-p", "3", "-c", "retention.bytes=1048576", "-c", "segment.ms=3600000")
	s.ok("topic", "create", "ta-logs", "ta-metrics")
	r := s.fail("topic", "create", "ta-orders")
	if !errors.Is(r.err, cli.ErrFailed) || !strings.Contains(r.stdout, "TOPIC_ALREADY_EXISTS") {
		t.Errorf("duplicate create: %v\n%s", r.err, r.stdout)
	}
	s.fail("topic", "create", "ta-bad", "-r", "3")
	s.ok("topic", "create", "ta-dry", "--dry-run")
	s.ok("topic", "list", "^ta-")
	s.ok("topic", "list", "ta-(orders|logs)", "--format", "json")
	s.ok("topic", "alter-config", "ta-orders", "--set", "retention.ms=60000", "--delete", "segment.ms")
	s.fail("topic", "alter-config", "ta-orders", "--set", "no.such.config=1")
	s.ok("topic", "alter-config", "ta-orders", "--delete", "retention.bytes", "--dry-run")
	s.ok("topic", "add-partitions", "ta-orders", "-n", "2")
	s.ok("topic", "describe", "ta-orders")
	s.ok("topic", "describe", "ta-logs", "--format", "yaml")
	s.ok("topic", "delete", "ta-logs", "ta-metrics")
	s.fail("topic", "delete", "ta-logs")
	s.ok("topic", "list", "^ta-", "--format", "yaml")
	s.golden()
}

func TestProduceConsume(t *testing.T) {
	s := newSession(t)
	s.ok("topic", "create", "pc-events", "-p", "2")
	in := "0 k1 1700000000000 a=1 first\n0 k2 1700000001000 a=2 second\n1 k3 1700000002000 b=3 third\n0 k4 1700000003000  fourth\n"
	s.step(false, in, "topic", "produce", "pc-events", "-f", `%p %k %t %h %v\n`)
	s.step(false, "plain one\nplain two", "topic", "produce", "pc-events", "-p", "1", "-k", "same", "-H", "src=test")
	s.ok("topic", "consume", "pc-events", "-e", "-p", "0", "-f", `%T/%p@%o e%e %t %k=%v [%h]\n`)
	s.ok("topic", "consume", "pc-events", "-e", "-p", "1", "-f", "json")
	s.ok("topic", "consume", "pc-events", "-p", "0", "-o", "2", "-n", "1", "-f", `%o %v\n`)
	s.ok("topic", "consume", "pc-events", "-p", "0", "-o", "@1700000001000", "-e", "-f", `%o %v\n`)
	s.ok("topic", "consume", "pc-events", "-p", "0", "-o", "@2023-11-14T22:13:22Z", "-e", "-f", `%o %v\n`)
	s.ok("topic", "consume", "pc-events", "-o", "end", "-e")
	s.ok("topic", "trim-prefix", "pc-events", "-o", "2", "-p", "0")
	s.ok("topic", "consume", "pc-events", "-p", "0", "-e", "-f", `%o %v\n`)
	s.ok("topic", "describe", "pc-events", "--format", "json")
	r := s.fail("topic", "consume", "pc-missing", "-n", "1")
	if !errors.Is(r.err, kerr.UnknownTopicOrPartition) || !strings.Contains(r.err.Error(), "petrel topic list") {
		t.Errorf("consume of a missing topic: %v", r.err)
	}
	s.step(true, "x\n", "topic", "produce", "pc-missing")
	s.step(true, "nokey\n", "topic", "produce", "pc-events", "-f", `%k %v\n`)
	s.golden()
}

func TestGroups(t *testing.T) {
	s := newSession(t)
	s.ok("topic", "create", "gr-in", "-p", "2")
	in := "0 a\n0 b\n0 c\n1 d\n1 e\n"
	s.step(false, in, "topic", "produce", "gr-in", "-f", `%p %v\n`)
	s.ok("topic", "consume", "gr-in", "-g", "gr-app", "-n", "3", "-f", `%p@%o %v\n`)
	s.ok("group", "list")
	s.ok("group", "describe", "gr-app")
	s.ok("group", "seek", "gr-app", "--to", "start")
	s.ok("group", "describe", "gr-app", "--format", "json")
	s.ok("group", "seek", "gr-app", "--to", "end", "--format", "yaml")
	s.ok("group", "seek", "gr-app", "--to", "1")
	s.ok("topic", "consume", "gr-in", "-g", "gr-app", "-e", "-f", `%p@%o %v\n`)
	s.ok("group", "seek", "gr-new", "--to", "@0", "--topics", "gr-in")
	s.fail("group", "seek", "gr-none", "--to", "start")
	s.ok("group", "delete", "gr-app", "gr-new")
	s.fail("group", "delete", "gr-app")
	s.ok("group", "list", "--format", "json")
	s.golden()
}

func TestCluster(t *testing.T) {
	s := newSession(t)
	s.ok("cluster", "info")
	s.ok("cluster", "info", "--format", "yaml")
	r := s.ok("cluster", "health", "--format", "json")
	var h struct {
		Healthy bool   `json:"healthy"`
		Admin   string `json:"admin"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil || !h.Healthy || h.Admin != "ready" {
		t.Errorf("health: %+v %v", h, err)
	}
	s.ok("cluster", "config", "get", "auto.create.topics.enable", "num.partitions")
	s.fail("cluster", "config", "get", "no.such.key")
	r = s.fail("cluster", "config", "set", "num.partitions=3")
	if !errors.Is(r.err, kerr.InvalidRequest) || !strings.Contains(r.err.Error(), "static") {
		t.Errorf("cluster config set: %v", r.err)
	}
	s.golden()
}

func TestClusterHealthUnreachable(t *testing.T) {
	s := newSession(t)
	s.connect = false
	r := s.run("", "cluster", "health", "--brokers", "127.0.0.1:1", "--admin-url", "127.0.0.1:1", "--timeout", "2s")
	if !errors.Is(r.err, cli.ErrUnhealthy) || !strings.Contains(r.stdout, "admin API unreachable") || !strings.HasPrefix(strings.Join(strings.Fields(r.stdout), " "), "HEALTHY false") {
		t.Errorf("health of nothing: %v\n%s", r.err, r.stdout)
	}
	r = s.run("", "topic", "list", "--brokers", "127.0.0.1:1", "--timeout", "2s")
	if r.err == nil || !strings.Contains(r.err.Error(), "is a broker running there?") {
		t.Errorf("topic list of nothing: %v", r.err)
	}
}

func TestProfiles(t *testing.T) {
	s := newSession(t)
	s.connect = false
	s.ok("profile", "list")
	s.ok("profile", "create", "local", "--brokers", broker.Addr(), "--admin-url", broker.AdminAddr())
	s.ok("profile", "create", "secure", "--no-use", "-X", "brokers=10.0.0.1:9092", "-X", "tls.enabled=true", "-X", "sasl.mechanism=SCRAM-SHA-256")
	s.fail("profile", "create", "local")
	s.ok("profile", "list")
	s.ok("profile", "list", "--format", "yaml")
	// The current profile reaches the broker with no connection flags.
	s.ok("topic", "create", "pr-topic")
	s.ok("topic", "list", "^pr-")
	r := s.fail("topic", "list", "--profile", "secure")
	if !errors.Is(r.err, cli.ErrNotSupported) {
		t.Errorf("TLS profile: %v", r.err)
	}
	s.env[cli.EnvProfile] = "secure"
	s.fail("topic", "list")
	// Env brokers beat the profile's.
	s.env[cli.EnvBrokers] = broker.Addr()
	s.env[cli.EnvProfile] = "local"
	s.ok("topic", "list", "^pr-")
	delete(s.env, cli.EnvBrokers)
	delete(s.env, cli.EnvProfile)
	s.ok("profile", "use", "secure")
	s.fail("profile", "use", "nope")
	s.ok("profile", "delete", "secure")
	s.fail("profile", "delete", "secure")
	s.ok("profile", "list")
	s.fail("topic", "list", "--format", "xml")
	s.golden()
}

func TestConsumeStatusLine(t *testing.T) {
	s := newSession(t)
	s.ok("topic", "create", "st-t")
	s.step(false, "a\nb\nc\n", "topic", "produce", "st-t")
	s.tty = true
	r := s.ok("topic", "consume", "st-t", "-n", "3", "-f", `%v\n`)
	if !regexp.MustCompile(`\rconsumed 3/3 records \([0-9.kM]+/s\) *\n$`).MatchString(r.stderr) || r.stdout != "a\nb\nc\n" {
		t.Errorf("tty: stderr %q stdout %q", r.stderr, r.stdout)
	}
	s.tty = false
	if r := s.ok("topic", "consume", "st-t", "-n", "3"); r.stderr != "" {
		t.Errorf("no tty, short: stderr %q", r.stderr)
	}
	// Off a terminal, a long consume writes plain lines: a clock that
	// moves 3 s a reading makes every record "long".
	clock := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	s.now = func() time.Time { clock = clock.Add(3 * time.Second); return clock }
	r = s.ok("topic", "consume", "st-t", "-n", "3", "-f", `%v\n`)
	s.now = nil
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if strings.Contains(r.stderr, "\r") || len(lines) < 2 || !regexp.MustCompile(`^consumed 3/3 records \(\d+/s\)$`).MatchString(lines[len(lines)-1]) ||
		r.stdout != "a\nb\nc\n" {
		t.Errorf("no tty, long: stderr %q stdout %q", r.stderr, r.stdout)
	}
	if r := s.ok("topic", "consume", "st-t", "-e"); r.stderr != "" || strings.Count(r.stdout, "\n") != 3 {
		t.Errorf("no -n: stderr %q stdout %q", r.stderr, r.stdout)
	}
}
