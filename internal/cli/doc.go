// Package cli is Petrel's operator CLI (like Redpanda's rpk): the `petrel`
// subcommands other than serve and bench. It is a pure client: it speaks
// the Kafka protocol (franz-go kgo/kadm) and the admin HTTP API, and
// imports nothing of the broker (internal/lint enforces it).
//
// # Command tree
//
//	petrel topic   create|delete|list|describe|alter-config|add-partitions|trim-prefix|produce|consume
//	petrel group   list|describe|delete|seek
//	petrel cluster info|health|config get|set|partitions list|move [--wait]
//	petrel cluster config export [--file F]|import --file F [--dry-run] (admin API)
//	petrel cluster maintenance enable ID [--wait]|disable ID|status (admin API)
//	petrel broker  decommission ID [--wait]|recommission ID|status ID (admin API)
//	petrel profile create|use|list|delete
//	petrel tune    list|check|apply|restore [tuner…] [--dry-run]   (tune.go; the tuners are internal/tune)
//	petrel iotune  measure the data dir's disk, write io-config.yaml
//	petrel check   the node against best practice (OK/WARN/FAIL/SKIP)
//
// # Connection settings
//
// Merged per command line, highest first:
//
//	flags    --brokers a:9092,b:9092  --admin-url http://a:9644  -X key=value
//	env      PETREL_BROKERS, PETREL_ADMIN_URL (serve ignores them)
//	profile  --profile NAME, PETREL_PROFILE, or the current profile
//	defaults 127.0.0.1:9092, http://127.0.0.1:9644
//
// The env names do not start with PETREL_ on purpose: `petrel serve`
// refuses any PETREL_* variable it does not declare (internal/config), so
// a shell exporting the CLI's settings could not start a node otherwise.
// Profiles live in <os.UserConfigDir>/petrel/profiles.yaml (mode 0600):
//
//	current: local
//	profiles:
//	  local:
//	    brokers: [127.0.0.1:9092]
//	    admin_url: http://127.0.0.1:9644
//	  prod:
//	    brokers: [10.0.0.1:9092]
//	    tls: {enabled: true, ca_file: /etc/petrel/ca.pem}
//	    sasl: {mechanism: SCRAM-SHA-256, user: ops, password: secret}
//
// TLS and SASL fields are declared (profiles, -X tls.*, -X sasl.*) but a
// command asked to use them fails with ErrNotSupported until the broker
// serves them.
//
// # Output and errors
//
// Results print as aligned tables (text/tabwriter) or, with --format json
// or yaml, as one document of the same typed values, for scripts. consume
// prints a JSON object per record or a format string (see recfmt.go for the
// verbs; produce reads by the same verbs). A Kafka error is shown by its
// name (kerr), the broker's message and what to do; a command where some
// items failed prints every item's status and returns ErrFailed. main turns
// any error into exit code 1.
//
// Long operations (consume -n, partitions move --wait, broker decommission
// --wait, maintenance enable --wait) show their progress on stderr through
// one status line (status.go): updated in place on a terminal, plain lines
// seconds apart otherwise; a --wait is bounded by --timeout.
//
// cluster config export writes every cluster setting as commented YAML;
// import diffs such a file with the cluster (set, or reset to default for a
// key left out), refuses unknown keys and ill-typed values before sending
// anything, and applies the changes in one PUT (config_io.go).
//
// # Shape
//
// Commands are constructors over Deps (stdin, stdout, stderr, environment,
// config dir, Kafka client factory, HTTP client, clock): tests run them in
// process against an embedded broker and compare transcripts with
// testdata/*.golden (go test -run TestX -update rewrites them). Parsing is
// in pure, table-tested helpers: settings.go (precedence, -X, profiles),
// offsets.go (start|end|N|@time), recfmt.go (record format strings).
package cli
