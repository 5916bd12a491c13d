#!/usr/bin/env bash
# Installs what the client compatibility suite (test/compat) needs on a
# Debian machine: kcat, confluent-kafka-python, kafka-python with its codec
# modules, Node.js + npm, and the pinned kafkajs packages (npm ci from the
# committed package-lock.json); and nftables for the network-partition
# tests. Idempotent: skips whatever is already there.
# Needs root (or sudo) for apt-get. Every network step is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
fi

# Debian packages, each checked by what it provides.
missing=()
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
for pair in confluent_kafka:python3-confluent-kafka kafka:python3-kafka \
	snappy:python3-snappy lz4:python3-lz4 zstandard:python3-zstandard; do
	mod=${pair%%:*}
	pkg=${pair#*:}
	/usr/bin/python3 -c "import $mod" >/dev/null 2>&1 || missing+=("$pkg")
done
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# nft cuts links inside the network namespaces of the partition tests
# (internal/chaos/netfault, test/cluster TestNetsplit).
command -v nft >/dev/null 2>&1 || missing+=(nftables)

if [ ${#missing[@]} -gt 0 ]; then
	echo "install-test-deps: apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	timeout 600 $SUDO apt-get update -q
	timeout 900 $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	echo "install-test-deps: Debian packages present"
fi

# kafkajs and its codecs, exactly as pinned in package-lock.json.
js=test/compat/kafkajs
if [ -d "$js/node_modules/kafkajs" ] && [ "$js/node_modules/.package-lock.json" -nt "$js/package-lock.json" ]; then
	echo "install-test-deps: kafkajs node_modules up to date"
else
	echo "install-test-deps: npm ci in $js"
	(cd "$js" && timeout 600 npm ci --no-audit --no-fund --loglevel=error)
fi
