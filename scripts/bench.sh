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
#   3. ratios within the run; the final line gives medians over the runs.
# Env: BENCH_SECONDS (each produce scenario, default 10), BENCH_RUNS,
# BENCH_DIR (file system to use), BENCH_PORT (first of three ports),
# BENCH_IDLE_SECONDS (default 5). A full run takes about 10 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${BENCH_SECONDS:-10}
RUNS=${BENCH_RUNS:-3}
PORT=${BENCH_PORT:-29092}
IDLE=${BENCH_IDLE_SECONDS:-5}
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

stop_target() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
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
import json, statistics, sys

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

if sys.argv[1] == "--one":
    print(" ".join(f"{k}={fmt(v)}" for k, v in figures(sys.argv[2]).items()))
    sys.exit(0)

out, runs, targets = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
subject = "petrel" if "petrel" in targets else "kfake"
per_run, table = [], {t: [] for t in targets}
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
print(f"medians of {runs} runs (MB/s, µs, MB, % of a core):")
print("  raw    " + " ".join(f"{k}={fmt(median([d.get(k) for d in disks]))}"
                           for k in ("mb_per_s_1mib", "p50_us_4kib", "p99_us_4kib")))
for t in targets:
    print(f"  {t:<6} " + " ".join(f"{k}={fmt(median([x[k] for x in table[t]]))}" for k in table[t][0]))
keys = ["produce_p1", "produce_p12", "vs_kfake_p1", "vs_kfake_p12", "p50_ratio", "consume",
        "rss_idle_mb", "rss_load_mb", "idle_cpu_pct"]
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
done
summary "$OUT" "$RUNS" "${TARGETS[@]}"
