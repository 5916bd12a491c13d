# Petrel — make targets. `make test` is what CI runs (see .ci/run).
GO        ?= go
PKGS      ?= ./...
TESTFLAGS ?=
FUZZTIME  ?= 50000x

.PHONY: build run test test-long vet lint bench bench-storage fuzz-smoke fuzz clean compat

build:
	$(GO) build -o bin/petrel ./cmd/petrel

# A single node with the defaults: Kafka on :9092, admin on :9644, data in
# ./petrel-data.
run:
	$(GO) run ./cmd/petrel serve

vet:
	$(GO) vet $(PKGS)

lint: vet
	$(GO) test -count=1 ./internal/lint

# The CI suite: vet, then every package under the race detector in short
# mode (long variants of property and crash tests are skipped by -short).
test: vet
	$(GO) test -race -short -count=1 -timeout 15m $(TESTFLAGS) $(PKGS)

# The same tests at full length (more seeds, bigger logs).
test-long: vet
	$(GO) test -race -count=1 -timeout 60m $(TESTFLAGS) $(PKGS)

# Petrel against the raw disk, a broker that acks without storing and kfake
# (scripts/bench.sh; BENCH_SECONDS shortens each scenario, BENCH_RUNS runs).
bench:
	GO=$(GO) ./scripts/bench.sh

# Storage engine against the machine's own limits (issue: storage engine).
bench-storage:
	$(GO) test -run '^$$' -bench 'BenchmarkEngine' -benchtime 1x -count=1 -timeout 30m ./internal/storage/engine

# Each fuzz target briefly (FUZZTIME each: a count like 50000x, or a duration); corpora live in testdata/fuzz.
fuzz-smoke:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz-smoke.sh

fuzz:
	FUZZTIME=10m ./scripts/fuzz-smoke.sh

clean:
	rm -rf bin petrel

# Client compatibility suite (test/compat: kcat, confluent-kafka, kafka-python,
# kafkajs) against franz-go's in-memory kfake broker. Needs the clients:
# scripts/install-test-deps.sh. `make compat` runs it against the real broker.
COMPAT_KFAKE_PORT ?= 19092
.PHONY: compat-kfake
compat-kfake:
	@mkdir -p bin && $(GO) build -o bin/compat-kfake ./test/compat/kfake
	@bin/compat-kfake -port $(COMPAT_KFAKE_PORT) >bin/compat-kfake.log 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null' EXIT; \
	i=0; until grep -q 'kfake listening' bin/compat-kfake.log; do \
		i=$$((i + 1)); if [ $$i -gt 100 ] || ! kill -0 $$pid 2>/dev/null; then \
			echo "compat-kfake: broker did not start:"; cat bin/compat-kfake.log; exit 1; fi; \
		sleep 0.1; done; \
	test/compat/run.sh 127.0.0.1:$(COMPAT_KFAKE_PORT)

# Crash test at length: the real binary killed -9 and restarted 20 times
# (crash_test.go; `make test` runs 3 rounds). PETREL_CRASH_SEED replays.
.PHONY: crash
crash:
	PETREL_CRASH_ROUNDS=20 $(GO) test -run 'TestCrash' -count=1 -timeout 30m -v .

# Client compatibility suite against the real broker (scripts/compat.sh).
compat:
	GO=$(GO) ./scripts/compat.sh

# Chaos harness (CHAOS.md §2, cmd/petrel-chaos). chaos-smoke: the fixed CI
# sequences, one node then a 3-node cluster (`make test` runs them too, as
# test/chaos TestChaosSmoke and TestChaosSmokeCluster); chaos: 10 min of
# random faults on a 3-node cluster, random seed (printed), in a private
# network namespace with network faults when root with nft and unshare
# (netns mode), else in loopback mode without them; chaos-soak: several
# seeds back to back (NODES nodes), stopping at the first failure (its run
# directory is kept and printed).
SEEDS    ?= 1 2 3
DURATION ?= 30m
NODES    ?= 3
.PHONY: chaos-bin chaos-smoke chaos chaos-soak
chaos-bin:
	@mkdir -p bin && $(GO) build -o bin/petrel ./cmd/petrel && $(GO) build -o bin/petrel-chaos ./cmd/petrel-chaos

chaos-smoke: chaos-bin
	bin/petrel-chaos --smoke --binary bin/petrel && bin/petrel-chaos --smoke --nodes 3 --binary bin/petrel

chaos: chaos-bin
	bin/petrel-chaos --nodes 3 --duration 10m --binary bin/petrel

chaos-soak: chaos-bin
	@for s in $(SEEDS); do \
		echo "== chaos-soak seed $$s duration $(DURATION)"; \
		bin/petrel-chaos --seed $$s --nodes $(NODES) --duration $(DURATION) --binary bin/petrel || exit 1; \
	done
