package node

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestAdminLogLevel: /v1/config/log_level reads and changes the level of
// the node's logger at runtime; a bad level is refused and changes
// nothing; a node whose logger the embedding program owns answers 404.
func TestAdminLogLevel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lv := new(slog.LevelVar)
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: lv}))
	n := startAdminTestNode(ctx, t, func(c *Config) { c.Logger, c.LogLevel = logger, lv })
	mux := http.NewServeMux()
	n.registerLogLevel(mux)
	call := func(method, path, body string, wantCode int) string {
		t.Helper()
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)).WithContext(ctx))
		if rec.Code != wantCode {
			t.Fatalf("%s %s %s: %d %s, want %d", method, path, body, rec.Code, rec.Body, wantCode)
		}
		return strings.TrimSpace(rec.Body.String())
	}
	if got := call("GET", "/v1/config/log_level", "", http.StatusOK); got != `{"level":"INFO"}` {
		t.Fatalf("GET: %s", got)
	}
	if logger.Enabled(ctx, slog.LevelDebug) {
		t.Fatal("debug enabled at info")
	}
	call("PUT", "/v1/config/log_level", `{"level":"debug"}`, http.StatusOK)
	if !logger.Enabled(ctx, slog.LevelDebug) || lv.Level() != slog.LevelDebug {
		t.Fatalf("after PUT debug: level %v", lv.Level())
	}
	call("PUT", "/v1/config/log_level?level=warn", "", http.StatusOK)
	if got := call("GET", "/v1/config/log_level", "", http.StatusOK); got != `{"level":"WARN"}` {
		t.Fatalf("GET after ?level=warn: %s", got)
	}
	for _, body := range []string{`{"level":"loud"}`, `not json`, ``} {
		if msg := call("PUT", "/v1/config/log_level", body, http.StatusBadRequest); !bytes.Contains([]byte(msg), []byte(`"message"`)) {
			t.Errorf("PUT %q: error body %s", body, msg)
		}
	}
	if lv.Level() != slog.LevelWarn {
		t.Errorf("refused PUTs changed the level to %v", lv.Level())
	}

	n.cfg.LogLevel = nil // as an embedded node without one
	call("GET", "/v1/config/log_level", "", http.StatusNotFound)
	call("PUT", "/v1/config/log_level?level=debug", "", http.StatusNotFound)
}
