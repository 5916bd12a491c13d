package petrel_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/petrel-streaming/petrel"
)

// adminDo sends one request to the admin API and returns its status and
// body.
func adminDo(t *testing.T, b *petrel.Broker, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+b.AdminAddr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// adminGet decodes the JSON answer of a GET that must succeed.
func adminGet(t *testing.T, b *petrel.Broker, path string, v any) {
	t.Helper()
	code, data := adminDo(t, b, http.MethodGet, path, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, data)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, data)
	}
}

func TestAdminAPI(t *testing.T) {
	b, _, _ := metricsBroker(t, petrel.Config{}, "ad", [2]int{3, 2})

	var brokers []map[string]any
	adminGet(t, b, "/v1/brokers", &brokers)
	if len(brokers) != 1 || brokers[0]["node_id"] != 0.0 || brokers[0]["num_cores"] != 2.0 ||
		brokers[0]["is_alive"] != true || brokers[0]["membership_status"] != "active" || brokers[0]["kafka_address"] != b.Addr() {
		t.Errorf("/v1/brokers = %v", brokers)
	}
	var broker map[string]any
	adminGet(t, b, "/v1/brokers/0", &broker)
	if broker["node_id"] != 0.0 || broker["internal_rpc_port"] != 33145.0 {
		t.Errorf("/v1/brokers/0 = %v", broker)
	}
	if code, body := adminDo(t, b, http.MethodGet, "/v1/brokers/7", ""); code != http.StatusNotFound || !strings.Contains(string(body), "broker 7") {
		t.Errorf("/v1/brokers/7: %d %s", code, body)
	}
	if code, _ := adminDo(t, b, http.MethodGet, "/v1/brokers/x", ""); code != http.StatusBadRequest {
		t.Errorf("/v1/brokers/x: %d", code)
	}

	var health struct {
		IsHealthy    bool  `json:"is_healthy"`
		ControllerID int   `json:"controller_id"`
		AllNodes     []int `json:"all_nodes"`
		NodesDown    []int `json:"nodes_down"`
		Leaderless   int   `json:"leaderless_count"`
		Reasons      []any `json:"unhealthy_reasons"`
		Under        *int  `json:"under_replicated_count"`
		LeaderlessL  []any `json:"leaderless_partitions"`
	}
	adminGet(t, b, "/v1/cluster/health_overview", &health)
	if !health.IsHealthy || health.ControllerID != 0 || len(health.AllNodes) != 1 || len(health.NodesDown) != 0 ||
		health.Leaderless != 0 || len(health.Reasons) != 0 || health.Under == nil || health.LeaderlessL == nil {
		t.Errorf("health_overview = %+v", health)
	}

	var parts []struct {
		NS           string `json:"ns"`
		Topic        string `json:"topic"`
		PartitionID  int    `json:"partition_id"`
		Core         int    `json:"core"`
		Materialized bool   `json:"materialized"`
	}
	adminGet(t, b, "/v1/partitions", &parts)
	found := 0
	for _, p := range parts {
		if p.Topic == "ad" {
			found++
			if p.NS != "kafka" || !p.Materialized || p.Core < 0 || p.Core > 1 {
				t.Errorf("partition %+v", p)
			}
		}
	}
	if found != 2 {
		t.Errorf("/v1/partitions lists %d partitions of ad, want 2: %+v", found, parts)
	}

	var detail struct {
		Topic       string `json:"topic"`
		PartitionID int    `json:"partition_id"`
		Status      string `json:"status"`
		LeaderID    int    `json:"leader_id"`
		Replicas    []struct {
			NodeID int `json:"node_id"`
			Core   int `json:"core"`
		} `json:"replicas"`
		LeaderEpoch int   `json:"leader_epoch"`
		HW          int64 `json:"high_watermark"`
		LogStart    int64 `json:"log_start_offset"`
		LogEnd      int64 `json:"log_end_offset"`
	}
	adminGet(t, b, "/v1/partitions/kafka/ad/0", &detail)
	if detail.Topic != "ad" || detail.PartitionID != 0 || detail.LeaderID != 0 || len(detail.Replicas) != 1 ||
		detail.Replicas[0].NodeID != 0 || detail.Replicas[0].Core < 0 || detail.HW != 3 || detail.LogStart != 0 ||
		detail.LogEnd != 3 || detail.LeaderEpoch < 0 || detail.Status != "done" {
		t.Errorf("/v1/partitions/kafka/ad/0 = %+v", detail)
	}
	adminGet(t, b, "/v1/partitions/kafka/ad/1", &detail)
	if detail.HW != 2 || detail.PartitionID != 1 {
		t.Errorf("/v1/partitions/kafka/ad/1 = %+v", detail)
	}
	for _, path := range []string{"/v1/partitions/kafka/ad/2", "/v1/partitions/kafka/nope/0", "/v1/partitions/redpanda/ad/0"} {
		if code, _ := adminDo(t, b, http.MethodGet, path, ""); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}

	var nc map[string]any
	adminGet(t, b, "/v1/node_config", &nc)
	if nc["node_id"] != 0.0 || nc["shards"] != 2.0 || nc["kafka_api"] != b.Addr() || nc["admin_api"] != b.AdminAddr() ||
		nc["memory_bytes"] != float64(512<<20) || nc["partition_metrics"] != true || nc["data_directory"] == "" {
		t.Errorf("/v1/node_config = %v", nc)
	}

	var cc map[string]any
	adminGet(t, b, "/v1/cluster_config", &cc)
	if cc["shards"] != 2.0 || cc["memory"] != float64(512<<20) || cc["data_dir"] != nc["data_directory"] ||
		cc["log_level"] != "info" || cc["direct_io"] != false {
		t.Errorf("/v1/cluster_config = %v", cc)
	}
	var one map[string]any
	adminGet(t, b, "/v1/cluster_config?key=shards", &one)
	if len(one) != 1 || one["shards"] != 2.0 {
		t.Errorf("/v1/cluster_config?key=shards = %v", one)
	}
	var schema struct {
		Properties map[string]struct {
			Type         string `json:"type"`
			Description  string `json:"description"`
			NeedsRestart bool   `json:"needs_restart"`
			Bounds       string `json:"bounds"`
		} `json:"properties"`
	}
	adminGet(t, b, "/v1/cluster_config/schema", &schema)
	if m := schema.Properties["memory"]; m.Type != "bytes" || !m.NeedsRestart || m.Description == "" || m.Bounds == "" {
		t.Errorf("schema of memory = %+v", m)
	}
	if len(schema.Properties) != len(cc) {
		t.Errorf("schema has %d settings, config %d", len(schema.Properties), len(cc))
	}

	// Bad values and unknown keys: 400 naming each of them.
	code, body := adminDo(t, b, http.MethodPut, "/v1/cluster_config",
		`{"upsert": {"memory": "12XB", "shards": 5000, "memroy": "1GiB", "log_level": "loud"}, "remove": ["nope"]}`)
	var ce struct {
		Message string            `json:"message"`
		Code    int               `json:"code"`
		Errors  map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(body, &ce); err != nil || code != http.StatusBadRequest || ce.Code != 400 {
		t.Fatalf("PUT bad values: %d %s", code, body)
	}
	for _, k := range []string{"memory", "shards", "memroy", "log_level", "nope"} {
		if ce.Errors[k] == "" || !strings.Contains(ce.Message, k+":") {
			t.Errorf("PUT bad values: %s not named: %s", k, body)
		}
	}
	if !strings.Contains(ce.Errors["memroy"], `did you mean "memory"`) || !strings.Contains(ce.Errors["shards"], "out of range") {
		t.Errorf("PUT bad values: reasons %v", ce.Errors)
	}
	// A valid value of a setting read at start-up: refused, not pretended.
	code, body = adminDo(t, b, http.MethodPut, "/v1/cluster_config", `{"upsert": {"log_level": "debug"}}`)
	if code != http.StatusBadRequest || !strings.Contains(string(body), "needs restart") || !strings.Contains(string(body), "log_level") {
		t.Errorf("PUT log_level: %d %s", code, body)
	}
	if code, body := adminDo(t, b, http.MethodPut, "/v1/cluster_config", `{"upsert": `); code != http.StatusBadRequest {
		t.Errorf("PUT malformed: %d %s", code, body)
	}
	// Nothing changed.
	adminGet(t, b, "/v1/cluster_config", &cc)
	if cc["log_level"] != "info" {
		t.Errorf("log_level became %v", cc["log_level"])
	}

	for _, path := range []string{"/v1/debug/pprof/", "/v1/debug/pprof/cmdline", "/debug/pprof/"} {
		code, body := adminDo(t, b, http.MethodGet, path, "")
		if code != http.StatusOK || len(body) == 0 {
			t.Errorf("%s: %d", path, code)
		}
	}
	if code, body := adminDo(t, b, http.MethodGet, "/v1/debug/pprof/", ""); !strings.Contains(string(body), "goroutine") {
		t.Errorf("/v1/debug/pprof/ is not the profile index: %d", code)
	}
}
