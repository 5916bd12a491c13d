package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

func profileCommand(d Deps) *cobra.Command {
	cmd, e := d.group("profile", "Manage named connection profiles",
		"A profile names a cluster's connection settings (brokers, admin URL, and TLS/SASL fields\n"+
			"for the security work). They live in <user config dir>/petrel/profiles.yaml.\n"+
			"Precedence: flags (--brokers, --admin-url, -X) > env ("+EnvBrokers+", "+EnvAdminURL+")\n"+
			"> profile (--profile, "+EnvProfile+", or the current one) > defaults.")
	cmd.AddCommand(profileCreate(e), profileUse(e), profileList(e), profileDelete(e))
	return cmd
}

// editProfiles loads the file, lets fn change it, and saves it.
func (e *env) editProfiles(fn func(f *profileFile) error) error {
	dir, err := e.d.ConfigDir()
	if err != nil {
		return fmt.Errorf("user config dir: %w", err)
	}
	f, err := loadProfiles(dir)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		return err
	}
	return saveProfiles(dir, f)
}

func validProfileName(name string) error {
	if name == "" || strings.ContainsAny(name, " \t\n/:") {
		return fmt.Errorf("%w: profile name %q: want a non-empty word", ErrSettings, name)
	}
	return nil
}

func profileCreate(e *env) *cobra.Command {
	var noUse bool
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a profile from --brokers, --admin-url and -X, and make it current",
		Args:  cobra.ExactArgs(1),
	}
	cmd.Flags().BoolVar(&noUse, "no-use", false, "do not make the new profile current")
	cmd.RunE = e.run(false, func(_ context.Context, args []string) error {
		name := args[0]
		if err := validProfileName(name); err != nil {
			return err
		}
		var p Settings
		if err := applyX(&p, e.conn.X); err != nil {
			return err
		}
		if len(e.conn.Brokers) > 0 {
			p.Brokers = splitList(strings.Join(e.conn.Brokers, ","))
		}
		if e.conn.AdminURL != "" {
			p.AdminURL = e.conn.AdminURL
		}
		err := e.editProfiles(func(f *profileFile) error {
			if _, ok := f.Profiles[name]; ok {
				return fmt.Errorf("%w: profile %q exists (delete it first)", ErrSettings, name)
			}
			if f.Profiles == nil {
				f.Profiles = map[string]Settings{}
			}
			f.Profiles[name] = p
			if !noUse {
				f.Current = name
			}
			return nil
		})
		if err != nil {
			return err
		}
		return e.out(map[string]any{"created": name, "current": !noUse},
			table{rows: [][]string{{fmt.Sprintf("created profile %q%s", name, map[bool]string{true: " (current)"}[!noUse])}}})
	})
	return cmd
}

func profileUse(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "use NAME", Short: "Make a profile the current one", Args: cobra.ExactArgs(1)}
	cmd.RunE = e.run(false, func(_ context.Context, args []string) error {
		err := e.editProfiles(func(f *profileFile) error {
			if err := f.has(args[0]); err != nil {
				return err
			}
			f.Current = args[0]
			return nil
		})
		if err != nil {
			return err
		}
		return e.out(map[string]string{"current": args[0]}, table{rows: [][]string{{fmt.Sprintf("using profile %q", args[0])}}})
	})
	return cmd
}

// profileRow is one profile as `profile list` prints it.
type profileRow struct {
	Name     string `json:"name" yaml:"name"`
	Current  bool   `json:"current" yaml:"current"`
	Settings `yaml:",inline"`
}

func profileList(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "List profiles (* marks the current one)", Args: cobra.NoArgs}
	cmd.RunE = e.run(false, func(context.Context, []string) error {
		dir, err := e.d.ConfigDir()
		if err != nil {
			return fmt.Errorf("user config dir: %w", err)
		}
		f, err := loadProfiles(dir)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(f.Profiles))
		for n := range f.Profiles {
			names = append(names, n)
		}
		slices.Sort(names)
		rows := []profileRow{}
		t := table{header: []string{"NAME", "BROKERS", "ADMIN-URL", "TLS", "SASL"}}
		for _, n := range names {
			p := f.Profiles[n]
			rows = append(rows, profileRow{Name: n, Current: n == f.Current, Settings: p})
			shown := n
			if n == f.Current {
				shown += "*"
			}
			tls, sasl := "-", "-"
			if p.TLS != nil && p.TLS.Enabled {
				tls = "enabled"
			}
			if p.SASL != nil && p.SASL.Mechanism != "" {
				sasl = p.SASL.Mechanism
			}
			t.add(shown, p.Brokers, p.AdminURL, tls, sasl)
		}
		return e.out(rows, t)
	})
	return cmd
}

func profileDelete(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "delete NAME", Short: "Delete a profile", Args: cobra.ExactArgs(1)}
	cmd.RunE = e.run(false, func(_ context.Context, args []string) error {
		err := e.editProfiles(func(f *profileFile) error {
			if err := f.has(args[0]); err != nil {
				return err
			}
			delete(f.Profiles, args[0])
			if f.Current == args[0] {
				f.Current = ""
			}
			return nil
		})
		if err != nil {
			return err
		}
		return e.out(map[string]string{"deleted": args[0]}, table{rows: [][]string{{fmt.Sprintf("deleted profile %q", args[0])}}})
	})
	return cmd
}

// has reports an error when the file has no profile of that name.
func (f *profileFile) has(name string) error {
	if _, ok := f.Profiles[name]; !ok {
		return fmt.Errorf("%w: profile %q does not exist (see `petrel profile list`)", ErrSettings, name)
	}
	return nil
}
