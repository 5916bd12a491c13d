#!/usr/bin/env bash
# Client compatibility suite: runs every client's cases against any Kafka
# bootstrap address (Petrel, kfake, Apache Kafka).
#
#   test/compat/run.sh BOOTSTRAP            e.g. 127.0.0.1:9092
#
# Suites (each a program speaking the same protocol, see compat_common.py):
#   kcat          kcat.sh                    librdkafka's CLI
#   confluent     python_confluent.py        confluent-kafka-python (librdkafka)
#   kafka-python  python_kafka.py            kafka-python 2.0.2 (pure Python)
#   kafkajs       kafkajs/test.js            kafkajs 2.2.4 (pure JS, codec packages)
# Install them with scripts/install-test-deps.sh; a client that is missing
# fails its cases (it is not skipped), so a green run means every client ran.
#
# Prints one line per case, "ok SUITE CASE", "skip SUITE CASE: why" or
# "FAIL SUITE CASE: why", then "compat: N passed, M failed, K skipped";
# exits 1 if any case failed. Each case runs under `timeout`.
#
# Environment:
#   COMPAT_SUITES        suites to run (default: "kcat confluent kafka-python kafkajs")
#   COMPAT_CASE_TIMEOUT  seconds per case (default 60)
#   COMPAT_JOBS          >1 runs the suites in parallel (default 1: in order)
#   COMPAT_LOG_DIR       where each case's stderr is kept (default: a temp dir)
#   COMPAT_RUN_ID        suffix of topic and group names (default: random)
set -uo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 BOOTSTRAP" >&2
	exit 2
fi
B=$1
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
SUITES=${COMPAT_SUITES:-kcat confluent kafka-python kafkajs}
CASE_TIMEOUT=${COMPAT_CASE_TIMEOUT:-60}
JOBS=${COMPAT_JOBS:-1}
LOGS=${COMPAT_LOG_DIR:-$(mktemp -d /tmp/petrel-compat.XXXXXX)}
mkdir -p "$LOGS"
export COMPAT_RUN_ID=${COMPAT_RUN_ID:-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')}
export PYTHONDONTWRITEBYTECODE=1
export KAFKAJS_NO_PARTITIONER_WARNING=1

suite_cmd() {
	case $1 in
	kcat) echo bash "$here/kcat.sh" ;;
	confluent) echo "$PY" "$here/python_confluent.py" ;;
	kafka-python) echo "$PY" "$here/python_kafka.py" ;;
	kafkajs) echo node "$here/kafkajs/test.js" ;;
	*) return 1 ;;
	esac
}

# run_suite SUITE: runs its cases in order, one status line each, also
# appended to $LOGS/SUITE.results for the summary.
run_suite() {
	local suite=$1 cmd cases c rc line err
	local results="$LOGS/$suite.results"
	: >"$results"
	report() { echo "$1" | tee -a "$results"; }
	if ! cmd=$(suite_cmd "$suite"); then
		report "FAIL $suite list: unknown suite"
		return
	fi
	if ! cases=$(timeout 30 $cmd --list 2>"$LOGS/$suite.list.err"); then
		report "FAIL $suite list: $(tail -1 "$LOGS/$suite.list.err")"
		return
	fi
	for c in $cases; do
		err="$LOGS/$suite.$c.err"
		timeout -k 5 "$CASE_TIMEOUT" $cmd "$B" "$c" >"$LOGS/$suite.$c.out" 2>"$err" </dev/null
		rc=$?
		line=$(grep -E '^(ok|skip|FAIL) ' "$LOGS/$suite.$c.out" | tail -1)
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			line="FAIL $suite $c: timed out after ${CASE_TIMEOUT}s"
		elif [ -z "$line" ]; then
			line="FAIL $suite $c: exited $rc without a status line: $(tail -1 "$err")"
		elif [ "$rc" -ne 0 ] && [ "${line%% *}" != FAIL ]; then
			line="FAIL $suite $c: exited $rc after: $line"
		fi
		report "$line"
		if [ "${line%% *}" = FAIL ]; then
			tail -5 "$err" | sed 's/^/    /' >&2
		fi
	done
}

start=$SECONDS
echo "compat: bootstrap $B, run $COMPAT_RUN_ID, logs in $LOGS"
# Nothing listening would cost every case its whole timeout: stop at once.
if ! timeout 10 bash -c 'until echo >"/dev/tcp/${1%:*}/${1##*:}"; do sleep 0.2; done' _ "$B" 2>/dev/null; then
	echo "FAIL compat preflight: nothing accepts connections on $B"
	echo "compat: 0 passed, 1 failed, 0 skipped"
	exit 1
fi
# The codec cases ask batchcodec how the stored batches are compressed.
export COMPAT_BATCHCODEC="$LOGS/batchcodec"
if ! (cd "$here/../.." && go build -o "$COMPAT_BATCHCODEC" ./test/compat/batchcodec) >"$LOGS/batchcodec.build.err" 2>&1; then
	echo "compat: cannot build test/compat/batchcodec (codec cases will fail): $(tail -1 "$LOGS/batchcodec.build.err")" >&2
fi
if [ "$JOBS" -gt 1 ]; then
	for s in $SUITES; do
		run_suite "$s" &
	done
	wait
else
	for s in $SUITES; do
		run_suite "$s"
	done
fi

passed=0 failed=0 skipped=0
for s in $SUITES; do
	passed=$((passed + $(grep -c '^ok ' "$LOGS/$s.results")))
	failed=$((failed + $(grep -c '^FAIL ' "$LOGS/$s.results")))
	skipped=$((skipped + $(grep -c '^skip ' "$LOGS/$s.results")))
done
echo "compat: took $((SECONDS - start))s"
echo "compat: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
