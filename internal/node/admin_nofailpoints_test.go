//go:build !failpoints

package node

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAdminNoFailpoints: the production build serves no /v1/failpoints.
func TestAdminNoFailpoints(t *testing.T) {
	mux := http.NewServeMux()
	registerFailpoints(mux, slog.New(slog.DiscardHandler))
	for _, m := range []string{"GET", "PUT"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(m, "/v1/failpoints/storage/skip-fsync", nil))
		if rec.Code != http.StatusNotFound {
			t.Fatalf("%s /v1/failpoints/…: %d, want 404", m, rec.Code)
		}
	}
}
