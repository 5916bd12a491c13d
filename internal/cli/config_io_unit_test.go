package cli

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCanonicalValue(t *testing.T) {
	for _, c := range []struct {
		kind string
		in   []any // every one renders as want
		want string
	}{
		{"bytes", []any{"256MiB", 268435456, json.Number("268435456"), "268435456", "0.25GiB"}, "268435456"},
		{"int", []any{2, int64(2), json.Number("2"), "2", " 2"}, "2"},
		{"bool", []any{true, "true", "1", "True"}, "true"},
		{"duration", []any{"30s", "0.5m", "30000ms"}, "30s"},
		{"list", []any{nil, []any{}, ""}, ""},
		{"list", []any{[]any{"a:1", "b:2"}, "a:1,b:2", "a:1, b:2"}, "a:1,b:2"},
		{"host:port", []any{"127.0.0.1:0"}, "127.0.0.1:0"},
		{"string", []any{nil, ""}, ""},
	} {
		for _, in := range c.in {
			got, err := canonicalValue(c.kind, in)
			if err != nil || got != c.want {
				t.Errorf("canonicalValue(%s, %#v) = %q, %v; want %q", c.kind, in, got, err, c.want)
			}
		}
	}
	for _, c := range []struct {
		kind string
		in   any
	}{
		{"int", "two"}, {"int", 1.5}, {"int", []any{1}}, {"bytes", "12XB"}, {"bool", "yes please"},
		{"duration", 30}, {"list", map[string]any{"a": 1}}, {"list", []any{[]any{"nested"}}}, {"string", map[string]any{}},
	} {
		if got, err := canonicalValue(c.kind, c.in); err == nil {
			t.Errorf("canonicalValue(%s, %#v) = %q, want an error", c.kind, c.in, got)
		}
	}
}

func TestJSONValue(t *testing.T) {
	for _, c := range []struct{ kind, canon, want string }{
		{"int", "-1", "-1"}, {"bytes", "536870912", "536870912"}, {"bool", "false", "false"},
		{"list", "", "[]"}, {"list", "a:1,b:2", `["a:1","b:2"]`}, {"duration", "2m0s", `"2m0s"`}, {"string", `a "b"`, `"a \"b\""`},
	} {
		if got := string(jsonValue(c.kind, c.canon)); got != c.want {
			t.Errorf("jsonValue(%s, %q) = %s, want %s", c.kind, c.canon, got, c.want)
		}
	}
}

func TestDiffConfig(t *testing.T) {
	cs := clusterSettings{
		schema: map[string]settingSchema{
			"a": {Type: "int", Default: "0"}, "b": {Type: "bytes", Default: "1KiB"}, "c": {Type: "string", Default: "x"},
			"d": {Type: "list"},
		},
		values: map[string]any{"a": json.Number("3"), "b": json.Number("1024"), "c": "y", "d": []any{}},
	}
	file := map[string]any{"a": 3, "b": "2KiB", "d": []any{"h:1"}}
	got, err := diffConfig(cs, file, "f.yaml")
	want := []configChange{
		{Key: "b", Action: "set", Current: "1024", New: "2048", kind: "bytes"},
		{Key: "c", Action: "reset", Current: "y", New: "x", kind: "string"},
		{Key: "d", Action: "set", Current: "", New: "h:1", kind: "list"},
	}
	if err != nil || len(got) != len(want) {
		t.Fatalf("diffConfig = %+v, %v; want %+v", got, err, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Unknown keys and bad values are reported together.
	_, err = diffConfig(cs, map[string]any{"a": "x", "zz": 1}, "f.yaml")
	if !errors.Is(err, ErrUnknownSetting) || !errors.Is(err, ErrConfigFile) || !strings.Contains(err.Error(), `"zz"`) ||
		!strings.Contains(err.Error(), "a: want an integer") {
		t.Errorf("bad file: %v", err)
	}
}

func TestParseConfigFile(t *testing.T) {
	if m, err := parseConfigFile([]byte("# c\na: 1\nb: [x, y]\n"), "f"); err != nil || len(m) != 2 {
		t.Errorf("parse: %v %v", m, err)
	}
	for _, in := range []string{"", "# only comments\n", "- a\n- b\n", "a: [\n", "a: 1\na: 2\n", "{}\n"} {
		if _, err := parseConfigFile([]byte(in), "f"); !errors.Is(err, ErrConfigFile) {
			t.Errorf("parse %q: %v, want ErrConfigFile", in, err)
		}
	}
}

func TestWrapWords(t *testing.T) {
	got := wrapWords("aaa bb c dddddddddd e", 6)
	want := []string{"aaa bb", "c", "dddddddddd", "e"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("wrapWords = %q, want %q", got, want)
	}
}
