package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/petrel-streaming/petrel/internal/config"
)

// Cluster config export and import (rpk's `cluster config export|import`),
// over the admin API:
//
//	export   GET /v1/cluster_config/schema, GET /v1/cluster_config
//	         → YAML: each setting's doc, type, default, bounds as comments,
//	           then `key: current value`, keys sorted
//	import   the same two GETs, the file's keys checked against the schema
//	         and its values by the schema's type (nothing is sent when one
//	         is wrong), the difference printed, then one
//	         PUT /v1/cluster_config {"upsert": {k: v}, "remove": [k]}
//
// A setting the file leaves out is reset to its default ("remove"), so a
// file must hold at least one setting. Values compare in a canonical text
// per type (canonicalValue), so that export → import reports no changes.

// ErrUnknownSetting marks a cluster config file naming a setting that the
// broker's schema does not declare.
var ErrUnknownSetting = errors.New("unknown cluster setting")

// ErrConfigFile marks a cluster config file that cannot be imported (not
// YAML, not a mapping, empty, or a value of the wrong type).
var ErrConfigFile = errors.New("invalid cluster config file")

// settingSchema is one setting of GET /v1/cluster_config/schema (the
// node's SettingSchema; the CLI keeps its own type).
type settingSchema struct {
	Type         string `json:"type"` // string, int, bool, duration, bytes, list, host:port
	Description  string `json:"description"`
	Default      string `json:"default"` // in the syntax of Type
	Bounds       string `json:"bounds,omitempty"`
	NeedsRestart bool   `json:"needs_restart"`
}

// clusterSettings are the broker's schema and current values.
type clusterSettings struct {
	schema map[string]settingSchema
	values map[string]any // JSON-decoded with json.Number
}

func (e *env) clusterSettings(ctx context.Context) (clusterSettings, error) {
	var sc struct {
		Properties map[string]settingSchema `json:"properties"`
	}
	if err := e.adminJSON(ctx, http.MethodGet, "/v1/cluster_config/schema", &sc); err != nil {
		return clusterSettings{}, err
	}
	var raw map[string]json.RawMessage
	if err := e.adminJSON(ctx, http.MethodGet, "/v1/cluster_config", &raw); err != nil {
		return clusterSettings{}, err
	}
	cs := clusterSettings{schema: sc.Properties, values: map[string]any{}}
	for k, r := range raw {
		dec := json.NewDecoder(strings.NewReader(string(r)))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return clusterSettings{}, fmt.Errorf("%w: GET /v1/cluster_config: %s: %w", ErrAdmin, k, err)
		}
		cs.values[k] = v
	}
	return cs, nil
}

func clusterConfigExport(e *env) *cobra.Command {
	var file string
	cmd := &cobra.Command{Use: "export [--file F]", Short: "Write every cluster setting with its current value as YAML, with its doc and default as comments",
		Long: "Writes the cluster's settings (GET /v1/cluster_config) to stdout or --file, one `key: value` per\n" +
			"setting, keys sorted, each after comments with its description, type, default and bounds\n" +
			"(GET /v1/cluster_config/schema). Edit the file and apply it with `petrel cluster config import`.\n" +
			"--format json prints the values alone, as one JSON object.",
		Args: cobra.NoArgs}
	cmd.Flags().StringVar(&file, "file", "", "write to this file instead of stdout")
	cmd.RunE = e.run(false, func(ctx context.Context, _ []string) error {
		cs, err := e.clusterSettings(ctx)
		if err != nil {
			return err
		}
		var data []byte
		if f, _ := parseFormat(e.format); f == formatJSON {
			if data, err = json.MarshalIndent(cs.values, "", "  "); err != nil {
				return err
			}
			data = append(data, '\n')
		} else if data, err = exportYAML(cs); err != nil {
			return err
		}
		if file == "" {
			_, err = e.d.Stdout.Write(data)
			return err
		}
		if err := os.WriteFile(file, data, 0o644); err != nil {
			return err
		}
		_, err = fmt.Fprintf(e.d.Stdout, "wrote %d settings to %s\n", len(cs.keys()), file)
		return err
	})
	return cmd
}

// keys are the settings the schema declares or the node reports, sorted.
func (cs clusterSettings) keys() []string {
	ks := slices.Collect(maps.Keys(cs.schema))
	for k := range cs.values {
		if _, ok := cs.schema[k]; !ok {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	return ks
}

const exportHeader = `# Petrel cluster configuration: every setting with its current value.
# Edit it and apply it with ` + "`petrel cluster config import --file FILE`" + `
# (--dry-run shows the changes first); a setting removed from the file is
# reset to its default.
`

// exportYAML renders the settings as a commented YAML mapping.
func exportYAML(cs clusterSettings) ([]byte, error) {
	b := []byte(exportHeader)
	for _, k := range cs.keys() {
		b = append(b, '\n')
		if sc, ok := cs.schema[k]; ok {
			for _, line := range wrapWords(sc.Description, 74) {
				b = append(b, "# "+line+"\n"...)
			}
			b = append(b, "# "+schemaSummary(sc)+"\n"...)
		}
		v, err := yamlValue(cs.values[k])
		if err != nil {
			return nil, fmt.Errorf("setting %s: %w", k, err)
		}
		b = append(b, k+": "+v+"\n"...)
	}
	return b, nil
}

// schemaSummary is the comment line under a setting's description.
func schemaSummary(sc settingSchema) string {
	def := sc.Default
	if def == "" {
		def = "(empty)"
	}
	parts := []string{"type: " + sc.Type, "default: " + def}
	if sc.Bounds != "" {
		parts = append(parts, "bounds: "+sc.Bounds)
	}
	if sc.NeedsRestart {
		parts = append(parts, "needs restart")
	}
	return strings.Join(parts, ", ")
}

// yamlValue renders one JSON-decoded value as a YAML flow value.
func yamlValue(v any) (string, error) {
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			v = i
		} else if v, err = n.Float64(); err != nil {
			return "", err
		}
	}
	var node yaml.Node
	if err := node.Encode(v); err != nil {
		return "", err
	}
	if node.Kind == yaml.SequenceNode || node.Kind == yaml.MappingNode {
		node.Style = yaml.FlowStyle
	}
	out, err := yaml.Marshal(&node)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(out), "\n"), nil
}

// wrapWords splits text into lines of at most width bytes (a longer word
// stays whole on its own line).
func wrapWords(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// configChange is one difference between a file and the cluster.
type configChange struct {
	Key     string `json:"key" yaml:"key"`
	Action  string `json:"action" yaml:"action"` // set, or reset (to the default)
	Current string `json:"current" yaml:"current"`
	New     string `json:"new" yaml:"new"`
	kind    string
}

// importResult is what `cluster config import` prints.
type importResult struct {
	Changes       []configChange `json:"changes" yaml:"changes"`
	DryRun        bool           `json:"dry_run" yaml:"dry_run"`
	Applied       bool           `json:"applied" yaml:"applied"`
	ConfigVersion int64          `json:"config_version,omitempty" yaml:"config_version,omitempty"`
}

// parseConfigFile decodes a cluster config file: one YAML mapping of at
// least one setting.
func parseConfigFile(data []byte, name string) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConfigFile, name, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode || len(doc.Content[0].Content) == 0 {
		return nil, fmt.Errorf("%w: %s: want a mapping of settings (`key: value` lines; see `petrel cluster config export`): "+
			"an empty file would reset every setting", ErrConfigFile, name)
	}
	m := map[string]any{}
	if err := doc.Content[0].Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConfigFile, name, err)
	}
	return m, nil
}

// diffConfig lists the changes that make the cluster's settings those of
// file: a key whose canonical value differs is set, a key left out whose
// current value is not the default is reset. Unknown keys and values of
// the wrong type are errors naming every one (ErrUnknownSetting,
// ErrConfigFile); then nothing must be applied.
func diffConfig(cs clusterSettings, file map[string]any, name string) ([]configChange, error) {
	var unknown, bad []string
	for k := range file {
		if _, ok := cs.schema[k]; !ok {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	var changes []configChange
	for _, k := range slices.Sorted(maps.Keys(cs.schema)) {
		sc := cs.schema[k]
		def, err := canonicalValue(sc.Type, sc.Default)
		if err != nil {
			return nil, fmt.Errorf("%w: schema default of %s: %v", ErrAdmin, k, err)
		}
		cur := def
		if v, ok := cs.values[k]; ok {
			if cur, err = canonicalValue(sc.Type, v); err != nil {
				return nil, fmt.Errorf("%w: current value of %s: %v", ErrAdmin, k, err)
			}
		}
		v, inFile := file[k]
		switch {
		case !inFile && cur != def:
			changes = append(changes, configChange{Key: k, Action: "reset", Current: cur, New: def, kind: sc.Type})
		case inFile:
			want, err := canonicalValue(sc.Type, v)
			if err != nil {
				bad = append(bad, k+": "+err.Error())
			} else if want != cur {
				changes = append(changes, configChange{Key: k, Action: "set", Current: cur, New: want, kind: sc.Type})
			}
		}
	}
	var errs []error
	if len(unknown) > 0 {
		slices.Sort(unknown)
		errs = append(errs, fmt.Errorf("%w in %s: %s (see `petrel cluster config export` for the settings; nothing applied)",
			ErrUnknownSetting, name, strings.Join(unknown, ", ")))
	}
	if len(bad) > 0 {
		errs = append(errs, fmt.Errorf("%w: %s: %s (nothing applied)", ErrConfigFile, name, strings.Join(bad, "; ")))
	}
	return changes, errors.Join(errs...)
}

// canonicalValue renders a value (YAML- or JSON-decoded, or a schema
// default's text) in one text per type, so that equal settings compare
// equal: ints and bytes in decimal, durations as time.Duration prints
// them, lists comma-joined, bools true/false.
func canonicalValue(kind string, v any) (string, error) {
	if kind == "list" {
		var items []string
		switch x := v.(type) {
		case nil:
		case []any:
			for _, it := range x {
				s, ok := scalarText(it)
				if !ok {
					return "", fmt.Errorf("want a list of values, not %v", v)
				}
				items = append(items, s)
			}
		case string:
			items = splitList(x)
		default:
			return "", fmt.Errorf("want a list, not %v", v)
		}
		return strings.Join(items, ","), nil
	}
	s, ok := scalarText(v)
	if !ok {
		return "", fmt.Errorf("want a single %s value, not %v", kind, v)
	}
	switch kind {
	case "int":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return "", fmt.Errorf("want an integer, not %q", s)
		}
		return strconv.FormatInt(n, 10), nil
	case "bytes":
		n, err := config.ParseBytes(s)
		if err != nil {
			return "", fmt.Errorf("want a size like 1073741824 or 512MiB, not %q", s)
		}
		return strconv.FormatInt(n, 10), nil
	case "bool":
		b, err := strconv.ParseBool(s)
		if err != nil {
			return "", fmt.Errorf("want true or false, not %q", s)
		}
		return strconv.FormatBool(b), nil
	case "duration":
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return "", fmt.Errorf("want a duration like 30s or 5m, not %q", s)
		}
		return d.String(), nil
	}
	return s, nil // string, host:port, and types this CLI does not know yet
}

// scalarText is a scalar's text ("" for null); false for a list or map.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool, int, int64, uint64, float64:
		return fmt.Sprint(x), true
	}
	return "", false
}

// jsonValue is a canonical value as the PUT body carries it: numbers for
// int and bytes, booleans, arrays for lists, strings otherwise.
func jsonValue(kind, canon string) json.RawMessage {
	var v any = canon
	switch kind {
	case "int", "bytes", "bool":
		return json.RawMessage(canon)
	case "list":
		v = splitList(canon)
		if canon == "" {
			v = []string{}
		}
	}
	data, _ := json.Marshal(v) // strings only: cannot fail
	return data
}

func clusterConfigImport(e *env) *cobra.Command {
	var file string
	var dry bool
	cmd := &cobra.Command{Use: "import --file F [--dry-run]", Short: "Make the cluster's settings those of a YAML file (as export writes it): print the changes, apply them",
		Long: "Reads F (a mapping of settings, as `petrel cluster config export` writes it), compares it with\n" +
			"the cluster's current values and prints the changes: a setting whose value differs is set, a\n" +
			"setting left out of the file is reset to its default. Keys are checked against the broker's\n" +
			"schema and values by their type first: one unknown key or bad value and nothing is applied.\n" +
			"Then the changes go in one PUT /v1/cluster_config, which the broker accepts or refuses whole\n" +
			"(non-zero exit, with its message). --dry-run stops after printing the changes.",
		Args: cobra.NoArgs}
	cmd.Flags().StringVar(&file, "file", "", "the YAML file to import (required)")
	cmd.Flags().BoolVar(&dry, "dry-run", false, "print the changes, apply nothing")
	cmd.RunE = e.run(false, func(ctx context.Context, _ []string) error {
		if file == "" {
			return fmt.Errorf("--file is required (write one with `petrel cluster config export --file F`)")
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		want, err := parseConfigFile(data, file)
		if err != nil {
			return err
		}
		cs, err := e.clusterSettings(ctx)
		if err != nil {
			return err
		}
		changes, err := diffConfig(cs, want, file)
		if err != nil {
			return err
		}
		res := importResult{Changes: changes, DryRun: dry}
		if res.Changes == nil {
			res.Changes = []configChange{}
		}
		if len(changes) == 0 {
			return e.out(res, table{rows: [][]string{{"no changes: the cluster's settings are those of the file"}}})
		}
		if dry {
			return e.out(res, changesTable(changes), table{rows: [][]string{{fmt.Sprintf("dry run: %d changes, nothing applied", len(changes))}}})
		}
		patch := struct {
			Upsert map[string]json.RawMessage `json:"upsert"`
			Remove []string                   `json:"remove"`
		}{Upsert: map[string]json.RawMessage{}, Remove: []string{}}
		for _, c := range changes {
			if c.Action == "reset" {
				patch.Remove = append(patch.Remove, c.Key)
			} else {
				patch.Upsert[c.Key] = jsonValue(c.kind, c.New)
			}
		}
		var ack struct {
			ConfigVersion int64 `json:"config_version"`
		}
		if err := e.adminSend(ctx, http.MethodPut, "/v1/cluster_config", patch, &ack); err != nil {
			if oerr := e.out(res, changesTable(changes), table{rows: [][]string{{fmt.Sprintf("refused: %d changes, nothing applied", len(changes))}}}); oerr != nil {
				return errors.Join(err, oerr)
			}
			return err
		}
		res.Applied, res.ConfigVersion = true, ack.ConfigVersion
		return e.out(res, changesTable(changes), table{rows: [][]string{{fmt.Sprintf("applied %d changes (config version %d)", len(changes), ack.ConfigVersion)}}})
	})
	return cmd
}

func changesTable(changes []configChange) table {
	t := table{header: []string{"KEY", "ACTION", "CURRENT", "NEW"}}
	for _, c := range changes {
		t.add(c.Key, c.Action, c.Current, c.New)
	}
	return t
}
