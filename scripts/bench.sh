#!/usr/bin/env bash
# make bench: Petrel against the machine's own limits, the client's ceiling
# (a broker that acks without storing) and franz-go's kfake (DataDir +
# SyncWrites), in one go. For each of BENCH_RUNS runs (default 3):
#   1. raw disk: write+fdatasync of 1 MiB blocks (MB/s), of 4 KiB (p50/p99)
#   2. for each target (null, kfake, petrel if ./cmd/petrel exists), a fresh
#      process on its own port and data dir:
#        idle RSS; produce 1 KiB acks=all closed-loop on 1 and on 12
#        partitions (peak RSS sampled under that load); open-loop produce at
#        10 MB/s on 1 partition (p50/p99 ack latency from the due time);
#        catch-up consume of the 12-partition topic; CPU over
#        BENCH_IDLE_SECONDS with 1,000 partitions created and no load.
#   3. petrel3 (unless BENCH_CLUSTER=0; needs petrel): a 3-node cluster of
#      `petrel serve` processes on this machine (same disk and cores; data
#      under WORK; Kafka on BENCH_PORT+20..22, admin +30..32, rpc +40..42):
#        first BENCH_FAILOVER_ROUNDS (default 5) failover rounds
#        (`petrel-bench failover`): under an acks=all producer on a
#        1-partition RF 3 topic, kill -9 the partition's leader (from
#        Metadata; only a PID this script started), time kill → first
#        acknowledged write, restart the node and wait for it to be ready.
#        Rounds stop once BENCH_FAILOVER_BUDGET seconds (default 150) have
#        passed. Then produce 1 KiB acks=all closed-loop on 1 and 12
#        partitions (RF 3) and open-loop at 10 MB/s on 1 partition (RF 3),
#        as for the single node. Ratios to the single node of the same run: cluster3_p1,
#        cluster3_p12 (goal ≥ 0.3), cluster3_p50_ratio, cluster3_p99_ratio;
#        failover_p50_ms and failover_max_ms over the run's rounds.
#        BENCH_CLUSTER_FLAGS (default "--shards 1") is added to each node's
#        command line.
#   4. ratios within the run; the final line gives medians over the runs.
# Env: BENCH_SECONDS (each produce scenario, default 10), BENCH_RUNS,
# BENCH_DIR (file system to use), BENCH_PORT (first of three ports; the
# cluster uses BENCH_PORT+20..42), BENCH_IDLE_SECONDS (default 5),
# BENCH_CLUSTER (default 1). A full run takes about 15 minutes (the cluster
# adds about 1.5 minutes per run).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${BENCH_SECONDS:-10}
RUNS=${BENCH_RUNS:-3}
PORT=${BENCH_PORT:-29092}
IDLE=${BENCH_IDLE_SECONDS:-5}
CLUSTER=${BENCH_CLUSTER:-1}
FAILOVER_ROUNDS=${BENCH_FAILOVER_ROUNDS:-5}
FAILOVER_BUDGET=${BENCH_FAILOVER_BUDGET:-150}
read -r -a CLUSTER_FLAGS <<<"${BENCH_CLUSTER_FLAGS:---shards 1}"
GO=${GO:-go}
WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/petrel-bench.XXXXXX")
OUT="$WORK/results"
mkdir -p bin "$OUT"

PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

$GO build -o bin/petrel-bench ./internal/bench/cmd/petrel-bench
TARGETS=(null kfake)
if [ -d cmd/petrel ] && $GO build -o bin/petrel ./cmd/petrel; then
	TARGETS+=(petrel)
else
	echo "bench: ./cmd/petrel missing or not building: petrel skipped, kfake is the subject" >&2
fi
B=bin/petrel-bench
CLK_TCK=$(getconf CLK_TCK)

# start_target NAME ADDR DATADIR: starts it in the background, sets TPID.
start_target() {
	local host=${2%:*} port=${2##*:} i
	if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
		echo "bench: $2 is already in use (set BENCH_PORT)" >&2
		return 1
	fi
	case $1 in
	null) $B peer null --addr "$2" >"$3.log" 2>&1 & ;;
	kfake) $B peer kfake --addr "$2" --data-dir "$3" >"$3.log" 2>&1 & ;;
	petrel) bin/petrel serve --data-dir "$3" --kafka-addr "$2" --admin-addr "127.0.0.1:$((PORT + 10))" --rpc-addr "127.0.0.1:$((PORT + 11))" >"$3.log" 2>&1 & ;;
	esac
	TPID=$!
	PIDS+=("$TPID")
	for i in $(seq 1 300); do
		if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
		kill -0 "$TPID" 2>/dev/null || { cat "$3.log" >&2; return 1; }
		sleep 0.1
	done
	echo "bench: $1 did not listen on $2 within 30 s" >&2
	return 1
}

# The 3-node cluster: node I's addresses, its process (CPID[I]), a start
# that launches without waiting (forming needs every seed up), readiness.
CPID=()
SEEDS=127.0.0.1:$((PORT + 40)),127.0.0.1:$((PORT + 41)),127.0.0.1:$((PORT + 42))
CBROKERS=127.0.0.1:$((PORT + 20)),127.0.0.1:$((PORT + 21)),127.0.0.1:$((PORT + 22))
launch_node() { # I DIR
	bin/petrel serve --node-id "$1" --data-dir "$2/node$1" --kafka-addr "127.0.0.1:$((PORT + 20 + $1))" \
		--admin-addr "127.0.0.1:$((PORT + 30 + $1))" --rpc-addr "127.0.0.1:$((PORT + 40 + $1))" \
		--seeds "$SEEDS" "${CLUSTER_FLAGS[@]}" </dev/null >>"$2/node$1.log" 2>&1 &
	CPID[$1]=$!
	PIDS+=("$!")
}
wait_ready() { # I DIR: /v1/status/ready answers 200 within 60 s
	local i
	for i in $(seq 1 600); do
		curl -sf -m 1 -o /dev/null "http://127.0.0.1:$((PORT + 30 + $1))/v1/status/ready" && return 0
		kill -0 "${CPID[$1]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench: cluster node $1 not ready; its log ends:" >&2
	tail -n 20 "$2/node$1.log" >&2
	return 1
}
json_field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["result"][sys.argv[1]])' "$1"; }

# cluster_run RUN: the petrel3 scenario of one run (results in OUT/RUN-petrel3-*).
cluster_run() {
	local dir=$WORK/petrel3-$1 f=$OUT/$1-petrel3 i r node t0 pids
	mkdir -p "$dir"
	for i in 0 1 2; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$((PORT + 20 + i))") 2>/dev/null; then
			echo "bench: 127.0.0.1:$((PORT + 20 + i)) is already in use (set BENCH_PORT)" >&2
			return 1
		fi
	done
	for i in 0 1 2; do launch_node "$i" "$dir"; done
	for i in 0 1 2; do wait_ready "$i" "$dir" || return 1; done
	: >"$f-failover.json"
	t0=$SECONDS
	for r in $(seq 1 "$FAILOVER_ROUNDS"); do
		[ $((SECONDS - t0)) -lt "$FAILOVER_BUDGET" ] || break
		pids=0=${CPID[0]},1=${CPID[1]},2=${CPID[2]}
		if ! $B failover --brokers "$CBROKERS" --pids "$pids" --timeout 60s --json >"$f-round.json"; then
			echo "  petrel3: failover round $r failed: $(cat "$f-round.json")" >&2
			break
		fi
		cat "$f-round.json" >>"$f-failover.json"
		node=$(json_field killed_node <"$f-round.json")
		wait "${CPID[$node]}" 2>/dev/null || true # reap the killed node
		forget "${CPID[$node]}"
		launch_node "$node" "$dir"
		wait_ready "$node" "$dir" || break
	done
	$B produce --brokers "$CBROKERS" --topic p1 --partitions 1 --replication-factor 3 --duration "${SECS}s" --json >"$f-p1.json" || true
	$B produce --brokers "$CBROKERS" --topic p12 --partitions 12 --replication-factor 3 --duration "${SECS}s" --json >"$f-p12.json" || true
	$B produce --brokers "$CBROKERS" --topic lat --partitions 1 --replication-factor 3 --rate 10000000 --duration "${SECS}s" --json >"$f-lat.json" || true
	for i in 0 1 2; do stop_target "${CPID[$i]}"; done
	CPID=()
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$dir" # BENCH_KEEP keeps the node logs
}

# forget PID: drops a reaped process from PIDS (its PID may be reused).
forget() {
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

stop_target() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	forget "$1"
}

rss_mb() { awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }

# peak_rss PID FILE: samples VmRSS every 0.2 s into FILE (max) until killed.
peak_rss() {
	local max=0 r
	while kill -0 "$1" 2>/dev/null; do
		r=$(rss_mb "$1" 2>/dev/null || echo 0)
		max=$(awk -v a="$max" -v b="$r" 'BEGIN {print (b > a) ? b : a}')
		echo "$max" >"$2"
		sleep 0.2
	done
}

# summary --one PREFIX: one target of one run, absolute figures.
# summary OUT RUNS TARGETS...: per-target medians, then the final line of
# ratios (computed within each run, median over the runs).
summary() {
	python3 - "$@" <<'EOF'
import json, os, statistics, sys

def load(path):
    try:
        with open(path) as f:
            lines = f.read().strip().splitlines()
        d = json.loads(lines[-1])
    except (OSError, ValueError, IndexError):
        return {}
    if d.get("error"):
        print(f"bench: {path}: {d['error']}", file=sys.stderr)
    return d.get("result", d)

def figures(prefix):
    p1, p12, lat, con = (load(f"{prefix}-{s}.json") for s in ("p1", "p12", "lat", "consume"))
    idle, proc = load(f"{prefix}-idle.json"), load(f"{prefix}-proc.json")
    return {
        "p1_mbps": p1.get("mb_per_s"), "p12_mbps": p12.get("mb_per_s"),
        "p1_p50_us": p1.get("latency", {}).get("p50_us"),
        "lat_p50_us": lat.get("latency", {}).get("p50_us"), "lat_p99_us": lat.get("latency", {}).get("p99_us"),
        "lat_mbps": lat.get("mb_per_s"), "consume_mbps": con.get("mb_per_s"),
        "rss_idle_mb": idle.get("rss_idle_mb"), "rss_load_mb": proc.get("rss_load_mb"),
        "idle_cpu_pct": proc.get("idle_cpu_pct"), "rss_idle_1000_mb": proc.get("rss_idle_1000_mb"),
    }

def fmt(v):
    return "na" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))

def ratio(a, b):
    return None if a is None or not b else a / b

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def loads(path):
    try:
        with open(path) as f:
            return [json.loads(l).get("result", {}) for l in f.read().strip().splitlines() if l.strip()]
    except (OSError, ValueError):
        return []

def cluster_figures(prefix):
    p1, p12, lat = (load(f"{prefix}-{s}.json") for s in ("p1", "p12", "lat"))
    acks = sorted(r["to_ack_ms"] for r in loads(f"{prefix}-failover.json") if r.get("to_ack_ms"))
    return {
        "p1_mbps": p1.get("mb_per_s"), "p12_mbps": p12.get("mb_per_s"),
        "lat_p50_us": lat.get("latency", {}).get("p50_us"), "lat_p99_us": lat.get("latency", {}).get("p99_us"),
        "lat_mbps": lat.get("mb_per_s"),
        "failover_rounds": len(acks), "failover_p50_ms": median(acks), "failover_max_ms": max(acks) if acks else None,
    }

if sys.argv[1] == "--cluster":
    print(" ".join(f"{k}={fmt(v)}" for k, v in cluster_figures(sys.argv[2]).items()))
    sys.exit(0)

if sys.argv[1] == "--one":
    print(" ".join(f"{k}={fmt(v)}" for k, v in figures(sys.argv[2]).items()))
    sys.exit(0)

out, runs, targets = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
subject = "petrel" if "petrel" in targets else "kfake"
cluster = subject == "petrel" and any(
    os.path.exists(f"{out}/{r}-petrel3-p1.json") for r in range(1, runs + 1))
per_run, table = [], {t: [] for t in targets}
ctable = []
disks = []
for r in range(1, runs + 1):
    disk = load(f"{out}/{r}-disk.json")
    disks.append(disk)
    f = {t: figures(f"{out}/{r}-{t}") for t in targets}
    for t in targets:
        table[t].append(f[t])
    s, n, k = f[subject], f["null"], f["kfake"]
    raw = disk.get("mb_per_s_1mib")
    ceil = lambda x: None if x is None or raw is None else min(x, raw)
    per_run.append({
        "produce_p1": ratio(s["p1_mbps"], ceil(n["p1_mbps"])),
        "produce_p12": ratio(s["p12_mbps"], ceil(n["p12_mbps"])),
        "vs_kfake_p1": ratio(s["p1_mbps"], k["p1_mbps"]),
        "vs_kfake_p12": ratio(s["p12_mbps"], k["p12_mbps"]),
        "p50_ratio": ratio(s["lat_p50_us"], disk.get("p50_us_4kib")),
        "consume": ratio(s["consume_mbps"], n["consume_mbps"]),
        "rss_idle_mb": s["rss_idle_mb"], "rss_load_mb": s["rss_load_mb"], "idle_cpu_pct": s["idle_cpu_pct"],
    })
    if cluster:
        c = cluster_figures(f"{out}/{r}-petrel3")
        ctable.append(c)
        per_run[-1].update({
            "cluster3_p1": ratio(c["p1_mbps"], s["p1_mbps"]),
            "cluster3_p12": ratio(c["p12_mbps"], s["p12_mbps"]),
            "cluster3_p50_ratio": ratio(c["lat_p50_us"], s["lat_p50_us"]),
            "cluster3_p99_ratio": ratio(c["lat_p99_us"], s["lat_p99_us"]),
            "failover_p50_ms": c["failover_p50_ms"], "failover_max_ms": c["failover_max_ms"],
        })
print(f"medians of {runs} runs (MB/s, µs, MB, % of a core):")
print("  raw    " + " ".join(f"{k}={fmt(median([d.get(k) for d in disks]))}"
                           for k in ("mb_per_s_1mib", "p50_us_4kib", "p99_us_4kib")))
for t in targets:
    print(f"  {t:<6} " + " ".join(f"{k}={fmt(median([x[k] for x in table[t]]))}" for k in table[t][0]))
if cluster:
    print("  petrel3 " + " ".join(f"{k}={fmt(median([x[k] for x in ctable]))}" for k in ctable[0]))
keys = ["produce_p1", "produce_p12", "vs_kfake_p1", "vs_kfake_p12", "p50_ratio", "consume",
        "rss_idle_mb", "rss_load_mb", "idle_cpu_pct"]
if cluster:
    keys += ["cluster3_p1", "cluster3_p12", "cluster3_p50_ratio", "cluster3_p99_ratio", "failover_p50_ms", "failover_max_ms"]
print(f"bench subject={subject} " + " ".join(f"{k}={fmt(median([r[k] for r in per_run]))}" for k in keys))
EOF
}

for run in $(seq 1 "$RUNS"); do
	$B disk --dir "$WORK" --duration "$(( SECS < 4 ? SECS : 4 ))s" --json >"$OUT/$run-disk.json"
	echo "run $run: $(cat "$OUT/$run-disk.json")"
	for i in "${!TARGETS[@]}"; do
		t=${TARGETS[$i]}
		addr=127.0.0.1:$((PORT + i))
		dir=$WORK/$t-$run
		if ! start_target "$t" "$addr" "$dir"; then
			echo "  $t: did not start, skipped (log above)" >&2
			continue
		fi
		pid=$TPID
		f=$OUT/$run-$t
		echo "{\"rss_idle_mb\": $(rss_mb "$pid")}" >"$f-idle.json"
		$B produce --brokers "$addr" --topic p1 --partitions 1 --duration "${SECS}s" --json >"$f-p1.json" || true
		peak_rss "$pid" "$f-rss" &
		sampler=$!
		$B produce --brokers "$addr" --topic p12 --partitions 12 --duration "${SECS}s" --json >"$f-p12.json" || true
		kill "$sampler" 2>/dev/null || true
		wait "$sampler" 2>/dev/null || true
		$B produce --brokers "$addr" --topic lat --partitions 1 --rate 10000000 --duration "${SECS}s" --json >"$f-lat.json" || true
		$B consume --brokers "$addr" --topic p12 --timeout 120s --json >"$f-consume.json" || true
		$B topic --brokers "$addr" --topic idle1000 --partitions 1000 --json >/dev/null || true
		sleep 1 # let the creation settle before measuring idle
		c0=$(cpu_ticks "$pid")
		sleep "$IDLE"
		c1=$(cpu_ticks "$pid")
		echo "{\"rss_load_mb\": $(cat "$f-rss" 2>/dev/null || echo 0), \"idle_cpu_pct\": $(awk -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" -v s="$IDLE" 'BEGIN {printf "%.2f", (b-a)/hz/s*100}'), \"rss_idle_1000_mb\": $(rss_mb "$pid")}" >"$f-proc.json"
		stop_target "$pid"
		rm -rf "$dir"
		echo "  $t: $(summary --one "$f")"
	done
	if [ "$CLUSTER" != 0 ] && [[ " ${TARGETS[*]} " == *" petrel "* ]]; then
		t0=$SECONDS
		if cluster_run "$run"; then
			echo "  petrel3: $(summary --cluster "$OUT/$run-petrel3") ($((SECONDS - t0)) s)"
		else
			echo "  petrel3: did not run (log above)" >&2
			for i in 0 1 2; do [ -z "${CPID[$i]:-}" ] || stop_target "${CPID[$i]}"; done
			CPID=()
		fi
	fi
done
summary "$OUT" "$RUNS" "${TARGETS[@]}"
