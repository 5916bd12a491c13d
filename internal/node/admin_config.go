package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/petrel-streaming/petrel/internal/config"
)

// The cluster configuration served by /v1/cluster_config is the one
// declaration in internal/config: its names, kinds, docs, defaults,
// bounds and whether a change needs a restart. Reads show the values
// this node runs with; writes are validated by the same code that
// validates a configuration file. No setting is wired for a change at
// runtime yet (every one is read at start-up), so a valid write is
// refused with "needs restart" rather than stored and ignored.

// settings is the configuration this node runs with: the one the
// command line resolved, or, for an embedded node, the defaults with
// this node's Config laid over them.
func (n *Node) settings() *config.Config {
	if n.cfg.Settings != nil {
		return n.cfg.Settings
	}
	c, err := config.Resolve(config.Input{})
	if err != nil {
		c = &config.Config{} // the defaults always resolve; keep serving regardless
	}
	c.ConfigFile = ""
	c.DataDir, c.NodeID, c.KafkaAddr = n.cfg.DataDir, n.cfg.NodeID, n.cfg.KafkaAddr
	c.AdvertiseKafkaAddr = net.JoinHostPort(n.advHost, strconv.Itoa(int(n.advPort)))
	c.AdminAddr, c.MemoryBytes, c.Shards = n.cfg.AdminAddr, n.cfg.MemoryBytes, n.cfg.Shards
	c.DirectIO, c.AutoCreateTopics = n.cfg.DirectIO, n.cfg.AutoCreateTopics
	if n.cfg.RPCAddr != "" {
		c.RPCAddr = n.cfg.RPCAddr
	}
	return c
}

// ClusterConfigSnapshot is every setting's current value, typed for JSON
// (ints, bytes as numbers; bools; lists as arrays; the rest as text).
func (n *Node) ClusterConfigSnapshot() map[string]any {
	c := n.settings()
	out := make(map[string]any)
	for _, d := range config.Declarations() {
		text, _ := c.Value(d.Name)
		out[d.Name] = typedValue(d.Kind, text)
	}
	return out
}

func typedValue(k config.Kind, text string) any {
	switch k {
	case config.KindInt:
		if v, err := strconv.ParseInt(text, 10, 64); err == nil {
			return v
		}
	case config.KindBytes:
		if v, err := config.ParseBytes(text); err == nil {
			return v
		}
	case config.KindBool:
		if v, err := strconv.ParseBool(text); err == nil {
			return v
		}
	case config.KindList:
		if text == "" {
			return []string{}
		}
		return strings.Split(text, ",")
	}
	return text
}

// SettingSchema is one setting in /v1/cluster_config/schema (Redpanda's
// property metadata, with Petrel's kinds and bounds).
type SettingSchema struct {
	Type         string   `json:"type"`
	Description  string   `json:"description"`
	Default      string   `json:"default"`
	Bounds       string   `json:"bounds,omitempty"`
	NeedsRestart bool     `json:"needs_restart"`
	Nullable     bool     `json:"nullable"`
	Visibility   string   `json:"visibility"`
	Units        string   `json:"units,omitempty"`
	Aliases      []string `json:"aliases,omitempty"`
	Flag         string   `json:"flag"`
	Env          string   `json:"env"`
}

// ClusterConfigSchema is /v1/cluster_config/schema.
type ClusterConfigSchema struct {
	Properties map[string]SettingSchema `json:"properties"`
}

// ClusterConfigSchemaSnapshot describes every setting from its declaration.
func ClusterConfigSchemaSnapshot() ClusterConfigSchema {
	s := ClusterConfigSchema{Properties: map[string]SettingSchema{}}
	for _, d := range config.Declarations() {
		ss := SettingSchema{Type: d.Kind.String(), Description: d.Doc, Default: d.Default, Bounds: d.Bounds,
			NeedsRestart: d.NeedsRestart, Visibility: "user", Flag: "--" + d.Flag, Env: d.Env}
		for _, a := range d.Aliases {
			ss.Aliases = append(ss.Aliases, "--"+a)
		}
		switch d.Kind {
		case config.KindBytes:
			ss.Units = "bytes"
		case config.KindDuration:
			ss.Units = "duration"
		}
		s.Properties[d.Name] = ss
	}
	return s
}

// ConfigPatch is the body of PUT /v1/cluster_config, as Redpanda's.
type ConfigPatch struct {
	Upsert map[string]json.RawMessage `json:"upsert"`
	Remove []string                   `json:"remove"`
}

// ConfigError is a refused write: a message naming every refused key,
// and each key's reason.
type ConfigError struct {
	Message string            `json:"message"`
	Code    int               `json:"code"`
	Errors  map[string]string `json:"errors"`
}

func (e *ConfigError) Error() string { return e.Message }

// ConfigWriteResult answers an accepted write.
type ConfigWriteResult struct {
	ConfigVersion int64 `json:"config_version"`
}

// PatchClusterConfig validates p against the declarations. Unknown keys
// and bad values come back as a *ConfigError naming them; valid changes
// are refused too (a *ConfigError, "needs restart"), because no setting
// is wired to change while the node runs: the write would otherwise be
// reported applied and do nothing.
func (n *Node) PatchClusterConfig(p ConfigPatch) (ConfigWriteResult, error) {
	bad := validatePatch(p)
	if len(bad) > 0 {
		return ConfigWriteResult{}, newConfigError("invalid cluster config", bad)
	}
	decls := declByName()
	restart := map[string]string{}
	for _, k := range patchKeys(p) {
		if decls[k].NeedsRestart {
			restart[k] = "needs restart: " + k + " is read at start-up; set it in petrel.yaml, " + decls[k].Env + " or --" + decls[k].Flag + " and restart the node"
		} else {
			restart[k] = "cannot be changed at runtime yet"
		}
	}
	if len(restart) > 0 {
		return ConfigWriteResult{}, newConfigError("needs restart", restart)
	}
	return ConfigWriteResult{ConfigVersion: int64(n.Tables().Version())}, nil
}

func newConfigError(what string, bad map[string]string) *ConfigError {
	keys := make([]string, 0, len(bad))
	for k := range bad {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + bad[k]
	}
	return &ConfigError{Message: what + ": " + strings.Join(parts, "; "), Code: 400, Errors: bad}
}

func declByName() map[string]config.Setting {
	m := map[string]config.Setting{}
	for _, d := range config.Declarations() {
		m[d.Name] = d
	}
	return m
}

func patchKeys(p ConfigPatch) []string {
	keys := make([]string, 0, len(p.Upsert)+len(p.Remove))
	for k := range p.Upsert {
		keys = append(keys, k)
	}
	keys = append(keys, p.Remove...)
	slices.Sort(keys)
	return slices.Compact(keys)
}

// validatePatch returns each refused key with its reason. Upserted values
// go through config.Resolve as a configuration file (JSON is YAML), so
// they are checked exactly as petrel.yaml would be: kind, bounds, extra
// checks, and whether a file may set the key at all.
func validatePatch(p ConfigPatch) map[string]string {
	bad := map[string]string{}
	decls := declByName()
	for _, k := range p.Remove {
		if _, ok := decls[k]; !ok {
			bad[k] = fmt.Sprintf("%v %q", config.ErrUnknownKey, k)
		}
	}
	if len(p.Upsert) == 0 {
		return bad
	}
	var doc bytes.Buffer
	keys := make([]string, 0, len(p.Upsert))
	for k := range p.Upsert {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		q, _ := json.Marshal(k)
		doc.Write(q)
		doc.WriteString(": ")
		// A decoded RawMessage is valid JSON: Compact only folds it onto
		// the key's line.
		_ = json.Compact(&doc, p.Upsert[k])
		doc.WriteByte('\n')
	}
	_, err := config.Resolve(config.Input{File: doc.Bytes(), FileName: "PUT /v1/cluster_config"})
	for _, e := range flatten(err) {
		var ce *config.Error
		switch {
		case errors.As(e, &ce) && ce.Key != "":
			bad[ce.Key] = ce.Err.Error()
		case e != nil:
			bad["body"] = e.Error()
		}
	}
	return bad
}

// flatten lists the errors joined in err.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}
