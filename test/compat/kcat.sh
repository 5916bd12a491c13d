#!/usr/bin/env bash
# kcat (librdkafka's command line client) cases of the compatibility suite.
#
#   kcat.sh --list | BOOTSTRAP CASE     (protocol: see compat_common.py)
#
# kcat has no admin API, so topics are created, deleted and committed
# offsets read through python_confluent.py --admin. kcat cannot set a
# record's timestamp when producing: produce_consume checks that the
# timestamps kcat sets lie within the produce window, and
# consume_timestamps checks that kcat reads back the explicit timestamps
# another client (confluent-kafka) set. Every kcat call is bounded by
# `timeout`, every wait by a deadline.
set -uo pipefail

SUITE=kcat
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
CASES=(produce_consume consume_timestamps codec_none codec_gzip codec_snappy codec_lz4 codec_zstd
	acks_all acks_1 acks_0 idempotence group_rebalance metadata)

if [ "${1:-}" = "--list" ]; then
	printf '%s\n' "${CASES[@]}"
	exit 0
fi
known=0
for c in "${CASES[@]}"; do
	[ "${2:-}" = "$c" ] && known=1
done
if [ $# -ne 2 ] || [ $known -eq 0 ]; then
	echo "usage: $0 --list | BOOTSTRAP CASE" >&2
	exit 2
fi
B=$1
CASE=$2
RUN=${COMPAT_RUN_ID:-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')}
TOPIC="compat-kcat-${CASE//_/-}-$RUN"
work=$(mktemp -d)
created=()
pids=()
exec 3>&1 # the case's one status line goes here, whatever stdout is redirected to

cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for t in "${created[@]}"; do
		timeout 20 "$PY" "$here/python_confluent.py" --admin delete "$B" "$t" >&2 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "FAIL $SUITE $CASE: $*" >&3
	exit 1
}

now_ms() { date +%s%3N; }

kc() { timeout 30 kcat -b "$B" -m 10 "$@"; }

create() { # TOPIC PARTITIONS
	timeout 40 "$PY" "$here/python_confluent.py" --admin create "$B" "$1" "$2" >&2 || fail "create topic $1 (python admin)"
	created+=("$1")
}

# records N FILE: N "key<TAB>value" lines: bytes beyond ASCII (UTF-8, 0x01,
# 0x7f, 0xff) and a compressible tail; no tab or newline inside.
records() {
	awk -v n="$1" 'BEGIN {
		for (i = 0; i < n; i++) {
			tail = ""
			for (j = 0; j < i % 40; j++) tail = tail "petrel"
			printf "k-%d\tv-%d|sp ace|\303\274\342\202\254|\001\177\377|%s\n", i, i, tail
		}
	}' >"$2"
}

# expect FILE: what consuming partition 0 prints as "%o\t%k\t%s\t%h" for
# the records in FILE produced with the headers of produce().
expect() {
	awk -F'\t' '{ printf "%d\t%s\t%s\th-str=hv,h-two=second\n", NR - 1, $1, $2 }' "$1"
}

produce() { # TOPIC FILE kcat-options...
	local t=$1 f=$2
	shift 2
	kc -P -t "$t" -p 0 -K '\t' -H h-str=hv -H h-two=second "$@" <"$f" >&2 || fail "kcat produce exited $?"
}

consume() { # TOPIC FORMAT
	kc -C -t "$1" -p 0 -o beginning -e -q -f "$2" || fail "kcat consume exited $?"
}

# roundtrip N kcat-producer-options...: produce N records to partition 0,
# read them back, compare byte for byte (offsets dense from 0, keys,
# values, headers) and check kcat's timestamps lie in the produce window.
roundtrip() {
	local n=$1
	shift
	create "$TOPIC" 1
	records "$n" "$work/in"
	local t0 t1
	t0=$(now_ms)
	produce "$TOPIC" "$work/in" "$@"
	t1=$(now_ms)
	consume "$TOPIC" '%T\t%o\t%k\t%s\t%h\n' >"$work/out"
	expect "$work/in" >"$work/want"
	cut -f2- "$work/out" >"$work/got"
	if ! cmp -s "$work/want" "$work/got"; then
		fail "consumed records differ: $(diff "$work/want" "$work/got" | head -c 300 | tr '\n\t\001\177\377' '|    ')"
	fi
	local bad
	bad=$(cut -f1 "$work/out" | awk -v lo="$t0" -v hi="$t1" '$1 < lo - 1000 || $1 > hi + 1000' | head -1)
	[ -z "$bad" ] || fail "timestamp $bad outside the produce window [$t0, $t1]"
}

case_produce_consume() { roundtrip 300 -X acks=all; }

case_consume_timestamps() {
	create "$TOPIC" 1
	timeout 40 "$PY" "$here/python_confluent.py" --admin produce "$B" "$TOPIC" 100 >"$work/want" ||
		fail "confluent-kafka produce (python admin helper)"
	consume "$TOPIC" '%o %T %k\n' >"$work/got"
	cmp -s "$work/want" "$work/got" || fail "offsets/timestamps/keys differ: $(diff "$work/want" "$work/got" | head -c 300 | tr '\n' '|')"
}

# codec CODEC: the roundtrip, then every stored batch must be in CODEC
# (batchcodec exits 3 with "skip: why" when librdkafka fell back to none
# because of the broker's API versions).
codec() {
	roundtrip 200 -X compression.codec="$1" -X linger.ms=20
	[ -n "${COMPAT_BATCHCODEC:-}" ] || fail "COMPAT_BATCHCODEC is not set: run through test/compat/run.sh"
	local msg rc
	msg=$(timeout 40 "$COMPAT_BATCHCODEC" -want "$1" "$B" "$TOPIC" 0 200 2>&1)
	rc=$?
	case $rc in
	0) echo "codec $1: $msg" >&2 ;;
	3)
		echo "skip $SUITE $CASE: ${msg#skip: }" >&3
		exit 0
		;;
	*) fail "$msg" ;;
	esac
}
case_codec_none() { codec none; }
case_codec_gzip() { codec gzip; }
case_codec_snappy() { codec snappy; }
case_codec_lz4() { codec lz4; }
case_codec_zstd() { codec zstd; }

case_acks_all() { roundtrip 100 -X acks=all; }
case_acks_1() { roundtrip 100 -X acks=1; }
case_acks_0() { roundtrip 100 -X acks=0; }
case_idempotence() { roundtrip 300 -X enable.idempotence=true -X max.in.flight.requests.per.connection=5; }

case_metadata() {
	create "$TOPIC" 3
	kc -L -t "$TOPIC" >"$work/md" || fail "kcat -L exited $?"
	grep -q "topic \"$TOPIC\" with 3 partitions" "$work/md" || fail "kcat -L: $(tr '\n' '|' <"$work/md" | head -c 300)"
	kc -L >"$work/all" || fail "kcat -L (all topics) exited $?"
	grep -q "topic \"$TOPIC\"" "$work/all" || fail "kcat -L lists no $TOPIC"
}

# wait_for WHAT SECONDS COMMAND...: polls COMMAND until it succeeds.
wait_for() {
	local what=$1 deadline=$((SECONDS + $2))
	shift 2
	until "$@"; do
		[ $SECONDS -lt $deadline ] || fail "timed out waiting for $what"
		sleep 0.1
	done
}

# assigned ERRFILE: the partitions of the member's latest assignment.
assigned() {
	grep 'rebalanced' "$1" | tail -1 | grep 'assigned:' | grep -o '\[[0-9]*\]' | tr -d '[]' | sort -n | tr '\n' ' '
}

split_done() {
	local a b
	a=$(assigned "$work/a.err")
	b=$(assigned "$work/b.err")
	[ -n "$a" ] && [ -n "$b" ] && [ "$(echo $a $b | tr ' ' '\n' | sort -n | tr '\n' ' ')" = "0 1 2 3 " ]
}

lines_at_least() { [ "$(cat "$@" | wc -l)" -ge "$N" ]; }

committed_all() { # WANT: every partition's committed offset
	timeout 20 "$PY" "$here/python_confluent.py" --admin committed "$B" "$TOPIC-g" "$TOPIC" 4 >"$work/committed" 2>/dev/null &&
		[ "$(awk -v w="$1" '$2 == w' "$work/committed" | wc -l)" -eq 4 ]
}

member() { # NAME: starts a group member in the background; its PID is $!
	timeout 90 kcat -b "$B" -G "$TOPIC-g" -X auto.offset.reset=earliest -X auto.commit.interval.ms=200 \
		-X session.timeout.ms=6000 -X heartbeat.interval.ms=500 -X partition.assignment.strategy=range \
		-u -f '%p %o\n' "$TOPIC" >"$work/$1.out" 2>"$work/$1.err" &
	pids+=($!)
}

produce_each() { # N per partition
	local p
	for p in 0 1 2 3; do
		records "$1" "$work/p$p"
		kc -P -t "$TOPIC" -p "$p" -K '\t' <"$work/p$p" >&2 || fail "kcat produce to partition $p"
	done
}

case_group_rebalance() {
	create "$TOPIC" 4
	produce_each 10
	local a b
	member a
	a=$!
	N=40 wait_for "member a to read 40 records" 30 lines_at_least "$work/a.out"
	wait_for "member a's commits (10 per partition)" 30 committed_all 10
	member b
	b=$!
	wait_for "partitions split between members a and b" 30 split_done
	echo "assignment a=$(assigned "$work/a.err")b=$(assigned "$work/b.err")" >&2
	produce_each 10
	N=80 wait_for "members to read 80 records" 30 lines_at_least "$work/a.out" "$work/b.out"
	kill -TERM "$a" "$b" 2>/dev/null
	wait "$a" "$b"
	pids=()
	[ -s "$work/b.out" ] || fail "member b consumed nothing"
	local dup
	dup=$(cat "$work/a.out" "$work/b.out" | sort | uniq -d | head -3 | tr '\n' ',')
	[ -z "$dup" ] || fail "records consumed twice (partition offset): $dup"
	local want
	want=$(for p in 0 1 2 3; do for o in $(seq 0 19); do echo "$p $o"; done; done | sort)
	[ "$(cat "$work/a.out" "$work/b.out" | sort)" = "$want" ] || fail "consumed set is not offsets 0..19 of each partition"
	committed_all 20 || fail "committed offsets after close: $(tr '\n' ',' <"$work/committed"), want 20 each"
}

if ! command -v kcat >/dev/null 2>&1; then
	fail "kcat not installed: run scripts/install-test-deps.sh"
fi
"case_$CASE"
echo "ok $SUITE $CASE"
