//go:build failpoints

package node

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/petrel-streaming/petrel/internal/failpoint"
)

// TestAdminFailpoints: the tagged build's /v1/failpoints: list, get, set
// (names with a '/'), the set takes effect at the call site, bad specs and
// unknown names are refused with 400 and 404.
func TestAdminFailpoints(t *testing.T) {
	mux := http.NewServeMux()
	registerFailpoints(mux, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	t.Cleanup(func() { _ = failpoint.Set("storage/before-journal-sync", "off") })

	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	code, body := do("GET", "/v1/failpoints", "")
	var list []failpoint.Status
	if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil || len(list) != len(failpoint.Points) {
		t.Fatalf("GET list: %d %s", code, body)
	}
	for _, st := range list {
		if st.Spec != "off" {
			t.Fatalf("armed at start: %+v", st)
		}
	}
	code, body = do("PUT", "/v1/failpoints/storage/before-journal-sync", "2*off->error\n")
	var st failpoint.Status
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil || st.Spec != "2*off->error" || st.Name != "storage/before-journal-sync" {
		t.Fatalf("PUT: %d %s", code, body)
	}
	for i, want := range []bool{false, false, true, true} {
		if got := failpoint.Inject("storage/before-journal-sync").Err() != nil; got != want {
			t.Fatalf("call %d after PUT: error %v, want %v", i, got, want)
		}
	}
	code, body = do("GET", "/v1/failpoints/storage/before-journal-sync", "")
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil || st.Hits != 4 || st.Left != "error" {
		t.Fatalf("GET one: %d %s", code, body)
	}
	if code, body = do("PUT", "/v1/failpoints/storage/before-journal-sync", "explode"); code != 400 || !strings.Contains(body, "bad spec") {
		t.Fatalf("bad spec: %d %s", code, body)
	}
	if code, body = do("PUT", "/v1/failpoints/no/such", "on"); code != 404 || !strings.Contains(body, "unknown failpoint") {
		t.Fatalf("unknown PUT: %d %s", code, body)
	}
	if code, _ = do("GET", "/v1/failpoints/no/such", ""); code != 404 {
		t.Fatalf("unknown GET: %d", code)
	}
	if code, _ = do("PUT", "/v1/failpoints/storage/before-journal-sync", strings.Repeat("x", 5000)); code != 400 {
		t.Fatalf("huge body: %d", code)
	}
	if code, _ = do("PUT", "/v1/failpoints/storage/before-journal-sync", "off"); code != 200 || failpoint.Inject("storage/before-journal-sync").Err() != nil {
		t.Fatal("off did not disarm")
	}
}
