#!/usr/bin/env bash
# netns_faults.sh - network and server faults on the multi-host harness (tests/netns/lib.sh),
# 4 workers on their own hosts, AMQP heartbeat 2 s, Redis heartbeat 1 s (lease 3 s):
#   1. a worker's cable is pulled mid-job: the broker drops its connection, the job is
#      redelivered and finishes on another worker exactly once; when the cable is plugged
#      back the cut-off worker finds its lease gone, stops, and writes no second artifact
#      set; it reconnects by itself;
#   2. the broker host restarted with jobs queued and running: none lost, each completed
#      once (one "succeeded" in all worker logs, one artifact set);
#   3. Redis restarted (AOF on; down for 3 s) with jobs queued and running: the records
#      written before survive unchanged, every job still succeeds (no delivery is burnt
#      against the delivery limit while Redis is away), and every worker reconnects by
#      itself (its liveness key mlhep:w:<id> reappears).
. "$MLHEP_TOP/tests/lib.sh"
. "$MLHEP_TOP/tests/netns/lib.sh"
if [ "$(id -u)" != 0 ]; then bad "netns harness" "needs root"; exit 1; fi
NN_AMQP_HEARTBEAT=2 NN_HEARTBEAT=1
if ! nn_up 4 > "$TMP/up.log" 2>&1; then
    cat "$TMP/up.log"; bad "netns harness" "could not start the hosts/broker/Redis"; exit 1
fi
cat "$TMP/up.log"
for i in 1 2 3 4; do nn_start_worker "$i"; done
for i in 1 2 3 4; do nn_wait_ready "$i" 60 || { bad "worker w$i ready" "no 'ready' in its log"; nn_wlog "$i" | tail -5; exit 1; }; done
ok "harness up: 4 workers ready on their own hosts"

rec() { nn_records | awk -v id="$1" '$1 == id'; }      # id state attempts started finished worker
recf() { rec "$1" | cut -d' ' -f"$2"; }
wait_rec() { # ID AWK-CONDITION SECS (fields: $2 state $3 attempts $6 worker)
    local i=0 n=$(($3 * 5))
    while [ $i -lt $n ]; do
        rec "$1" | awk "{ exit !($2) }" && return 0
        sleep 0.2; i=$((i + 1))
    done
    return 1
}
succeeded_lines() { cat "$NN"/logs/w*.log | grep -c "job $1: succeeded"; }
sets_of() { find "$NN/artifacts/alice" -maxdepth 1 -name "$1" -type d | wc -l; }

# ---- 1. cable pulled mid-job ----------------------------------------------------------
echo '{"name":"cut","model":{"type":"sleep","seconds":8}}' > "$TMP/cut.json"
J=$(nn_submit "$TMP/cut.json" 2>/dev/null)
if ! wait_rec "$J" '$2 == "running"' 30; then bad "cut: job starts" "$(rec "$J")"; fi
W=$(recf "$J" 6); WI=${W#w}
sleep 1
nn_log "cutting $W off (job $J running there)"
nn_link "$W" down
cut_at=$SECONDS
# the broker notices the silent connection after ~2 heartbeats and redelivers the job
if wait_rec "$J" "\$6 != \"$W\" && \$3 >= 2" 40; then
    ok "cut: the job was redelivered to another worker ($(recf "$J" 6)) $((SECONDS - cut_at)) s after the cut"
else
    bad "cut: redelivery" "record $(rec "$J")"
fi
nn_log "plugging $W back in"
nn_link "$W" up
if wait_rec "$J" '$2 == "succeeded"' 40; then ok "cut: the job succeeded on $(recf "$J" 6)"; else bad "cut: job succeeds" "$(rec "$J")"; fi
# the cut-off worker: its lease is gone, it stops and discards, then rejoins
i=0; while [ $i -lt 150 ] && ! nn_wlog "$WI" | grep -q "job $J: lease lost"; do sleep 0.2; i=$((i + 1)); done
if nn_wlog "$WI" | grep -q "job $J: lease lost"; then
    ok "cut: $W found its lease gone: $(nn_wlog "$WI" | grep "job $J: lease lost" | head -1 | cut -d' ' -f3-)"
else
    bad "cut: $W notices the lost lease" "$(nn_wlog "$WI" | tail -4)"
fi
# ("connected to broker" is logged on reconnects only; the first connect says "ready")
i=0; while [ $i -lt 150 ] && ! nn_wlog "$WI" | grep -q "connected to broker"; do sleep 0.2; i=$((i + 1)); done
if nn_wlog "$WI" | grep -q "connected to broker"; then ok "cut: $W reconnected to the broker by itself"; else bad "cut: $W reconnects" "$(nn_wlog "$WI" | tail -3)"; fi
sleep 1
m=$NN/artifacts/alice/$J/MANIFEST.json
if [ "$(sets_of "$J")" = 1 ] && [ "$(sets_of ".tmp-$J-*")" = 0 ] && [ "$(succeeded_lines "$J")" = 1 ] &&
    [ "$(jq -r .worker "$m")" != "$W" ] && [ "$(jq -r .lease "$m")" -ge 2 ]; then
    ok "cut: one artifact set (lease $(jq -r .lease "$m"), worker $(jq -r .worker "$m")), none from $W, no temp dir left"
else
    bad "cut: one artifact set" "sets $(sets_of "$J"), temp $(sets_of ".tmp-$J-*"), succeeded lines $(succeeded_lines "$J"), manifest $(jq -c '{worker,lease}' "$m" 2>&1)"
fi

# ---- 2. broker host restarted with jobs queued and running --------------------------
echo '{"name":"b","model":{"type":"sleep","seconds":1.5}}' > "$TMP/b.json"
nn_submit_many 10 "$TMP/b.json" 4 > "$TMP/ids-b" 2>"$TMP/sub-b.err"
i=0; while [ $i -lt 100 ] && [ "$(nn_records | grep -c -f "$TMP/ids-b" | head -1)" -lt 10 ]; do sleep 0.1; i=$((i + 1)); done
i=0; while [ $i -lt 100 ] && [ "$(nn_records | grep -f "$TMP/ids-b" | awk '$2 == "running"' | wc -l)" -lt 3 ]; do sleep 0.1; i=$((i + 1)); done
nrun=$(nn_records | grep -f "$TMP/ids-b" | awk '$2 == "running"' | wc -l)
nq=$(nn_records | grep -f "$TMP/ids-b" | awk '$2 == "queued"' | wc -l)
nn_log "restarting the broker with $nrun job(s) running and $nq queued"
t0=$SECONDS
nn_restart_broker > "$TMP/restart.log" 2>&1 || { cat "$TMP/restart.log"; bad "broker restart" "did not come back"; exit 1; }
cat "$TMP/restart.log"
[ "$nrun" -ge 1 ] && [ "$nq" -ge 1 ] && ok "broker restarted ($((SECONDS - t0)) s) with $nrun running and $nq queued" ||
    bad "broker restart setup" "$nrun running, $nq queued when the broker stopped"
if nn_wait_done "$TMP/ids-b" 90; then :; else bad "broker restart: jobs finish" "not all done in 90 s"; fi
bad_jobs=0; twice=0
while read -r id; do
    [ "$(recf "$id" 2)" = succeeded ] && [ "$(sets_of "$id")" = 1 ] || bad_jobs=$((bad_jobs + 1))
    [ "$(succeeded_lines "$id")" = 1 ] || twice=$((twice + 1))
done < "$TMP/ids-b"
if [ "$bad_jobs" = 0 ] && [ "$twice" = 0 ]; then
    ok "broker restart: all 10 jobs succeeded, none lost, each completed once with one artifact set"
else
    bad "broker restart" "$bad_jobs job(s) not succeeded with one set, $twice completed more or less than once"
fi
echo "# broker restart: attempts per job: $(nn_records | grep -f "$TMP/ids-b" | awk '{ print $3 }' | sort | uniq -c | tr -s ' \n' ' ')"

# ---- 3. Redis restarted ---------------------------------------------------------------
nn_records | sort > "$TMP/before"
echo '{"name":"r","model":{"type":"sleep","seconds":2}}' > "$TMP/r.json"
nn_submit_many 8 "$TMP/r.json" 4 > "$TMP/ids-r" 2>"$TMP/sub-r.err"
i=0; while [ $i -lt 100 ] && [ "$(nn_records | grep -f "$TMP/ids-r" | awk '$2 == "running"' | wc -l)" -lt 2 ]; do sleep 0.1; i=$((i + 1)); done
nrun=$(nn_records | grep -f "$TMP/ids-r" | awk '$2 == "running"' | wc -l)
nn_log "restarting Redis with $nrun job(s) running, down for 3 s"
nn_restart_redis 3 > "$TMP/rrestart.log" 2>&1 || { cat "$TMP/rrestart.log"; bad "redis restart" "did not come back"; exit 1; }
ok "Redis restarted with $nrun job(s) running"
# the workers' liveness keys came back from the AOF too: remove them, the workers must
# write them again through their own new connections
for i in 1 2 3 4; do nn_rcli DEL "mlhep:w:w$i" > /dev/null; done
# records of finished jobs survive unchanged (AOF)
changed=$(nn_records | sort | grep -F -x -v -f - "$TMP/before" | wc -l)
if [ "$changed" = 0 ] && [ "$(wc -l < "$TMP/before")" -ge 11 ]; then
    ok "Redis restart: all $(wc -l < "$TMP/before") earlier records survived unchanged (AOF)"
else
    bad "Redis restart: records survive" "$changed of $(wc -l < "$TMP/before") records changed or missing"
fi
alive_keys() { local n=0 i; for i in 1 2 3 4; do [ "$(nn_rcli EXISTS "mlhep:w:w$i")" = 1 ] && n=$((n + 1)); done; echo $n; }
i=0; while [ $i -lt 100 ] && [ "$(alive_keys)" != 4 ]; do sleep 0.2; i=$((i + 1)); done
if [ "$(alive_keys)" = 4 ]; then ok "Redis restart: all 4 workers reconnected by themselves (liveness keys back)"; else bad "Redis restart: workers reconnect" "$(alive_keys)/4 liveness keys"; fi
if nn_wait_done "$TMP/ids-r" 90; then :; else bad "Redis restart: jobs finish" "not all done in 90 s"; fi
nok=0
while read -r id; do [ "$(recf "$id" 2)" = succeeded ] && [ "$(sets_of "$id")" = 1 ] && nok=$((nok + 1)); done < "$TMP/ids-r"
if [ "$nok" = 8 ]; then ok "Redis restart: the 8 jobs running or queued across it all succeeded, one artifact set each"
else bad "Redis restart: jobs succeed" "$nok/8; $(nn_records | grep -f "$TMP/ids-r" | awk '{ print $2 }' | sort | uniq -c | tr -s ' \n' ' ')"; fi
# and new work after the restart
echo '{"name":"after","model":{"type":"sleep","seconds":0.2}}' > "$TMP/after.json"
J2=$(nn_submit "$TMP/after.json" 2>/dev/null)
if wait_rec "$J2" '$2 == "succeeded"' 30; then ok "Redis restart: a job submitted afterwards succeeds"; else bad "Redis restart: new job" "$(rec "$J2")"; fi
errs=$(grep -l 'ERROR: AddressSanitizer\|runtime error:' "$NN"/logs/w*.log 2>/dev/null | wc -l)
if [ "$errs" = 0 ]; then ok "workers clean under ASan/UBSan"; else bad "workers clean under ASan/UBSan" "$errs log(s) with reports"; fi
if grep -q -F -f <(cat "$NN"/secrets/*.pw) "$NN"/logs/*.log 2>/dev/null; then bad "no secrets in logs" "a password appears in a log"; else ok "no secrets in logs"; fi
