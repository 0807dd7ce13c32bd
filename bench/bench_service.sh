#!/usr/bin/env bash
# bench/bench_service.sh - the service on a real local stack (release build, bin/):
#  1. submit-to-running latency: trivial jobs (sleep 0) submitted one at a time to an
#     idle worker; latency = the worker's `started` minus the submitter's `submitted`
#     (same host clock), median and max over N_LAT jobs;
#  2. throughput: N jobs queued with no worker running, then drained by 1 and by 2
#     workers; jobs/s = N / (last finished - first started). The ratio 2 workers / 1
#     worker is the figure that matters on a 2-core machine.
# Usage: bench/bench_service.sh [N_LAT=20] [N=100]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
N_LAT=${1:-20}; N=${2:-100}
BIN=$top/bin
[ -x "$BIN/mlhep-submit" ] || { echo "bench_service: build first (make all)"; exit 1; }
T=$(mktemp -d /tmp/mlhep-bench.XXXXXX); S=$T/st
trap '"$top/deploy/local/down.sh" --state "$S" >/dev/null 2>&1; rm -rf "$T"' EXIT
"$top/deploy/local/up.sh" --state "$S" --bin "$BIN" --workers 1 --heartbeat 1 --users bench > "$T/up.log"
grep 'rabbitmq ready' "$T/up.log"
# the broker and Redis directly (operators' configuration): what is measured is the
# workers' latency and throughput, not the front door
sub() { "$BIN/mlhep-submit" --config "$S/operator.conf" --token-file "$S/users/bench.token" "$@"; }
rec() { sub --json status "$1"; }
echo '{"name": "bench", "model": {"type": "sleep", "seconds": 0}}' > "$T/wf.json"
for _ in $(seq 300); do grep -q ' ready: ' "$S/logs/worker-1.log" && break; sleep 0.1; done

# 1. latency
lat=()
for i in $(seq "$N_LAT"); do
    id=$(sub --no-wait "$T/wf.json")
    sub watch --timeout 30 "$id" > /dev/null
    lat+=("$(rec "$id" | jq '(.started|tonumber) - (.submitted|tonumber)')")
done
printf '%s\n' "${lat[@]}" | sort -g > "$T/lat"
med=$(sed -n "$(( (N_LAT + 1) / 2 ))p" "$T/lat"); max=$(tail -n1 "$T/lat")
printf 'submit-to-running latency (idle worker, %d jobs): median %.1f ms, max %.1f ms\n' "$N_LAT" \
    "$(echo "$med * 1000" | awk '{print $1 * $3}')" "$(echo "$max * 1000" | awk '{print $1 * $3}')"

# 2. throughput with W workers
drain() { # W -> prints jobs/s
    local w=$1 ids=() f
    for f in "$S"/pids/worker-*.pid; do [ -e "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; done
    for f in "$S"/pids/worker-*.pid; do
        [ -e "$f" ] || continue
        p=$(cat "$f"); while ps -o stat= -p "$p" 2>/dev/null | grep -qv Z; do sleep 0.05; done; rm -f "$f"
    done
    for i in $(seq "$N"); do ids+=("$(sub --no-wait "$T/wf.json")"); done
    "$top/deploy/local/up.sh" --state "$S" --bin "$BIN" --add-workers "$w" > /dev/null
    for id in "${ids[@]}"; do sub watch --timeout 300 "$id" > /dev/null; done
    for id in "${ids[@]}"; do rec "$id"; done | jq -s --argjson n "$N" \
        '$n / ((map(.finished|tonumber)|max) - (map(.started|tonumber)|min))'
}
r1=$(drain 1); r2=$(drain 2)
printf 'throughput, %d trivial jobs: 1 worker %.1f jobs/s, 2 workers %.1f jobs/s (ratio 2w/1w %.2f)\n' \
    "$N" "$r1" "$r2" "$(awk -v a="$r1" -v b="$r2" 'BEGIN { print b / a }')"
