package node

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/pprof"
	"strconv"

	"github.com/petrel-streaming/petrel/internal/model"
)

// Status is the node's health, as the admin API serves it.
type Status struct {
	Ready     bool   `json:"ready"`
	NodeID    int32  `json:"node_id"`
	ClusterID string `json:"cluster_id"`
	Shards    int    `json:"shards"`
	Topics    int    `json:"topics"`
}

// Status returns a snapshot of the node's health. Any goroutine.
func (n *Node) Status() Status {
	st := Status{Ready: n.ready.Load(), NodeID: int32(n.cfg.NodeID), ClusterID: n.meta.ClusterID, Shards: n.meta.Shards}
	if n.ctrl != nil {
		st.Topics = len(n.Tables().Topics())
	}
	return st
}

// maxConfigBody bounds a PUT /v1/cluster_config body.
const maxConfigBody = 1 << 20

// adminHandler routes the admin API. Every handler is thin: it parses
// the path, calls one typed snapshot function (admin_snapshot.go,
// admin_config.go) and writes its result as JSON.
func (n *Node) adminHandler() http.Handler {
	n.metrics.SetProbe(n.MetricsProbe)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status/ready", func(w http.ResponseWriter, _ *http.Request) {
		st := n.Status()
		code := http.StatusOK
		if !st.Ready {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]string{"status": map[bool]string{true: "ready", false: "booting"}[st.Ready]})
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, n.Status())
	})
	mux.Handle("GET /metrics", n.metrics.Handler())
	registerFailpoints(mux, n.log) // only with -tags failpoints (admin_failpoints.go)
	mux.HandleFunc("GET /v1/brokers", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, n.BrokersSnapshot())
	})
	mux.HandleFunc("GET /v1/brokers/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 32)
		if err != nil {
			writeError(w, http.StatusBadRequest, "broker id "+strconv.Quote(r.PathValue("id"))+" is not a number")
			return
		}
		b, err := n.BrokerSnapshot(model.NodeID(id))
		writeResult(w, b, err, "broker "+r.PathValue("id"))
	})
	mux.HandleFunc("GET /v1/cluster/health_overview", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, n.HealthSnapshot())
	})
	mux.HandleFunc("GET /v1/partitions", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, n.PartitionsSnapshot())
	})
	mux.HandleFunc("GET /v1/partitions/{ns}/{topic}/{partition}", func(w http.ResponseWriter, r *http.Request) {
		p, what, ok := partitionPath(w, r)
		if !ok {
			return
		}
		d, err := n.PartitionSnapshot(r.PathValue("topic"), p)
		writeResult(w, d, err, "partition "+what)
	})
	mux.HandleFunc("GET /v1/debug/partitions/{ns}/{topic}/{partition}/digest", func(w http.ResponseWriter, r *http.Request) {
		p, what, ok := partitionPath(w, r)
		if !ok {
			return
		}
		upto := int64(-1)
		if q := r.URL.Query().Get("upto"); q != "" {
			v, err := strconv.ParseInt(q, 10, 64)
			if err != nil || v < 0 {
				writeError(w, http.StatusBadRequest, "upto "+strconv.Quote(q)+" is not an offset")
				return
			}
			upto = v
		}
		d, err := n.ReplicaDigest(r.PathValue("topic"), p, model.Offset(upto))
		writeResult(w, d, err, "replica of partition "+what)
	})
	mux.HandleFunc("GET /v1/debug/partitions/{ns}/{topic}/{partition}/raft", func(w http.ResponseWriter, r *http.Request) {
		p, what, ok := partitionPath(w, r)
		if !ok {
			return
		}
		st, err := n.ReplicaRaftStatus(r.Context(), r.PathValue("topic"), p)
		writeResult(w, st, err, "replica of partition "+what)
	})
	mux.HandleFunc("GET /v1/debug/rpc", func(w http.ResponseWriter, _ *http.Request) {
		if n.transport == nil {
			writeError(w, http.StatusNotFound, "no node-to-node transport: a cluster of one")
			return
		}
		writeJSON(w, http.StatusOK, n.transport.Stats())
	})
	mux.HandleFunc("GET /v1/debug/controller/raft", func(w http.ResponseWriter, r *http.Request) {
		st, err := n.ControllerRaftStatus(r.Context())
		writeResult(w, st, err, "the controller's replica")
	})
	n.registerDecommission(mux)
	n.registerLogLevel(mux)
	n.registerMaintenance(mux)
	mux.HandleFunc("GET /v1/node_config", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, n.NodeConfigSnapshot())
	})
	mux.HandleFunc("GET /v1/cluster_config", func(w http.ResponseWriter, r *http.Request) {
		all := n.ClusterConfigSnapshot()
		key := r.URL.Query().Get("key")
		if key == "" {
			writeJSON(w, http.StatusOK, all)
			return
		}
		v, ok := all[key]
		if !ok {
			writeJSON(w, http.StatusBadRequest, newConfigError("invalid cluster config", map[string]string{key: "unknown setting"}))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{key: v})
	})
	mux.HandleFunc("GET /v1/cluster_config/schema", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, ClusterConfigSchemaSnapshot())
	})
	mux.HandleFunc("PUT /v1/cluster_config", func(w http.ResponseWriter, r *http.Request) {
		var p ConfigPatch
		dec := json.NewDecoder(io.LimitReader(r.Body, maxConfigBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			writeError(w, http.StatusBadRequest, "body: want {\"upsert\": {setting: value}, \"remove\": [setting]}: "+err.Error())
			return
		}
		res, err := n.PatchClusterConfig(p)
		var ce *ConfigError
		if errors.As(err, &ce) {
			writeJSON(w, ce.Code, ce)
			return
		}
		writeResult(w, res, err, "")
	})
	// Profiles, as Go programs serve them, at /debug/pprof and (Redpanda's
	// prefix) /v1/debug/pprof.
	prof := http.NewServeMux()
	prof.HandleFunc("/debug/pprof/", pprof.Index)
	prof.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	prof.HandleFunc("/debug/pprof/profile", pprof.Profile)
	prof.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	prof.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/pprof/", prof)
	mux.Handle("/v1/debug/pprof/", http.StripPrefix("/v1", prof))
	return mux
}

// writeResult writes v, or the error: errNotFound as 404 naming what.
func writeResult(w http.ResponseWriter, v any, err error, what string) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, v)
	case errors.Is(err, errNotFound):
		writeError(w, http.StatusNotFound, what+" not found")
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// adminError is the body of every error answer (Redpanda's shape).
type adminError struct {
	Message string `json:"message"`
	Code    int    `json:"code"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, adminError{Message: msg, Code: code})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// partitionPath parses {ns}/{topic}/{partition}; on a bad path it answers
// the error itself and reports false.
func partitionPath(w http.ResponseWriter, r *http.Request) (model.PartitionID, string, bool) {
	what := r.PathValue("ns") + "/" + r.PathValue("topic") + "/" + r.PathValue("partition")
	p, err := strconv.ParseInt(r.PathValue("partition"), 10, 32)
	if err != nil {
		writeError(w, http.StatusBadRequest, "partition "+strconv.Quote(r.PathValue("partition"))+" is not a number")
		return 0, what, false
	}
	if r.PathValue("ns") != kafkaNamespace {
		writeError(w, http.StatusNotFound, "partition "+what+" not found: only the "+kafkaNamespace+" namespace exists")
		return 0, what, false
	}
	return model.PartitionID(p), what, true
}
