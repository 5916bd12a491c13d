// Package config declares every node setting once and merges them from
// flags, environment, file and defaults into one typed Config.
//
// # One declaration per setting
//
// settings.go holds the table (after redpanda's config/configuration.cc and
// nats-server's opts.go). Each Setting has a file key (snake_case), a flag
// (the same name in kebab-case, rpk's names: --data-dir, --kafka-addr,
// --advertise-kafka-addr, --admin-addr, --rpc-addr, --node-id, --seeds,
// --config, --memory, --shards or --smp, --direct-io, --auto-create-topics),
// an environment variable PETREL_<NAME>, a kind, a doc line, a default,
// bounds and extra validation, and whether a change needs a restart. Flag
// help, validation, the admin API (Declarations, Config.Value) and docs all
// read the same table, so they cannot drift. Adding a setting is one entry
// in the table and one field in Config.
//
// # Precedence and sources
//
//	flag --memory 2GiB        highest
//	env  PETREL_MEMORY=2GiB
//	file petrel.yaml:  memory: 2GiB
//	default                   lowest
//
// The file is YAML, a flat mapping of setting names to values:
//
//	data_dir: /var/lib/petrel
//	kafka_addr: 0.0.0.0:9092
//	advertise_kafka_addr: broker-1.example.com:9092
//	seeds: [10.0.0.1:33145, 10.0.0.2:33145]
//	memory: 4GiB
//	direct_io: true
//
// It is petrel.yaml in the working directory when present, or the file
// named by --config or PETREL_CONFIG (which must then exist).
//
// # Kinds
//
//	string     any text (some settings restrict it: log_level)
//	int        decimal
//	bool       true/false, 1/0, t/f (YAML's yes/no are rejected: ambiguous)
//	duration   Go syntax: 500ms, 30s, 5m
//	bytes      1073741824, 512MiB, 1GiB, 1G (= GiB, as rpk --memory), 1GB (= 10^9), 1.5GiB
//	list       comma-separated in flags and env (flags may repeat), a sequence in YAML
//	host:port  an empty host or 0.0.0.0 means all interfaces
//
// # Errors
//
// Start-up fails on any unknown key (file key, PETREL_* variable or flag)
// and any bad value, all reported at once. Each error is an *Error naming
// the key, the value, the source and the bound:
//
//	config: memory = "12XB" (from file petrel.yaml:3): invalid value: want a size like 1073741824, 512MiB or 1GiB
//	config: shards = "5000" (from flag --shards): out of range: want [0, 1024]
//	config: env PETREL_MEMROY: unknown setting "PETREL_MEMROY" (did you mean "PETREL_MEMORY"?)
//
// and wraps ErrUnknownKey, ErrInvalid or ErrOutOfRange for errors.Is.
//
// # Use
//
//	flags := config.RegisterFlags(cmd.Flags())   // when building the command
//	cfg, err := flags.Load(os.Environ())          // in RunE, after cobra parsed
//
// Resolve(Input) is the pure core that Load calls; tests and the embedding
// API use it directly. The advertised Kafka address, when unset, is
// kafka_addr with 127.0.0.1 in place of an all-interfaces host, so a
// broker started with no arguments is reachable at 127.0.0.1:9092.
package config
