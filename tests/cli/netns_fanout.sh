#!/usr/bin/env bash
# netns_fanout.sh - the fanned-out specs pass (common/train/fanout.h) on the multi-host harness
# (tests/netns/lib.sh): a NFILES-file training job (default 100 small files made with
# `mlhep-root gen`: two generated files, one signal and one background, copied) run with 1,
# 2 and 4 workers on their own hosts. For each: the job succeeds, its specs pass was fanned
# out (NFILES sub-tasks, one per file), every started worker ran some of them, and the
# specs.json is the same for 1, 2 and 4 workers. The specs-pass times (from the
# coordinator's "merged in X s" log line) and the speed-ups are printed; they are not
# asserted (2 shared cores, sanitizer build): bench/bench_fanout.sh measures them on the
# release build. Needs root. NFILES/NEV override the sizes.
. "$MLHEP_TOP/tests/lib.sh"
. "$MLHEP_TOP/tests/netns/lib.sh"
NFILES=${NFILES:-100}
NEV=${NEV:-2000}
if [ "$(id -u)" != 0 ]; then bad "netns harness" "needs root"; exit 1; fi
D=$TMP/data
mkdir -p "$D"
GEN=$NN_TOP/bin/mlhep-root; [ -x "$GEN" ] || GEN=$BIN/mlhep-root   # load generation: release if built
"$GEN" gen --events "$NEV" --class signal --seed 11 --out "$D/sig.root" >/dev/null 2>&1 &
g1=$!
"$GEN" gen --events "$NEV" --class background --seed 12 --out "$D/bkg.root" >/dev/null 2>&1 &
g2=$!
export NN_DATA_ROOTS=$D
if ! nn_up 4 > "$TMP/up.log" 2>&1; then
    cat "$TMP/up.log"; bad "netns harness" "could not start the hosts/broker/Redis"; exit 1
fi
cat "$TMP/up.log"
wait $g1 && wait $g2 || { bad "generate inputs" "mlhep-root gen failed"; exit 1; }
files=""
for i in $(seq 0 $((NFILES - 1))); do
    if [ $((i % 2)) = 0 ]; then f=s$i.root; cp "$D/sig.root" "$D/$f"; l=1; else f=b$i.root; cp "$D/bkg.root" "$D/$f"; l=0; fi
    files="$files${files:+,}{\"path\": \"$f\", \"label\": $l}"
done
# FANOUT_ALL=1 (bench_fanout): every branch (74: 22 flat, 52 jagged), so the pass is
# bound by reading and not by the per-sub-task messages
SELP='"selected_branches": ["MET_pt", "HT", "nJet", "Jet_pt", "Jet_eta"], '
[ "${FANOUT_ALL:-0}" = 1 ] && SELP=
printf '{"name": "fan%s", "tree": "Events", "files": [%s], "params": {%s"epochs": 1, "max_jagged_length": 4}, "model": {"type": "mlp", "layers": [{"dense": 4, "activation": "relu"}, {"dense": 1, "activation": "sigmoid"}]}}\n' \
    "$NFILES" "$files" "$SELP" > "$TMP/wf.json"
ok "$NFILES input files of $NEV events ($(du -sh "$D" | cut -f1))"

declare -A T
for k in 1 2 4; do
    for i in $(seq 1 "$k"); do nn_start_worker "$i"; done
    for i in $(seq 1 "$k"); do nn_wait_ready "$i" 60 || bad "worker w$i ready" "$(nn_wlog "$i" | tail -n 3)"; done
    id=$(nn_submit "$TMP/wf.json") || { bad "$k worker(s): submit" "refused"; nn_stop_workers $(seq 1 "$k"); continue; }
    echo "$id" > "$TMP/ids-$k"
    nn_wait_done "$TMP/ids-$k" 300 || bad "$k worker(s): job finished" "not in 300 s"
    nn_stop_workers $(seq 1 "$k")
    state=$(nn_rcli HGET "mlhep:u:alice:job:$id" state)
    logs=$(nn_rcli --raw LRANGE "mlhep:u:alice:log:$id" 0 -1)
    t=$(echo "$logs" | sed -n "s/.*specs pass: $NFILES sub-tasks merged in \([0-9.]*\) s.*/\1/p")
    T[$k]=$t
    used=0
    for i in $(seq 1 "$k"); do
        n=$(nn_wlog "$i" | grep -c "sub-task [0-9]*/$NFILES of job $id")
        coord=$(echo "$logs" | grep -c "on worker w$i ")
        [ "$n" -gt 0 ] || [ "$coord" -gt 0 ] && used=$((used + 1))
        echo "# $k worker(s): w$i ran $n sub-tasks from jobs.specs$([ "$coord" -gt 0 ] && echo " (the coordinator; it also ran sub-tasks by basic.get)")"
    done
    cp "$NN/artifacts/alice/$id/specs.json" "$TMP/specs-$k.json" 2>/dev/null
    echo "# $k worker(s): specs pass of $NFILES files in ${t:-?} s"
    if [ "$state" = succeeded ] && [ -n "$t" ] && [ "$used" = "$k" ]; then
        ok "$k worker(s): $NFILES-file job succeeded, specs pass fanned out over all $k worker(s)"
    else
        bad "$k worker(s): fan-out job" "state=$state specs_time=${t:-?} workers used=$used; $(echo "$logs" | tail -n 4)"
    fi
done
if cmp -s <(jq -S . "$TMP/specs-1.json") <(jq -S . "$TMP/specs-2.json") && cmp -s <(jq -S . "$TMP/specs-1.json") <(jq -S . "$TMP/specs-4.json"); then
    ok "specs.json identical with 1, 2 and 4 workers"
else
    bad "specs.json identical" "differs between runs"
fi
awk -v a="${T[1]:-0}" -v b="${T[2]:-0}" -v c="${T[4]:-0}" -v l="$(cut -d' ' -f1-3 /proc/loadavg)" \
    'BEGIN { if (b > 0 && c > 0) printf "# specs pass speed-up (%s workers, load %s): 2 workers %.2fx, 4 workers %.2fx\n", (ENVIRON["MLHEP_BIN"] ~ /asan/ ? "sanitizer" : "release"), l, a / b, a / c }'
if [ "$(nn_depth jobs.specs)" = 0 ]; then ok "jobs.specs empty"; else bad "jobs.specs empty" "depth $(nn_depth jobs.specs)"; fi
