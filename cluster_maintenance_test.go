package petrel_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// maintenanceStatus is GET /v1/brokers/{id}/maintenance.
type maintenanceStatus struct {
	NodeID        int32 `json:"node_id"`
	Enabled       bool  `json:"enabled"`
	Finished      bool  `json:"finished"`
	PartitionsLed int   `json:"partitions_led"`
}

// ledBy counts the partitions of topic that Metadata says node leads (and
// those without a leader).
func ledBy(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, node int32) (led, leaderless int) {
	t.Helper()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range md.Topics[topic].Partitions {
		switch {
		case p.Leader < 0 || p.Err != nil:
			leaderless++
		case p.Leader == node:
			led++
		}
	}
	return led, leaderless
}

// TestClusterMaintenance: 3 nodes, a topic of 6 partitions with 3
// replicas. Node 1 enters maintenance through the admin API: soon it
// leads no partition (Metadata), a second broker is refused, a preferred
// election to it is refused, and writes and reads go on. After it leaves
// maintenance, leader balancing gives it partitions back.
func TestClusterMaintenance(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := c.client(kgo.MetadataMinAge(100 * time.Millisecond))
	adm := kadm.NewClient(cl)
	const topic = "maint"
	if res, err := adm.CreateTopics(ctx, 6, 3, nil, topic); err != nil || res.Error() != nil {
		t.Fatalf("create: %v %v", err, res.Error())
	}
	const n = 300
	produceN(ctx, t, cl, topic, 0, n)
	// Preferred leaders are spread: node 1 leads some partitions.
	waitLed := func(what string, within time.Duration, ok func(led, leaderless int) bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			led, leaderless := ledBy(ctx, t, adm, topic, 1)
			if ok(led, leaderless) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: after %v node 1 leads %d partitions (%d leaderless)", what, within, led, leaderless)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitLed("before maintenance", 10*time.Second, func(led, _ int) bool { return led > 0 })

	maint := func(b int, method string, id int, wantCode int) maintenanceStatus {
		t.Helper()
		code, body := adminDo(t, c.brokers[b], method, "/v1/brokers/"+strconv.Itoa(id)+"/maintenance", "")
		if code != wantCode {
			t.Fatalf("%s maintenance of %d on node %d: %d %s, want %d", method, id, b, code, body, wantCode)
		}
		var st maintenanceStatus
		if code == http.StatusOK {
			if err := json.Unmarshal(body, &st); err != nil {
				t.Fatal(err)
			}
		}
		return st
	}
	t0 := time.Now()
	if st := maint(0, http.MethodPut, 1, http.StatusOK); !st.Enabled || st.NodeID != 1 {
		t.Fatalf("enable: %+v", st)
	}
	code, body := adminDo(t, c.brokers[2], http.MethodPut, "/v1/brokers/2/maintenance", "")
	if code != http.StatusBadRequest || !strings.Contains(string(body), "broker 1 is in maintenance already") {
		t.Fatalf("a second broker into maintenance: %d %s", code, body)
	}

	// Node 1 hands every leadership away; asked on node 1 (which hosts
	// every partition it could lead) the status finishes too.
	waitLed("in maintenance", 10*time.Second, func(led, leaderless int) bool { return led == 0 && leaderless == 0 })
	for st := maint(1, http.MethodGet, 1, http.StatusOK); !st.Finished; st = maint(1, http.MethodGet, 1, http.StatusOK) {
		if time.Since(t0) > 10*time.Second {
			t.Fatalf("maintenance status never finished: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("node 1 drained of leaderships in %v", time.Since(t0))

	// Nobody gives it leadership back: preferred elections are refused.
	set := kadm.TopicsSet{}
	for p := range int32(6) {
		set.Add(topic, p)
	}
	res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, set)
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, r := range res[topic] {
		if r.Err != nil && !strings.Contains(r.Err.Error(), "ELECTION_NOT_NEEDED") {
			refused++
		}
	}
	if refused == 0 {
		t.Fatalf("preferred elections: none refused (%v)", res[topic])
	}

	// Writes and reads go on; node 1's replicas still replicate.
	produceN(ctx, t, cl, topic, n, n)
	seen := consumeAll(ctx, t, c, topic, 2*n)
	for i := range 2 * n {
		if seen[strconv.Itoa(i)] != 1 {
			t.Fatalf("record %d read %d times", i, seen[strconv.Itoa(i)])
		}
	}
	// Through a whole balancing period (10 s) nobody moves a leadership
	// back to it (sampled: node 1 would give one away within 250 ms).
	for time.Since(t0) < 11*time.Second {
		if led, _ := ledBy(ctx, t, adm, topic, 1); led != 0 {
			t.Fatalf("node 1 leads %d partitions again %v into its maintenance", led, time.Since(t0))
		}
		time.Sleep(50 * time.Millisecond)
	}

	t1 := time.Now()
	if st := maint(2, http.MethodDelete, 1, http.StatusOK); st.Enabled {
		t.Fatalf("disable: %+v", st)
	}
	waitLed("after maintenance", 15*time.Second, func(led, _ int) bool { return led > 0 })
	t.Logf("node 1 leads again %v after maintenance ended", time.Since(t1))
	produceN(ctx, t, cl, topic, 2*n, 10)
}
