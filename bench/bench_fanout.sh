#!/usr/bin/env bash
# bench/bench_fanout.sh - the fanned-out specs pass and the service under added latency, on
# the multi-host harness (tests/netns/lib.sh; release build, bin/).
#  1. specs pass of a NFILES-file training job (mlhep-root gen, NEV events per file: one
#     signal and one background file copied) with 1, 2 and 4 workers: the time from the
#     coordinator's "merged in X s" log line, and the speed-ups over one worker (run
#     tests/cli/netns_fanout.sh with the release build and bigger files).
#  2. jobs/s with 1, 2 and 4 workers when the workers reach the broker and Redis through
#     delay forwarders (nn_latency: bench/latency_proxy.py, +MS one way; this kernel has no
#     netem) for each MS in DELAYS; NJOBS sleep-SLEEP jobs queued, then drained.
# Usage (root): bench/bench_fanout.sh [NFILES=100] [NEV=20000] [DELAYS="0 5 20"] [NJOBS=40] [SLEEP=0]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
NFILES=${1:-100}; NEV=${2:-20000}; DELAYS=${3:-"0 5 20"}; NJOBS=${4:-40}; SLEEP=${5:-0}
[ "$(id -u)" = 0 ] || { echo "bench_fanout: needs root (network namespaces)"; exit 1; }
[ -x "$top/bin/mlhep-worker" ] || { echo "bench_fanout: build first (make all)"; exit 1; }
export MLHEP_TOP=$top MLHEP_BIN=$top/bin MLHEP_SHARED=${MLHEP_SHARED:-$top/../shared}
echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "## 1. specs pass fan-out: $NFILES files x $NEV events, 5 branches read, release build"
NFILES=$NFILES NEV=$NEV bash "$top/tests/cli/netns_fanout.sh" | grep -E '^(# [0-9] worker|# specs|PASS|FAIL)'
echo "## 1a. the same reading all 74 branches (the pass bound by reading, not by messages)"
FANOUT_ALL=1 NFILES=$NFILES NEV=$NEV bash "$top/tests/cli/netns_fanout.sh" | grep -E '^(# [0-9] worker\(s\): specs|# specs|FAIL)'
# each worker above uses both cores for its own sub-tasks (worker_threads = 0), so on
# this 2-core machine there is little left for more workers to take; with one thread
# per worker (worker_threads = 1, as for workers that each bring one core) the pass
# shows how the fan-out spreads the files:
echo "## 1b. all 74 branches with worker_threads = 1"
NN_WORKER_THREADS=1 FANOUT_ALL=1 NFILES=$NFILES NEV=$NEV bash "$top/tests/cli/netns_fanout.sh" | grep -E '^(# [0-9] worker\(s\): specs|# specs|FAIL)'

echo "## 2. jobs/s under added latency (sleep $SLEEP s jobs, $NJOBS per run)"
. "$top/tests/lib.sh"
. "$top/tests/netns/lib.sh"
nn_up 4 > "$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; exit 1; }
grep hosts "$TMP/up.log"
echo "{\"name\":\"lat\",\"model\":{\"type\":\"sleep\",\"seconds\":$SLEEP}}" > "$TMP/wf.json"
for ms in $DELAYS; do
    nn_latency "$ms" > /dev/null || { echo "cannot start the delay forwarders"; exit 1; }
    declare -A R=()
    for k in 1 2 4; do
        read -r n s w r <<< "$(nn_drain "$k" "$NJOBS" "$TMP/wf.json" 600)"
        R[$k]=$r
        echo "+$ms ms one way: $k worker(s): $s/$n jobs in $w s = $r jobs/s"
    done
    awk -v a="${R[1]}" -v b="${R[2]}" -v c="${R[4]}" -v ms="$ms" \
        'BEGIN { if (a > 0) printf "+%s ms one way: speed-up 2 workers %.2fx, 4 workers %.2fx\n", ms, b / a, c / a }'
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
