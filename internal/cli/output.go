package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"
)

// outputFormat is how a command prints its result.
type outputFormat int

const (
	formatText outputFormat = iota // aligned tables
	formatJSON                     // one indented JSON document
	formatYAML                     // one YAML document
)

func parseFormat(s string) (outputFormat, error) {
	switch strings.ToLower(s) {
	case "", "text", "table":
		return formatText, nil
	case "json":
		return formatJSON, nil
	case "yaml", "yml":
		return formatYAML, nil
	}
	return 0, fmt.Errorf("--format %q: want text, json or yaml", s)
}

// table is a titled grid of cells; the text rendering of a result.
type table struct {
	title  string // printed above the table when set
	header []string
	rows   [][]string
}

func (t *table) add(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = cell(c)
	}
	t.rows = append(t.rows, row)
}

// cell renders one value: numbers in decimal, lists comma-separated, a
// nil error as "OK" (the STATUS columns), "-" for an empty string.
func cell(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return "-"
		}
		return x
	case error:
		if x == nil {
			return "OK"
		}
		return x.Error()
	case nil:
		return "OK"
	case []int32:
		parts := make([]string, len(x))
		for i, n := range x {
			parts[i] = strconv.Itoa(int(n))
		}
		return strings.Join(parts, ",")
	case []string:
		return strings.Join(x, ",")
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// render writes v as JSON or YAML, or the tables as aligned text.
func render(w io.Writer, f outputFormat, v any, tables []table) error {
	switch f {
	case formatJSON:
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(data, '\n'))
		return err
	case formatYAML:
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return err
		}
		return enc.Close()
	}
	for i, t := range tables {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		if err := writeTable(w, t); err != nil {
			return err
		}
	}
	return nil
}

func writeTable(w io.Writer, t table) error {
	if t.title != "" {
		if _, err := fmt.Fprintln(w, t.title); err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(t.header) > 0 {
		fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	}
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// errString is an error's text for JSON/YAML results ("" when nil).
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
