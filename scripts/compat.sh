#!/usr/bin/env bash
# Runs the client compatibility suite (test/compat) against the real
# broker: builds bin/petrel, starts `petrel serve` on free loopback ports
# with a fresh data directory, waits for /v1/status/ready, runs the
# suite, then stops the broker (its PID only) with SIGTERM and checks it
# exits cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
mkdir -p bin
$GO build -o bin/petrel ./cmd/petrel
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kport=$(free_port)
aport=$(free_port)
data=$(mktemp -d /tmp/petrel-compat-data.XXXXXX)
log=bin/compat-petrel.log
bin/petrel serve --data-dir "$data" --kafka-addr "127.0.0.1:$kport" --admin-addr "127.0.0.1:$aport" >"$log" 2>&1 &
pid=$!
cleanup() {
	if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
	rm -rf "$data"
}
trap cleanup EXIT
for i in $(seq 1 100); do
	if /usr/bin/python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
		"http://127.0.0.1:$aport/v1/status/ready" >/dev/null 2>&1; then break; fi
	if ! kill -0 "$pid" 2>/dev/null || [ "$i" = 100 ]; then
		echo "compat: petrel did not become ready:"; cat "$log"; exit 1
	fi
	sleep 0.1
done
status=0
test/compat/run.sh "127.0.0.1:$kport" || status=$?
kill -TERM "$pid"
for i in $(seq 1 300); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
	echo "compat: petrel did not stop within 30 s of SIGTERM"; status=1
else
	wait "$pid" || { echo "compat: petrel exited with an error:"; tail -20 "$log"; status=1; }
fi
exit $status
