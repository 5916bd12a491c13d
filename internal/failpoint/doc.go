// Package failpoint injects faults at named places inside the broker, for
// the chaos harness (CHAOS.md §2.4 crash-points, §2.5 negative control).
//
// It is compiled in only with the build tag `failpoints`:
//
//	go build -tags failpoints ./cmd/petrel     # a broker with failpoints
//	go build ./cmd/petrel                      # production: no failpoints
//
// Without the tag every function here is an empty, inlinable body that
// returns the zero Action (off), so a call site such as
//
//	if failpoint.Inject("storage/skip-fsync").Skip() {
//	    return nil
//	}
//
// compiles to nothing: the inlined zero value makes the condition a
// constant false and the branch is dropped (TestNoTagInlines checks the
// compiler's inlining decisions; BenchmarkInject measures the call).
//
// # Names
//
// Every failpoint is declared once in Points (name, call site, what each
// action does there); a name not in the table is refused by Set and by the
// environment, and TestCallSitesDeclared fails on a call site whose name is
// missing from it.
//
//	storage/skip-fsync           internal/vfs: the OS file's Sync and Datasync return nil without syncing (skip)
//	kafka/ack-before-commit      internal/partition: Produce acknowledges right after proposing, before the commit (on)
//	storage/before-journal-sync  internal/storage/journal: a round's bytes are written, not yet fdatasync'd (panic, sleep)
//	storage/after-journal-sync   internal/storage/journal: a round's fdatasync returned, nothing acknowledged yet (panic, sleep)
//	raft/before-hardstate        internal/partition: a Raft Ready's entries are staged in memory, its hard state not yet (panic, sleep)
//
// # Actions
//
// A failpoint's action is a spec, a chain of terms evaluated one per call:
//
//	spec   = term { "->" term }
//	term   = [ count "*" ] action
//	action = "off" | "on" | "skip" | "error"
//	       | "panic" [ "(" ms ")" ]          sleep ms first (default 0), then panic
//	       | "sleep(" ms ")"                 sleep, then carry on as if off
//	       | "clock-offset(" seconds ")"     a wall-clock offset for the caller (may be negative)
//
// A term with a count covers that many calls, then the next term takes
// over; a term without a count lasts for ever and must be the last one.
// When every counted term is used up the failpoint is off again. Examples:
//
//	panic                      every call panics
//	20*off->panic              the 21st call panics (a crash "at a random moment": pick the count)
//	10*off->1*panic(300)       the 11th call sleeps 300 ms, then panics; later calls (none) are off
//	3*sleep(50)                the next three calls sleep 50 ms
//
// Inject carries out panic and sleep itself; on, skip, error and
// clock-offset are returned to the call site, which decides what they
// mean there (Action.On, Skip, Err, ClockOffset). A panic's value is a
// Crash, whose message starts "failpoint <name>: injected crash", so a
// harness scanning the broker's log can tell an injected crash from a real
// one (IsCrashLine).
//
// # Configuring a broker built with the tag
//
// At start, from the environment (read before anything else runs, so a
// failpoint can fire during recovery): PETRELFP_<NAME>=spec, where <NAME>
// is the name upper-cased with every '/' and '-' turned into '_'
// (EnvName). The prefix is not PETREL_ because the configuration refuses
// unknown PETREL_* variables. An unknown PETRELFP_ variable or a bad spec
// stops the process at start with the reason.
//
//	PETRELFP_KAFKA_ACK_BEFORE_COMMIT=on PETRELFP_STORAGE_SKIP_FSYNC=skip petrel serve …
//
// While running, through the admin API (internal/node/admin_failpoints.go,
// only in the tagged build; the production binary has no such endpoint):
//
//	GET /v1/failpoints                      every failpoint: name, spec, hits
//	GET /v1/failpoints/{name}               one failpoint
//	PUT /v1/failpoints/{name}   body: spec  set it ("off" disarms)
//
//	curl -X PUT --data '20*off->panic' localhost:9644/v1/failpoints/storage/before-journal-sync
//
// # State
//
// The registry is process-wide state: a call site deep in the VFS has no
// handle to pass one through, and failpoints exist to reach such places.
// It is the one deliberate package global of the module, present only in
// the tagged build. Inject is safe from any goroutine; when no failpoint
// is armed it costs one atomic load.
package failpoint
