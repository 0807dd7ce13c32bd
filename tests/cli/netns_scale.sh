#!/usr/bin/env bash
# netns_scale.sh - the service spread over network namespaces (tests/netns/lib.sh): broker,
# Redis and client on their own hosts, workers w1..w4 on four more.
#   - throughput grows with workers: NJOBS small jobs (sleep SLEEP s) queued, then drained
#     by 1, 2 and 4 workers; jobs/s = jobs / (last finish - first start), from Redis;
#   - 500 queued jobs (sleep 0) drained by 4 workers with none lost: every job succeeded
#     once (attempts 1), one artifact set each, the queue empty, no temp dirs left.
# Needs root (CI has it). NJOBS/SLEEP/NDRAIN override the sizes (bench/bench_scale.sh).
. "$MLHEP_TOP/tests/lib.sh"
. "$MLHEP_TOP/tests/netns/lib.sh"
NJOBS=${NJOBS:-24}
SLEEP=${SLEEP:-0.4}
NDRAIN=${NDRAIN:-500}
if [ "$(id -u)" != 0 ]; then bad "netns harness" "needs root"; exit 1; fi
if ! nn_up 4 > "$TMP/up.log" 2>&1; then
    cat "$TMP/up.log"; bad "netns harness" "could not start the hosts/broker/Redis"; exit 1
fi
cat "$TMP/up.log"
ok "netns harness: broker, redis, client, w1..w4 on their own namespaces"

# the checks run on the client host: it reaches the broker and Redis over the bridge
check "client host reaches the broker over the bridge" nn_port_open "${NN_IP[broker]}" 5672
# and the root namespace has none of the test addresses
if ip -o addr show | grep -q " $NN_NET\."; then bad "test addresses confined" "198.18.0.x in the root namespace"; else ok "test addresses only inside the namespaces"; fi

# stats IDSFILE -> "n succeeded attempts_sum window_s jobs_per_s distinct_workers"
stats() {
    nn_records | awk 'NR==FNR { want[$1] = 1; next }
        ($1 in want) { n++; if ($2 == "succeeded") s++; a += $3; w[$6] = 1
                       if (min == "" || $4 < min) min = $4; if ($5 > max) max = $5 }
        END { win = max - min; nw = 0; for (k in w) nw++
              printf "%d %d %d %.3f %.2f %d\n", n, s, a, win, (win > 0 ? n / win : 0), nw }' "$1" -
}

echo "{\"name\":\"small\",\"model\":{\"type\":\"sleep\",\"seconds\":$SLEEP}}" > "$TMP/small.json"
declare -A RATE
for k in 1 2 4; do
    nn_submit_many "$NJOBS" "$TMP/small.json" 4 > "$TMP/ids-$k" 2>"$TMP/submit-$k.err"
    if [ "$(wc -l < "$TMP/ids-$k")" != "$NJOBS" ]; then
        bad "submit $NJOBS jobs" "$(head -3 "$TMP/submit-$k.err")"; continue
    fi
    for i in $(seq 1 "$k"); do nn_start_worker "$i"; done
    if ! nn_wait_done "$TMP/ids-$k" 120; then bad "$k worker(s) drain $NJOBS jobs" "not all finished in 120 s"; fi
    nn_stop_workers $(seq 1 "$k")
    read -r n s a win rate nw <<< "$(stats "$TMP/ids-$k")"
    RATE[$k]=$rate
    echo "# $k worker(s): $n jobs of ${SLEEP} s in $win s = $rate jobs/s (workers used: $nw)"
    if [ "$s" = "$NJOBS" ] && [ "$a" = "$NJOBS" ] && [ "$nw" = "$k" ]; then
        ok "$k worker(s): $NJOBS small jobs all succeeded once, on $k worker(s)"
    else
        bad "$k worker(s): $NJOBS small jobs" "succeeded $s, attempts $a, workers $nw"
    fi
done
# ideal scaling would be 2x and 4x; ask for clearly more than one worker's worth
if awk -v r1="${RATE[1]:-0}" -v r2="${RATE[2]:-0}" -v r4="${RATE[4]:-0}" \
    'BEGIN { exit !(r1 > 0 && r2 >= 1.5 * r1 && r4 >= 2.5 * r1 && r4 > r2) }'; then
    ok "throughput grows with workers: ${RATE[1]} / ${RATE[2]} / ${RATE[4]} jobs/s for 1 / 2 / 4"
else
    bad "throughput grows with workers" "${RATE[1]:-?} / ${RATE[2]:-?} / ${RATE[4]:-?} jobs/s for 1 / 2 / 4"
fi

# ---- NDRAIN queued jobs drained, none lost
echo '{"name":"tiny","model":{"type":"sleep","seconds":0}}' > "$TMP/tiny.json"
t0=$(date +%s.%N)
nn_submit_many "$NDRAIN" "$TMP/tiny.json" 6 > "$TMP/ids-drain" 2>"$TMP/submit-drain.err"
t1=$(date +%s.%N)
nsub=$(wc -l < "$TMP/ids-drain")
depth=$(nn_depth jobs.train)
echo "# $nsub jobs submitted in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; jobs.train holds $depth"
if [ "$nsub" = "$NDRAIN" ] && [ "$depth" = "$NDRAIN" ]; then
    ok "$NDRAIN jobs queued (confirmed by the broker, all in jobs.train)"
else
    bad "$NDRAIN jobs queued" "submitted $nsub, queue depth $depth; $(head -3 "$TMP/submit-drain.err")"
fi
t0=$(date +%s.%N)
for i in 1 2 3 4; do nn_start_worker "$i"; done
nn_wait_done "$TMP/ids-drain" 240 || bad "drain $NDRAIN jobs" "not all finished in 240 s"
t1=$(date +%s.%N)
read -r n s a win rate nw <<< "$(stats "$TMP/ids-drain")"
echo "# drained $n jobs in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s from worker start ($rate jobs/s between first start and last finish, $nw workers)"
sets=0
while read -r id; do [ -f "$NN/artifacts/alice/$id/MANIFEST.json" ] && sets=$((sets + 1)); done < "$TMP/ids-drain"
tmpleft=$(find "$NN/artifacts/alice" -maxdepth 1 -name '.tmp-*' | wc -l)
depth=$(nn_depth jobs.train)
if [ "$s" = "$NDRAIN" ] && [ "$a" = "$NDRAIN" ] && [ "$sets" = "$NDRAIN" ] && [ "$depth" = 0 ] && [ "$tmpleft" = 0 ]; then
    ok "$NDRAIN queued jobs drained by 4 workers: none lost, none run twice, one artifact set each"
else
    bad "$NDRAIN queued jobs drained" "succeeded $s/$NDRAIN, attempts $a, artifact sets $sets, queue $depth, temp dirs $tmpleft"
fi
errs=$(grep -l 'ERROR: AddressSanitizer\|runtime error:' "$NN"/logs/w*.log 2>/dev/null | wc -l)
if [ "$errs" = 0 ]; then ok "workers clean under ASan/UBSan"; else bad "workers clean under ASan/UBSan" "$errs log(s) with reports"; fi
echo "SCALE r1=${RATE[1]:-0} r2=${RATE[2]:-0} r4=${RATE[4]:-0} drain=$rate"
