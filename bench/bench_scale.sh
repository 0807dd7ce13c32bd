#!/usr/bin/env bash
# bench/bench_scale.sh - scale-out on the multi-host harness (tests/netns/lib.sh: broker,
# Redis, client and 4 worker hosts in network namespaces; release build, bin/). For each job
# size (sleep SLEEP s; 0 = pure service overhead), N jobs are queued with no worker running
# and then drained by 1, 2 and 4 workers on their own hosts; jobs/s = N / (last finished -
# first started), from the records in Redis. Then NDRAIN sleep-0 jobs drained by 4 workers.
# Usage (root): bench/bench_scale.sh [N=40] [SLEEPS="0.4 0"] [NDRAIN=500]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-40}; SLEEPS=${2:-"0.4 0"}; NDRAIN=${3:-500}
[ "$(id -u)" = 0 ] || { echo "bench_scale: needs root (network namespaces)"; exit 1; }
[ -x "$top/bin/mlhep-worker" ] || { echo "bench_scale: build first (make all)"; exit 1; }
export MLHEP_TOP=$top MLHEP_BIN=$top/bin MLHEP_SHARED=${MLHEP_SHARED:-$top/../shared}
. "$top/tests/lib.sh"
. "$top/tests/netns/lib.sh"
nn_up 4 || exit 1
echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); shaping: $NN_SHAPING"
for sl in $SLEEPS; do
    echo "{\"name\":\"bench\",\"model\":{\"type\":\"sleep\",\"seconds\":$sl}}" > "$TMP/wf.json"
    declare -A R=()
    for k in 1 2 4; do
        read -r n s w r <<< "$(nn_drain "$k" "$N" "$TMP/wf.json" 300)"
        R[$k]=$r
        echo "sleep $sl s: $k worker(s): $s/$n jobs in $w s = $r jobs/s"
    done
    awk -v a="${R[1]}" -v b="${R[2]}" -v c="${R[4]}" -v s="$sl" \
        'BEGIN { if (a > 0) printf "sleep %s s: speed-up 2 workers %.2fx, 4 workers %.2fx\n", s, b / a, c / a }'
done
echo '{"name":"drain","model":{"type":"sleep","seconds":0}}' > "$TMP/wf.json"
t0=$(date +%s.%N)
nn_submit_many "$NDRAIN" "$TMP/wf.json" 6 > "$TMP/ids" 2>/dev/null
t1=$(date +%s.%N)
echo "$(wc -l < "$TMP/ids") jobs submitted in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s (6 submitters in parallel); queue depth $(nn_depth jobs.train)"
t0=$(date +%s.%N)
for i in 1 2 3 4; do nn_start_worker "$i"; done
nn_wait_done "$TMP/ids" 600 || echo "# not all jobs finished"
t1=$(date +%s.%N)
read -r n s w r <<< "$(nn_window "$TMP/ids")"
echo "drain: $s/$n succeeded; $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s from starting 4 workers to the last record; $r jobs/s between first start and last finish"
