package cli_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/petrel-streaming/petrel/internal/cli"
)

// TestPartitions: on the single test broker (id 0) a move to the same
// broker is a no-op, other targets are refused with Kafka's codes.
func TestPartitions(t *testing.T) {
	s := newSession(t)
	s.ok("topic", "create", "pm-t", "-p", "2")
	s.ok("cluster", "partitions", "list", "--topic", "pm-t")
	s.ok("cluster", "partitions", "move", "pm-t/0", "pm-t/1", "--replicas", "0")
	r := s.fail("cluster", "partitions", "move", "pm-t/0", "--replicas", "0,7")
	if !errors.Is(r.err, cli.ErrFailed) || !strings.Contains(r.stdout, "INVALID_REPLICA_ASSIGNMENT") {
		t.Errorf("move to an unknown broker: %v\n%s", r.err, r.stdout)
	}
	s.fail("cluster", "partitions", "move", "pm-t/5", "--replicas", "0")
	r = s.fail("cluster", "partitions", "move", "pm-t/0", "--cancel")
	if !strings.Contains(r.stdout, kerr.NoReassignmentInProgress.Message) {
		t.Errorf("cancel with no move: %s", r.stdout)
	}
	s.fail("cluster", "partitions", "move", "pm-t", "--replicas", "0")
	s.fail("cluster", "partitions", "move", "pm-t/0")
	s.ok("cluster", "partitions", "list", "--topic", "pm-t", "--format", "json")
	// Leader epochs depend on how the partitions' elections went.
	compareGolden(t, regexp.MustCompile(`"leader_epoch": \d+`).ReplaceAllString(s.masked(), `"leader_epoch": <EPOCH>`))
}

// TestBrokerCommands runs the broker commands against a stand-in admin
// API that records what it was asked and answers as a node does.
func TestBrokerCommands(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/brokers/1/decommission", "/v1/brokers/1/recommission":
			draining := r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "decommission")
			body := `{"node_id":1,"draining":` + map[bool]string{true: "true", false: "false"}[draining] +
				`,"finished":false,"partitions_remaining":2,"partitions":["kafka/a/0","kafka/b/3"],"moves_in_progress":2}`
			if r.Method == http.MethodGet {
				body = `{"node_id":1,"draining":true,"finished":true,"partitions_remaining":0,"partitions":[],"moves_in_progress":0}`
			}
			w.Write([]byte(body))
		case "/v1/brokers/0/decommission":
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"message":"no broker can take the replicas: broker 0: topic \"a\" partition 0 has replicas [0] and no other registered broker that is not draining can take broker 0's replica (1 brokers registered)","code":400}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"broker 9 not found","code":404}`))
		}
	}))
	defer srv.Close()
	s := newSession(t)
	s.connect = false
	url := []string{"--admin-url", srv.URL}
	s.ok(append([]string{"broker", "decommission", "1"}, url...)...)
	s.ok(append([]string{"broker", "status", "1", "--format", "json"}, url...)...)
	s.ok(append([]string{"broker", "recommission", "1", "--format", "yaml"}, url...)...)
	r := s.fail(append([]string{"broker", "decommission", "0"}, url...)...)
	if !errors.Is(r.err, cli.ErrAdmin) || !strings.Contains(r.err.Error(), "400 Bad Request") {
		t.Errorf("decommission of the only broker: %v", r.err)
	}
	s.fail(append([]string{"broker", "status", "9"}, url...)...)
	s.fail(append([]string{"broker", "status", "x"}, url...)...)
	want := []string{"PUT /v1/brokers/1/decommission", "GET /v1/brokers/1/decommission", "PUT /v1/brokers/1/recommission",
		"PUT /v1/brokers/0/decommission", "GET /v1/brokers/9/decommission"}
	if strings.Join(asked, "\n") != strings.Join(want, "\n") {
		t.Errorf("asked %q, want %q", asked, want)
	}
	compareGolden(t, strings.ReplaceAll(s.log.String(), srv.URL, "<ADMIN-URL>"))
}

// TestBrokerDecommissionEmbedded: the only broker cannot be decommissioned
// (its replicas have nowhere to go), and its status says it is not
// draining. Skipped while the node does not serve the endpoints yet.
func TestBrokerDecommissionEmbedded(t *testing.T) {
	s := newSession(t)
	s.ok("topic", "create", "bd-t")
	if r := s.run("", "broker", "status", "0"); r.err != nil && strings.Contains(r.err.Error(), "404") {
		t.Skip("the node does not serve /v1/brokers/{id}/decommission yet")
	}
	r := s.fail("broker", "decommission", "0")
	if !errors.Is(r.err, cli.ErrAdmin) || !strings.Contains(r.err.Error(), "no other registered broker") {
		t.Errorf("decommission of the only broker: %v", r.err)
	}
	r = s.ok("broker", "status", "0", "--format", "json")
	if !strings.Contains(r.stdout, `"draining": false`) || strings.Contains(r.stdout, `"partitions_remaining": 0,`) {
		t.Errorf("status: %s", r.stdout)
	}
	s.fail("broker", "status", "9")
}
