package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Input is everything a configuration is merged from. Resolve does no I/O
// with it; Load fills it from the process.
type Input struct {
	Flags    []FlagValue // flags given on the command line, in order
	Env      []string    // "NAME=value", as os.Environ returns
	File     []byte      // contents of the configuration file, if any
	FileName string      // its path, for messages and Config.ConfigFile
}

// FlagValue is one flag as given: its name without "--" and its text.
type FlagValue struct {
	Name, Value string
}

// raw is one candidate value with where it came from.
type raw struct {
	text   string
	list   []string // a YAML sequence, for list settings
	isList bool
	src    Source
}

func (r raw) String() string {
	if r.isList {
		return strings.Join(r.list, ",")
	}
	return r.text
}

// Resolve merges in over the defaults with precedence flags > env > file >
// defaults, validates every value against its declaration, and returns
// the typed result. It reports every bad setting at once (errors.Join of
// *Error), each naming the key, the source and the bound it broke.
func Resolve(in Input) (*Config, error) {
	decls := declarations()
	byName := make(map[string]int, len(decls))
	byEnv := make(map[string]int, len(decls))
	byFlag := make(map[string]int, len(decls))
	values := make([]raw, len(decls))
	for i, d := range decls {
		byName[d.Name], byEnv[d.Env], byFlag[d.Flag] = i, i, i
		for _, a := range d.Aliases {
			byFlag[a] = i
		}
		values[i] = raw{text: d.Default, src: Source{Kind: FromDefault}}
	}
	var errs []error
	if len(in.File) > 0 {
		errs = append(errs, parseFile(in.File, in.FileName, decls, byName, values)...)
	}
	for _, kv := range in.Env {
		name, val, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "PETREL_") || slices.Contains(ClientEnv, name) {
			continue
		}
		src := Source{Kind: FromEnv, Name: name}
		i, ok := byEnv[name]
		if !ok {
			errs = append(errs, unknown(name, src, decls, func(s Setting) string { return s.Env }))
			continue
		}
		values[i] = raw{text: val, src: src}
	}
	for _, f := range in.Flags {
		src := Source{Kind: FromFlag, Name: f.Name}
		i, ok := byFlag[f.Name]
		if !ok {
			errs = append(errs, unknown(f.Name, src, decls, func(s Setting) string { return s.Flag }))
			continue
		}
		values[i] = raw{text: f.Value, src: src}
	}
	cfg := &Config{}
	for i := range decls {
		d := &decls[i]
		v, err := d.value(values[i])
		if err != nil {
			errs = append(errs, &Error{Key: d.Name, Source: values[i].src, Value: values[i].String(), Err: err})
			continue
		}
		d.set(cfg, v)
	}
	cfg.ConfigFile = in.FileName
	if err := resolveAdvertised(cfg, values[byName["advertise_kafka_addr"]]); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > maxErrors {
		n := len(errs) - maxErrors
		errs = append(errs[:maxErrors], &Error{Source: Source{Kind: FromFile, Name: in.FileName},
			Err: fmt.Errorf("%w: and %d more errors", ErrInvalid, n)})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// maxErrors bounds the errors reported at once (a garbage file could
// otherwise produce one per line).
const maxErrors = 20

// value parses, bounds-checks and validates one candidate.
func (s *Setting) value(r raw) (any, error) {
	var v any
	var err error
	switch {
	case r.isList:
		v = r.list
	case s.Kind == KindHostPort && s.Default == "" && strings.TrimSpace(r.text) == "":
		v = "" // optional address, derived when empty
	default:
		v, err = parse(s.Kind, r.text)
	}
	if err == nil {
		err = s.inBounds(v)
	}
	if err == nil && s.check != nil {
		err = s.check(v)
	}
	return v, err
}

// resolveAdvertised derives the advertised Kafka address when unset: the
// listener's, with 127.0.0.1 for an all-interfaces host, which no client
// can connect to.
func resolveAdvertised(c *Config, r raw) error {
	if c.KafkaAddr == "" {
		return nil // kafka_addr itself was rejected
	}
	if c.AdvertiseKafkaAddr != "" {
		host, _, _ := net.SplitHostPort(c.AdvertiseKafkaAddr)
		if allInterfaces(host) {
			return &Error{Key: "advertise_kafka_addr", Source: r.src, Value: r.String(),
				Err: fmt.Errorf("%w: clients cannot connect to an all-interfaces address", ErrInvalid)}
		}
		return nil
	}
	host, port, _ := net.SplitHostPort(c.KafkaAddr)
	if allInterfaces(host) {
		host = "127.0.0.1"
	}
	c.AdvertiseKafkaAddr = net.JoinHostPort(host, port)
	return nil
}

func allInterfaces(host string) bool {
	return host == "" || host == "0.0.0.0" || host == "::"
}

// parseFile reads a YAML mapping of setting names to values into values.
func parseFile(b []byte, name string, decls []Setting, byName map[string]int, values []raw) []error {
	fileErr := func(line int, key string, err error) error {
		return &Error{Key: key, Source: Source{Kind: FromFile, Name: name, Line: line}, Err: err}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return []error{fileErr(0, "", fmt.Errorf("%w: %v", ErrInvalid, err))}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return []error{fileErr(extra.Line, "", fmt.Errorf("%w: want one YAML document", ErrInvalid))}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil // an empty document
	}
	if root.Kind != yaml.MappingNode {
		return []error{fileErr(root.Line, "", fmt.Errorf("%w: want a mapping of setting: value", ErrInvalid))}
	}
	var errs []error
	lineOf := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		src := Source{Kind: FromFile, Name: name, Line: k.Line}
		if k.Kind != yaml.ScalarNode {
			errs = append(errs, fileErr(k.Line, "", fmt.Errorf("%w: a key must be a setting name", ErrInvalid)))
			continue
		}
		if first, dup := lineOf[k.Value]; dup {
			errs = append(errs, fileErr(k.Line, "", fmt.Errorf("%w: key %q already defined at line %d", ErrInvalid, k.Value, first)))
			continue
		}
		lineOf[k.Value] = k.Line
		idx, ok := byName[k.Value]
		if !ok {
			errs = append(errs, unknown(k.Value, src, decls, func(s Setting) string { return s.Name }))
			continue
		}
		d := &decls[idx]
		if !d.FileAllowed {
			errs = append(errs, &Error{Key: d.Name, Source: src, Value: v.Value,
				Err: fmt.Errorf("%w: only a flag (--%s) or %s can set it", ErrInvalid, d.Flag, d.Env)})
			continue
		}
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		r, err := fileValue(d, v, src)
		if err != nil {
			errs = append(errs, &Error{Key: d.Name, Source: src, Value: v.Value, Err: err})
			continue
		}
		values[idx] = r
	}
	return errs
}

func fileValue(d *Setting, v *yaml.Node, src Source) (raw, error) {
	switch {
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
		return raw{src: src}, nil
	case v.Kind == yaml.ScalarNode:
		return raw{text: v.Value, src: src}, nil
	case v.Kind == yaml.SequenceNode && d.Kind == KindList:
		r := raw{isList: true, list: []string{}, src: src}
		for _, item := range v.Content {
			if item.Kind != yaml.ScalarNode {
				return raw{}, fmt.Errorf("%w: want a list of plain values", ErrInvalid)
			}
			if s := strings.TrimSpace(item.Value); s != "" {
				r.list = append(r.list, s)
			}
		}
		return r, nil
	}
	return raw{}, fmt.Errorf("%w: want a single %s value", ErrInvalid, d.Kind)
}

// unknown builds the error for a name no setting has, suggesting the
// nearest one.
func unknown(name string, src Source, decls []Setting, key func(Setting) string) error {
	best, bestD := "", 4 // suggest only close matches
	for _, d := range decls {
		if k := key(d); k != "" {
			if dist := editDistance(strings.ToLower(name), strings.ToLower(k)); dist < bestD {
				best, bestD = k, dist
			}
		}
	}
	err := fmt.Errorf("%w %q", ErrUnknownKey, name)
	if best != "" {
		err = fmt.Errorf("%w %q (did you mean %q?)", ErrUnknownKey, name, best)
	}
	return &Error{Key: name, Source: src, Err: err}
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Flags holds the values of the flags RegisterFlags declared, as the
// command line sets them.
type Flags struct {
	seq  int
	vals []*flagValue
}

type flagValue struct {
	f    *Flags
	name string
	kind Kind
	def  string
	text string
	seq  int // order of the last Set among all flags; 0 when unset
}

func (v *flagValue) String() string {
	if v.seq == 0 {
		return v.def
	}
	return v.text
}

func (v *flagValue) Set(s string) error {
	if v.kind == KindList && v.seq != 0 && v.text != "" {
		s = v.text + "," + s // --seeds a --seeds b
	}
	v.f.seq++
	v.text, v.seq = s, v.f.seq
	return nil
}

func (v *flagValue) Type() string { return v.kind.String() }

// RegisterFlags declares a flag for every setting on fs (help text from
// the declaration, bool flags usable bare: --direct-io) and returns the
// handle Load reads them from. Values are validated by Load, not by
// pflag, so a bad flag gets the same message as a bad file value.
func RegisterFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{}
	for _, d := range declarations() {
		for _, name := range append([]string{d.Flag}, d.Aliases...) {
			v := &flagValue{f: f, name: name, kind: d.Kind, def: d.Default}
			usage := d.Doc + " (env " + d.Env + ")"
			if d.Bounds != "" {
				usage += " " + d.Bounds
			}
			if name != d.Flag {
				usage = "alias of --" + d.Flag
			}
			fl := fs.VarPF(v, name, "", usage)
			if d.Kind == KindBool {
				fl.NoOptDefVal = "true"
			}
			f.vals = append(f.vals, v)
		}
	}
	return f
}

// Given returns the flags set on the command line, in the order given.
func (f *Flags) Given() []FlagValue {
	set := make([]*flagValue, 0, len(f.vals))
	for _, v := range f.vals {
		if v.seq != 0 {
			set = append(set, v)
		}
	}
	for i := 1; i < len(set); i++ { // insertion sort by seq: a handful of flags
		for j := i; j > 0 && set[j].seq < set[j-1].seq; j-- {
			set[j], set[j-1] = set[j-1], set[j]
		}
	}
	out := make([]FlagValue, len(set))
	for i, v := range set {
		out[i] = FlagValue{Name: v.name, Value: v.text}
	}
	return out
}

// Load resolves the configuration from the parsed flags, environ and the
// configuration file named by --config, PETREL_CONFIG or, by default,
// petrel.yaml in the working directory (skipped when absent; a file named
// explicitly must exist).
func (f *Flags) Load(environ []string) (*Config, error) {
	in := Input{Flags: f.Given(), Env: environ}
	path, explicit := "petrel.yaml", false
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "PETREL_CONFIG="); ok {
			path, explicit = v, true
		}
	}
	for _, fv := range in.Flags {
		if fv.Name == "config" {
			path, explicit = fv.Value, true
		}
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		in.File, in.FileName = b, path
	case !explicit && errors.Is(err, fs.ErrNotExist):
	default:
		return nil, fmt.Errorf("config: read configuration file: %w", err)
	}
	return Resolve(in)
}

// Value renders the current value of setting name in the syntax of its
// kind, for the admin API and logs.
func (c *Config) Value(name string) (string, bool) {
	for _, d := range declarations() {
		if d.Name == name {
			return format(d.Kind, d.get(c)), true
		}
	}
	return "", false
}
