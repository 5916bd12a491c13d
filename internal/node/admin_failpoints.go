//go:build failpoints

package node

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/petrel-streaming/petrel/internal/failpoint"
)

// maxFailpointBody bounds a PUT /v1/failpoints/{name} body (a spec).
const maxFailpointBody = 4 << 10

// registerFailpoints serves the failpoints of a broker built with
// -tags failpoints (package failpoint, "Configuring"):
//
//	GET /v1/failpoints               every failpoint's status
//	GET /v1/failpoints/{name}        one (names hold a '/': storage/skip-fsync)
//	PUT /v1/failpoints/{name}        body: the spec, e.g. 20*off->panic; "off" disarms
func registerFailpoints(mux *http.ServeMux, log *slog.Logger) {
	log.Warn("failpoints compiled in: this broker is for fault-injection tests only")
	mux.HandleFunc("GET /v1/failpoints", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, failpoint.List())
	})
	mux.HandleFunc("GET /v1/failpoints/{name...}", func(w http.ResponseWriter, r *http.Request) {
		st, err := failpoint.Get(r.PathValue("name"))
		writeFailpoint(w, st, err)
	})
	mux.HandleFunc("PUT /v1/failpoints/{name...}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		body, err := io.ReadAll(io.LimitReader(r.Body, maxFailpointBody+1))
		if err != nil || len(body) > maxFailpointBody {
			writeError(w, http.StatusBadRequest, "body: want a failpoint spec of at most 4 KiB")
			return
		}
		spec := strings.TrimSpace(string(body))
		if err := failpoint.Set(name, spec); err != nil {
			writeFailpoint(w, failpoint.Status{}, err)
			return
		}
		log.Warn("failpoint set", "name", name, "spec", spec)
		st, err := failpoint.Get(name)
		writeFailpoint(w, st, err)
	})
}

// writeFailpoint writes st, or err: an unknown name is 404, a bad spec 400.
func writeFailpoint(w http.ResponseWriter, st failpoint.Status, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, st)
	case errors.Is(err, failpoint.ErrUnknown):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, failpoint.ErrSpec):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}
