//go:build !failpoints

package node

import (
	"log/slog"
	"net/http"
)

// registerFailpoints does nothing: without -tags failpoints the broker
// has no failpoints and no /v1/failpoints endpoint (admin_failpoints.go).
func registerFailpoints(*http.ServeMux, *slog.Logger) {}
