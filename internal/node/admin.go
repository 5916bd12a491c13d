package node

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
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

func (n *Node) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status/ready", func(w http.ResponseWriter, _ *http.Request) {
		st := n.Status()
		w.Header().Set("Content-Type", "application/json")
		if !st.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"status": map[bool]string{true: "ready", false: "booting"}[st.Ready]})
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(n.Status())
	})
	// Profiles, as Go programs serve them (the admin API is for operators).
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
