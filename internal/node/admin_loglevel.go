package node

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// The log level is the one setting an operator changes on a running
// node (Redpanda's /v1/config/log_level): GET /v1/config/log_level
// answers {"level": "INFO"}; PUT with {"level": "debug"} (or ?level=debug)
// sets it at once, until the next change or restart. It works when the
// node's logger was built on Config.LogLevel (petrel serve does so); an
// embedding program that owns its logger gets 404.

// LogLevel is the answer of /v1/config/log_level.
type LogLevel struct {
	Level string `json:"level"`
}

func (n *Node) registerLogLevel(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/config/log_level", func(w http.ResponseWriter, _ *http.Request) {
		if n.cfg.LogLevel == nil {
			writeError(w, http.StatusNotFound, "the log level belongs to the program embedding this node")
			return
		}
		writeJSON(w, http.StatusOK, LogLevel{Level: n.cfg.LogLevel.Level().String()})
	})
	mux.HandleFunc("PUT /v1/config/log_level", func(w http.ResponseWriter, r *http.Request) {
		if n.cfg.LogLevel == nil {
			writeError(w, http.StatusNotFound, "the log level belongs to the program embedding this node")
			return
		}
		want := r.URL.Query().Get("level")
		if want == "" {
			var body LogLevel
			if err := json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&body); err != nil {
				writeError(w, http.StatusBadRequest, `the body must be {"level": "debug|info|warn|error"} (or ?level=): `+err.Error())
				return
			}
			want = body.Level
		}
		var level slog.Level
		if err := level.UnmarshalText([]byte(strings.TrimSpace(want))); err != nil {
			writeError(w, http.StatusBadRequest, "log level "+`"`+want+`"`+": want debug, info, warn or error")
			return
		}
		old := n.cfg.LogLevel.Level()
		n.cfg.LogLevel.Set(level)
		n.log.Info("log level changed", "from", old.String(), "to", level.String())
		writeJSON(w, http.StatusOK, LogLevel{Level: level.String()})
	})
}
