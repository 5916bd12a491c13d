package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Deps are everything a command touches outside itself. Tests build their
// own (buffers, a temp config dir, a fixed environment); main uses OSDeps.
type Deps struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// StderrTerminal: Stderr is a terminal, where status lines (status.go)
	// update in place; elsewhere they are plain lines, seconds apart.
	StderrTerminal bool
	// StdoutTerminal: Stdout is a terminal (consume then clears the status
	// line before printing records, when both share the screen).
	StdoutTerminal bool
	// Getenv reads the environment (os.Getenv).
	Getenv func(string) string
	// ConfigDir is the user's config dir (os.UserConfigDir); profiles live
	// in <ConfigDir>/petrel/profiles.yaml.
	ConfigDir func() (string, error)
	// NewKafka builds a Kafka client for the resolved settings (nil: kgo
	// with the settings' seed brokers). opts are the command's own options.
	NewKafka func(s Settings, opts ...kgo.Opt) (*kgo.Client, error)
	// HTTP reaches the admin API (nil: a client with a 10 s timeout).
	HTTP *http.Client
	// Now is the clock (nil: time.Now); used for status line pacing only.
	Now func() time.Time
}

// OSDeps are the process's own standard streams, environment and config dir.
func OSDeps() Deps {
	return Deps{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		StderrTerminal: isTerminal(os.Stderr), StdoutTerminal: isTerminal(os.Stdout),
		Getenv:    os.Getenv,
		ConfigDir: os.UserConfigDir,
	}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (d Deps) withDefaults() Deps {
	if d.Stdin == nil {
		d.Stdin = strings.NewReader("")
	}
	if d.Stdout == nil {
		d.Stdout = io.Discard
	}
	if d.Stderr == nil {
		d.Stderr = io.Discard
	}
	if d.Getenv == nil {
		d.Getenv = func(string) string { return "" }
	}
	if d.ConfigDir == nil {
		d.ConfigDir = os.UserConfigDir
	}
	if d.NewKafka == nil {
		d.NewKafka = defaultKafka
	}
	if d.HTTP == nil {
		d.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d
}

func defaultKafka(s Settings, opts ...kgo.Opt) (*kgo.Client, error) {
	base := []kgo.Opt{kgo.SeedBrokers(s.Brokers...), kgo.ClientID("petrel-cli"), kgo.DialTimeout(5 * time.Second)}
	return kgo.NewClient(append(base, opts...)...)
}

// Commands returns the operator CLI's top-level commands: topic, group,
// cluster, broker and profile. Each carries the connection and output flags.
func Commands(d Deps) []*cobra.Command {
	d = d.withDefaults()
	return []*cobra.Command{topicCommand(d), groupCommand(d), clusterCommand(d), brokerCommand(d), profileCommand(d)}
}

// env is one command line's view: its deps and the flags shared by all.
type env struct {
	d       Deps
	conn    connFlags
	format  string // text, json, yaml
	timeout time.Duration
}

// group builds a top-level command whose subcommands share env's flags.
func (d Deps) group(use, short, long string) (*cobra.Command, *env) {
	e := &env{d: d}
	cmd := &cobra.Command{Use: use, Short: short, Long: long, Args: cobra.NoArgs}
	pf := cmd.PersistentFlags()
	pf.StringSliceVar(&e.conn.Brokers, "brokers", nil, "Kafka addresses, comma-separated (env "+EnvBrokers+"; default "+DefaultBrokers+")")
	pf.StringVar(&e.conn.AdminURL, "admin-url", "", "admin API URL (env "+EnvAdminURL+"; default "+DefaultAdminURL+")")
	pf.StringArrayVarP(&e.conn.X, "X", "X", nil, "connection setting key=value, repeatable:"+xHelp())
	pf.StringVar(&e.conn.Profile, "profile", "", "profile to use (env "+EnvProfile+"; default: the current one)")
	pf.StringVar(&e.format, "format", "text", "output format: text, json or yaml")
	pf.DurationVar(&e.timeout, "timeout", 15*time.Second, "time limit of a request (not of consume)")
	return cmd, e
}

// run wraps a command body: it checks the output format, bounds the
// context by --timeout unless unbounded, and explains the error.
func (e *env) run(unbounded bool, fn func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if _, err := parseFormat(e.format); err != nil {
			return err
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		if !unbounded && e.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, e.timeout)
			defer cancel()
		}
		return explain(fn(ctx, args))
	}
}

// settings resolves the connection settings of this command line.
func (e *env) settings() (Settings, error) {
	dir, err := e.d.ConfigDir()
	var file *profileFile
	if err == nil {
		if file, err = loadProfiles(dir); err != nil {
			return Settings{}, err
		}
	}
	s, _, err := resolve(e.conn, e.d.Getenv, file)
	return s, err
}

// kafka returns a Kafka client and its admin view; close the client.
func (e *env) kafka(opts ...kgo.Opt) (*kgo.Client, *kadm.Client, error) {
	s, err := e.settings()
	if err != nil {
		return nil, nil, err
	}
	if err := s.usable(); err != nil {
		return nil, nil, err
	}
	cl, err := e.d.NewKafka(s, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("kafka client for %s: %w", strings.Join(s.Brokers, ","), err)
	}
	return cl, kadm.NewClient(cl), nil
}

// out prints v in the chosen format; tables are its text rendering.
func (e *env) out(v any, tables ...table) error {
	f, _ := parseFormat(e.format)
	return render(e.d.Stdout, f, v, tables)
}
