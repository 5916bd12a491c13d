package cli_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/petrel-streaming/petrel/internal/cli"
)

// TestMaintenanceCommands runs the maintenance commands against a
// stand-in admin API of three brokers that keeps the flags, refuses a
// second broker, and drains broker 1's leaderships over two polls.
func TestMaintenanceCommands(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	maint := map[string]bool{}
	led := map[string]int{"0": 2, "1": 2, "2": 2}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, r.Method+" "+r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/brokers" {
			w.Write([]byte(`[{"node_id":0,"is_alive":true},{"node_id":1,"is_alive":true},{"node_id":2,"is_alive":true}]`))
			return
		}
		id, ok := strings.CutPrefix(r.URL.Path, "/v1/brokers/")
		id, ok2 := strings.CutSuffix(id, "/maintenance")
		if _, known := led[id]; !ok || !ok2 || !known {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"broker ` + id + ` not found","code":404}`))
			return
		}
		switch r.Method {
		case http.MethodPut:
			for other, on := range maint {
				if on && other != id {
					w.WriteHeader(http.StatusBadRequest)
					w.Write([]byte(`{"message":"maintenance mode refused: broker ` + other + ` is in maintenance already; at most one broker may be in maintenance at a time: disable it first","code":400}`))
					return
				}
			}
			maint[id] = true
		case http.MethodDelete:
			maint[id] = false
			led[id] = 2
		case http.MethodGet:
			if maint[id] && led[id] > 0 {
				led[id]-- // handing leaderships away, one per poll
			}
		}
		fmt.Fprintf(w, `{"node_id":%s,"enabled":%v,"finished":%v,"partitions_led":%d,"partitions_unknown":0,"draining":%v}`,
			id, maint[id], maint[id] && led[id] == 0, led[id], id == "2")
	}))
	defer srv.Close()
	s := newSession(t)
	s.connect = false
	url := []string{"--admin-url", srv.URL}
	s.ok(append([]string{"cluster", "maintenance", "status"}, url...)...)
	s.ok(append([]string{"cluster", "maintenance", "enable", "1", "--wait"}, url...)...)
	r := s.fail(append([]string{"cluster", "maintenance", "enable", "2"}, url...)...)
	if !errors.Is(r.err, cli.ErrAdmin) || !strings.Contains(r.err.Error(), "400 Bad Request") {
		t.Errorf("a second broker: %v", r.err)
	}
	s.ok(append([]string{"cluster", "maintenance", "status", "--format", "json"}, url...)...)
	s.ok(append([]string{"cluster", "maintenance", "disable", "1"}, url...)...)
	s.fail(append([]string{"cluster", "maintenance", "enable", "9"}, url...)...)
	s.fail(append([]string{"cluster", "maintenance", "disable", "x"}, url...)...)
	want := []string{
		"GET /v1/brokers", "GET /v1/brokers/0/maintenance", "GET /v1/brokers/1/maintenance", "GET /v1/brokers/2/maintenance",
		"PUT /v1/brokers/1/maintenance", "GET /v1/brokers/1/maintenance", "GET /v1/brokers/1/maintenance",
		"PUT /v1/brokers/2/maintenance",
		"GET /v1/brokers", "GET /v1/brokers/0/maintenance", "GET /v1/brokers/1/maintenance", "GET /v1/brokers/2/maintenance",
		"DELETE /v1/brokers/1/maintenance", "PUT /v1/brokers/9/maintenance",
	}
	if strings.Join(asked, "\n") != strings.Join(want, "\n") {
		t.Errorf("asked\n%s\nwant\n%s", strings.Join(asked, "\n"), strings.Join(want, "\n"))
	}
	compareGolden(t, strings.ReplaceAll(s.log.String(), srv.URL, "<ADMIN-URL>"))
}

// TestMaintenanceEmbedded: the only broker of the embedded node cannot
// enter maintenance, and the status lists it out of maintenance.
func TestMaintenanceEmbedded(t *testing.T) {
	s := newSession(t)
	r := s.fail("cluster", "maintenance", "enable", "0")
	if !errors.Is(r.err, cli.ErrAdmin) || !strings.Contains(r.err.Error(), "only registered broker") {
		t.Errorf("enable the only broker: %v", r.err)
	}
	r = s.ok("cluster", "maintenance", "status", "--format", "json")
	if !strings.Contains(r.stdout, `"node_id": 0`) || !strings.Contains(r.stdout, `"enabled": false`) {
		t.Errorf("status: %s", r.stdout)
	}
	s.fail("cluster", "maintenance", "disable", "9")
}
