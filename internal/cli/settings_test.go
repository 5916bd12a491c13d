package cli

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/petrel-streaming/petrel/internal/config"
)

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestResolvePrecedence(t *testing.T) {
	file := &profileFile{Current: "dev", Profiles: map[string]Settings{
		"dev":  {Brokers: []string{"dev:9092"}, AdminURL: "http://dev:9644"},
		"prod": {Brokers: []string{"p1:9092", "p2:9092"}},
	}}
	cases := []struct {
		name        string
		fl          connFlags
		env         func(string) string
		file        *profileFile
		brokers     string
		admin       string
		profileUsed string
	}{
		{"defaults", connFlags{}, envOf(), nil, DefaultBrokers, DefaultAdminURL, ""},
		{"current profile", connFlags{}, envOf(), file, "dev:9092", "http://dev:9644", "dev"},
		{"env profile", connFlags{}, envOf(EnvProfile, "prod"), file, "p1:9092,p2:9092", DefaultAdminURL, "prod"},
		{"flag profile beats env profile", connFlags{Profile: "dev"}, envOf(EnvProfile, "prod"), file, "dev:9092", "http://dev:9644", "dev"},
		{"env beats profile", connFlags{}, envOf(EnvBrokers, "e1:1, e2:2", EnvAdminURL, "e:9644"), file, "e1:1,e2:2", "http://e:9644", "dev"},
		{"-X beats env", connFlags{X: []string{"brokers=x:1", "admin.url=http://x:2/"}}, envOf(EnvBrokers, "e:1"), file, "x:1", "http://x:2", "dev"},
		{"flags beat -X", connFlags{Brokers: []string{"f:1", "f:2"}, AdminURL: "f:3", X: []string{"brokers=x:1"}}, envOf(EnvBrokers, "e:1"), file,
			"f:1,f:2", "http://f:3", "dev"},
		{"dangling current falls back", connFlags{}, envOf(), &profileFile{Current: "gone"}, DefaultBrokers, DefaultAdminURL, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, used, err := resolve(c.fl, c.env, c.file)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(s.Brokers, ","); got != c.brokers || s.AdminURL != c.admin || used != c.profileUsed {
				t.Errorf("got brokers %q admin %q profile %q; want %q %q %q", got, s.AdminURL, used, c.brokers, c.admin, c.profileUsed)
			}
		})
	}
	// Resolving must not change the stored profile.
	if got := file.Profiles["dev"].Brokers; !slices.Equal(got, []string{"dev:9092"}) {
		t.Errorf("profile changed by resolve: %v", got)
	}
}

func TestResolveErrors(t *testing.T) {
	for _, c := range []struct {
		fl   connFlags
		env  func(string) string
		want string
	}{
		{connFlags{Profile: "nope"}, envOf(), `profile "nope" does not exist`},
		{connFlags{}, envOf(EnvProfile, "nope"), `profile "nope" does not exist`},
		{connFlags{X: []string{"brokers"}}, envOf(), "want key=value"},
		{connFlags{X: []string{"broker=a:1"}}, envOf(), "unknown key (known: brokers, admin.url"},
		{connFlags{X: []string{"tls.enabled=maybe"}}, envOf(), "want true or false"},
	} {
		_, _, err := resolve(c.fl, c.env, &profileFile{})
		if !errors.Is(err, ErrSettings) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want ErrSettings with %q", c.fl, err, c.want)
		}
	}
}

func TestTLSAndSASLNotSupported(t *testing.T) {
	for _, x := range []string{"tls.enabled=true", "tls.ca=/ca.pem", "sasl.mechanism=PLAIN", "sasl.user=u"} {
		s, _, err := resolve(connFlags{X: []string{x}}, envOf(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.usable(); !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "not supported yet") {
			t.Errorf("-X %s: usable() = %v, want ErrNotSupported", x, err)
		}
	}
	s, _, _ := resolve(connFlags{X: []string{"tls.enabled=false"}}, envOf(), nil)
	if err := s.usable(); err != nil {
		t.Errorf("tls.enabled=false: %v", err)
	}
}

func TestProfilesFile(t *testing.T) {
	dir := t.TempDir()
	f, err := loadProfiles(dir)
	if err != nil || f.Current != "" || len(f.Profiles) != 0 {
		t.Fatalf("missing file: %+v, %v", f, err)
	}
	want := &profileFile{Current: "a", Profiles: map[string]Settings{
		"a": {Brokers: []string{"h:1"}, TLS: &TLSSettings{Enabled: true, CAFile: "/ca"}, SASL: &SASLSettings{Mechanism: "PLAIN", User: "u", Password: "pw"}},
	}}
	if err := saveProfiles(dir, want); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(profilePath(dir))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("profiles file mode: %v %v", st, err)
	}
	got, err := loadProfiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := got.Profiles["a"]
	if got.Current != "a" || a.TLS == nil || a.TLS.CAFile != "/ca" || a.SASL == nil || a.SASL.Password != "pw" {
		t.Errorf("round trip: %+v", got)
	}
	if err := os.WriteFile(profilePath(dir), []byte("current: a\nprofiles:\n  a:\n    brokerz: [x]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadProfiles(dir); !errors.Is(err, ErrSettings) || !strings.Contains(err.Error(), "brokerz") {
		t.Errorf("unknown key accepted: %v", err)
	}
	if filepath.Base(filepath.Dir(profilePath(dir))) != "petrel" {
		t.Errorf("profiles path %s", profilePath(dir))
	}
}

// The CLI's environment must not stop `petrel serve`, which refuses any
// PETREL_* variable it does not declare.
func TestClientEnvDoesNotBreakServe(t *testing.T) {
	env := []string{EnvBrokers + "=a:1", EnvAdminURL + "=http://a:2", EnvProfile + "=p"}
	if _, err := config.Resolve(config.Input{Env: env}); err != nil {
		t.Fatalf("serve refuses the CLI's env: %v", err)
	}
	// And the check can fail: a misspelt PETREL_ name is still refused.
	if _, err := config.Resolve(config.Input{Env: []string{"PETREL_BROKER=a:1"}}); !errors.Is(err, config.ErrUnknownKey) {
		t.Fatalf("PETREL_BROKER accepted by serve (%v)", err)
	}
}
