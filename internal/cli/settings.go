package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/petrel-streaming/petrel/internal/config"
)

// Client environment variables, declared in internal/config with the
// node's settings so that `petrel serve` (which refuses any PETREL_*
// variable it does not know) ignores them.
const (
	EnvBrokers  = config.EnvBrokers  // comma-separated host:port list
	EnvAdminURL = config.EnvAdminURL // http://host:port of the admin API
	EnvProfile  = config.EnvProfile  // the profile to use instead of the current one
)

// Defaults, as a node started with no arguments listens.
const (
	DefaultBrokers  = "127.0.0.1:9092"
	DefaultAdminURL = "http://127.0.0.1:9644"
)

// ErrNotSupported marks settings the CLI declares but cannot use yet.
var ErrNotSupported = errors.New("not supported yet")

// ErrSettings marks a bad connection setting (-X key, profile file, name).
var ErrSettings = errors.New("invalid connection setting")

// Settings say how to reach a cluster. It is also one profile's content in
// profiles.yaml. TLS and SASL are declared for the security work; a client
// asked to use them fails with ErrNotSupported.
type Settings struct {
	Brokers  []string      `yaml:"brokers,omitempty" json:"brokers,omitempty"`
	AdminURL string        `yaml:"admin_url,omitempty" json:"admin_url,omitempty"`
	TLS      *TLSSettings  `yaml:"tls,omitempty" json:"tls,omitempty"`
	SASL     *SASLSettings `yaml:"sasl,omitempty" json:"sasl,omitempty"`
}

// TLSSettings configure TLS to the brokers and the admin API (not used yet).
type TLSSettings struct {
	Enabled            bool   `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	CAFile             string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	CertFile           string `yaml:"cert_file,omitempty" json:"cert_file,omitempty"`
	KeyFile            string `yaml:"key_file,omitempty" json:"key_file,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`
}

// SASLSettings configure SASL authentication (not used yet).
type SASLSettings struct {
	Mechanism string `yaml:"mechanism,omitempty" json:"mechanism,omitempty"` // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	User      string `yaml:"user,omitempty" json:"user,omitempty"`
	Password  string `yaml:"password,omitempty" json:"-"`
}

// xKey is one -X key: its name, doc, and how it sets Settings.
type xKey struct {
	name, doc string
	set       func(s *Settings, v string) error
}

func tlsOf(s *Settings) *TLSSettings {
	if s.TLS == nil {
		s.TLS = &TLSSettings{}
	}
	return s.TLS
}

func saslOf(s *Settings) *SASLSettings {
	if s.SASL == nil {
		s.SASL = &SASLSettings{}
	}
	return s.SASL
}

func setBool(dst *bool, v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("want true or false, not %q", v)
	}
	*dst = b
	return nil
}

// xKeys is the one declaration of -X keys (help text and parsing read it).
var xKeys = []xKey{
	{"brokers", "comma-separated Kafka addresses (host:port)", func(s *Settings, v string) error { s.Brokers = splitList(v); return nil }},
	{"admin.url", "admin API base URL (http://host:port)", func(s *Settings, v string) error { s.AdminURL = v; return nil }},
	{"tls.enabled", "use TLS (not supported yet)", func(s *Settings, v string) error { return setBool(&tlsOf(s).Enabled, v) }},
	{"tls.ca", "CA certificate file (not supported yet)", func(s *Settings, v string) error { tlsOf(s).CAFile = v; return nil }},
	{"tls.cert", "client certificate file (not supported yet)", func(s *Settings, v string) error { tlsOf(s).CertFile = v; return nil }},
	{"tls.key", "client key file (not supported yet)", func(s *Settings, v string) error { tlsOf(s).KeyFile = v; return nil }},
	{"tls.insecure_skip_verify", "skip server certificate checks (not supported yet)", func(s *Settings, v string) error {
		return setBool(&tlsOf(s).InsecureSkipVerify, v)
	}},
	{"sasl.mechanism", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (not supported yet)", func(s *Settings, v string) error { saslOf(s).Mechanism = v; return nil }},
	{"sasl.user", "SASL user (not supported yet)", func(s *Settings, v string) error { saslOf(s).User = v; return nil }},
	{"sasl.password", "SASL password (not supported yet)", func(s *Settings, v string) error { saslOf(s).Password = v; return nil }},
}

func xHelp() string {
	var b strings.Builder
	for _, k := range xKeys {
		fmt.Fprintf(&b, "\n  %-26s %s", k.name, k.doc)
	}
	return b.String()
}

// applyX applies "-X key=value" items to s, in order.
func applyX(s *Settings, items []string) error {
	for _, it := range items {
		name, val, ok := strings.Cut(it, "=")
		if !ok {
			return fmt.Errorf("%w: -X %q: want key=value", ErrSettings, it)
		}
		i := slices.IndexFunc(xKeys, func(k xKey) bool { return k.name == name })
		if i < 0 {
			names := make([]string, len(xKeys))
			for j, k := range xKeys {
				names[j] = k.name
			}
			return fmt.Errorf("%w: -X %s: unknown key (known: %s)", ErrSettings, name, strings.Join(names, ", "))
		}
		if err := xKeys[i].set(s, val); err != nil {
			return fmt.Errorf("%w: -X %s: %v", ErrSettings, name, err)
		}
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// connFlags are the connection flags one command line gave.
type connFlags struct {
	Brokers  []string // --brokers
	AdminURL string   // --admin-url
	X        []string // -X key=value
	Profile  string   // --profile
}

// resolve merges the connection settings: flags > env > profile > defaults.
// getenv reads the environment; file is the profiles file (nil when absent).
// It returns the settings and the name of the profile used ("" for none).
func resolve(fl connFlags, getenv func(string) string, file *profileFile) (Settings, string, error) {
	name := fl.Profile
	if name == "" {
		name = getenv(EnvProfile)
	}
	explicit := name != ""
	if name == "" && file != nil {
		name = file.Current
	}
	var s Settings
	if name != "" {
		p, ok := Settings{}, false
		if file != nil {
			p, ok = file.Profiles[name]
		}
		if !ok && explicit {
			return Settings{}, "", (&profileFile{}).has(name)
		}
		if !ok {
			name = "" // a dangling "current" falls back to the defaults
		}
		s = p.clone()
	}
	if v := getenv(EnvBrokers); v != "" {
		s.Brokers = splitList(v)
	}
	if v := getenv(EnvAdminURL); v != "" {
		s.AdminURL = v
	}
	if err := applyX(&s, fl.X); err != nil {
		return Settings{}, "", err
	}
	if len(fl.Brokers) > 0 {
		s.Brokers = splitList(strings.Join(fl.Brokers, ","))
	}
	if fl.AdminURL != "" {
		s.AdminURL = fl.AdminURL
	}
	if len(s.Brokers) == 0 {
		s.Brokers = []string{DefaultBrokers}
	}
	if s.AdminURL == "" {
		s.AdminURL = DefaultAdminURL
	}
	if !strings.Contains(s.AdminURL, "://") {
		s.AdminURL = "http://" + s.AdminURL
	}
	s.AdminURL = strings.TrimRight(s.AdminURL, "/")
	return s, name, nil
}

func (s Settings) clone() Settings {
	c := s
	c.Brokers = slices.Clone(s.Brokers)
	if s.TLS != nil {
		t := *s.TLS
		c.TLS = &t
	}
	if s.SASL != nil {
		a := *s.SASL
		c.SASL = &a
	}
	return c
}

// usable reports ErrNotSupported when s asks for TLS or SASL.
func (s Settings) usable() error {
	if s.TLS != nil && (s.TLS.Enabled || s.TLS.CAFile != "" || s.TLS.CertFile != "" || s.TLS.KeyFile != "") {
		return fmt.Errorf("TLS is %w: remove the tls settings from the profile or -X flags (the broker serves plaintext)", ErrNotSupported)
	}
	if s.SASL != nil && (s.SASL.Mechanism != "" || s.SASL.User != "") {
		return fmt.Errorf("SASL is %w: remove the sasl settings from the profile or -X flags (the broker does not authenticate)", ErrNotSupported)
	}
	return nil
}

// profileFile is profiles.yaml in <user config dir>/petrel:
//
//	current: dev
//	profiles:
//	  dev:
//	    brokers: [127.0.0.1:9092]
//	    admin_url: http://127.0.0.1:9644
//	  prod:
//	    brokers: [10.0.0.1:9092, 10.0.0.2:9092]
//	    tls: {enabled: true, ca_file: /etc/petrel/ca.pem}
type profileFile struct {
	Current  string              `yaml:"current,omitempty"`
	Profiles map[string]Settings `yaml:"profiles,omitempty"`
}

func profilePath(dir string) string { return filepath.Join(dir, "petrel", "profiles.yaml") }

// loadProfiles reads the profiles file under dir; a missing file is empty.
func loadProfiles(dir string) (*profileFile, error) {
	path := profilePath(dir)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &profileFile{}, nil
	}
	if err != nil {
		return nil, err
	}
	return parseProfiles(data, path)
}

// parseProfiles decodes a profiles file strictly (unknown keys are errors).
func parseProfiles(data []byte, path string) (*profileFile, error) {
	f := &profileFile{}
	if len(strings.TrimSpace(string(data))) == 0 {
		return f, nil
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrSettings, path, err)
	}
	return f, nil
}

// saveProfiles writes the file atomically (temp file, rename), mode 0600:
// profiles may hold SASL passwords.
func saveProfiles(dir string, f *profileFile) error {
	path := profilePath(dir)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, err := yaml.Marshal(f)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
