# service_store_faults.sh - no job lost when the status store fails, preemption without
# burning delivery counts, temp dirs of crashed attempts, health probes and retention, on a
# real RabbitMQ + Redis (one stack: 3 workers, delivery limit 3, test hooks):
#   1. Redis restarted with SIGTERM and with SIGKILL (3 rounds each) right after bursts of
#      20 jobs, submitted through the gateway and through the operator path (mlhep-submit
#      over AMQP); the new Redis loads its data slowly (key-load-delay over 10,000 padding
#      keys), so workers meet LOADING as well as refused connections. Then Redis as a
#      replica of a dead master (READONLY, then MASTERDOWN) and Redis BUSY in a long script,
#      each right after a burst. Every job must end (0 lost: no record; 0 stuck: not
#      terminal), and each record must match the artifact store: succeeded <=> an artifact
#      set with MANIFEST.json where the record says, no set for failed or cancelled.
#   2. A job SIGKILLed mid-job 3 times then succeeding leaves no temp dir; the sweep at
#      worker start removes an old temp dir whose lease is over and keeps a young one and
#      one of a running attempt.
#   3. A job preempted 5 times by SIGTERM (stop grace 1 s, workers restarted) still
#      succeeds exactly once, its delivery count untouched (the queue's limit is 3); a job
#      within the stop grace finishes on the stopping worker.
#   4. --check=live stays 0 through a Redis outage while --check=ready says 1; a stopped
#      or stuck worker is not live.
#   5. Retention: a finished job's record and log expire (record_ttl_days, log_ttl_days),
#      `status` and `list` forget it, registering a later job prunes it from the index.
# "Mid-job" is made certain with the workers' test hold ($S/hold/NAME).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../service_lib.sh"

svc_up --workers 3 --heartbeat 0.3 --delivery-limit 3 --test-hooks --users alice,bob --infer 0
wait_workers_ready 3 60 || { bad "workers ready" "$(tail -n 5 "$S"/logs/worker-*.log)"; exit 1; }
add_worker() { "$TOP/deploy/local/up.sh" --state "$S" --bin "$BIN" --add-workers 1 >/dev/null; }
rcli() { redis-cli -p "$REDIS_PORT" --user admin --pass "$(cat "$S/secrets/redis-admin.pw")" --no-auth-warning "$@"; }
hold() { echo "$2" > "$S/hold/$1"; }
release() { rm -f "$S/hold/$1"; }
held_count() { cat "$S"/logs/worker-*.log | grep -c "job $1: held at step"; }
wait_held_n() { for _ in $(seq 400); do [ "$(held_count "$1")" -ge "$2" ] && return 0; sleep 0.1; done; return 1; }
stop_all_workers() {
    for f in "$S"/pids/worker-*.pid; do [ -e "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; done
    for f in "$S"/pids/worker-*.pid; do [ -e "$f" ] || continue; p=$(cat "$f"); for _ in $(seq 300); do alive "$p" || break; sleep 0.05; done; rm -f "$f"; done
}
newest_worker() { ls "$S/pids" | sed -n 's/^worker-\([0-9]*\)\.pid$/\1/p' | sort -n | tail -n1; }
# states ID...: "ID STATE" per job, read as admin in one round trip ("-" when no record)
states() { for id in "$@"; do echo "HGET mlhep:u:alice:job:$id state"; done | rcli | paste -d' ' <(printf '%s\n' "$@") - | sed 's/ $/ -/'; }
wait_ping() { for _ in $(seq 600); do [ "$(rcli ping 2>/dev/null)" = PONG ] && return 0; sleep 0.05; done; return 1; }
# wait_terminal SECS ID...: until every job is terminal or has no record; prints the states
wait_terminal() {
    local secs=$1; shift
    local t0=$SECONDS
    while [ $((SECONDS - t0)) -lt "$secs" ]; do
        states "$@" > "$TMP/states.out"
        ! grep -qE ' (queued|running)$' "$TMP/states.out" && break
        sleep 0.3
    done
    cat "$TMP/states.out"
}
# consistent ID STATE: the record and the artifact store agree
consistent() {
    local d=$S/artifacts/alice/$1
    case $2 in
    succeeded) [ -f "$d/MANIFEST.json" ] && [ "$(jq -r .attempt "$d/MANIFEST.json")" -ge 1 ] &&
               [ "$(rcli HGET "mlhep:u:alice:job:$1" artifacts)" = "$d" ] ;;
    failed|cancelled) [ ! -e "$d" ] ;;
    *) return 1 ;;
    esac
}
TOK=$(cat "$S/users/alice.token"); URL=$(cat "$S/gateway.url")
gw_one() { curl -s --cacert "$S/tls/ca.pem" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' --data-binary @"$1" "$URL/v1/jobs" | jq -r '.id // empty'; }
# burst VIA N WORKFLOW: N submissions in parallel (gateway or operator path); ids on stdout
burst() {
    local via=$1 n=$2 wf=$3 i
    for i in $(seq "$n"); do
        if [ "$via" = gateway ]; then gw_one "$wf" > "$TMP/b.$i" & else as_alice --no-wait "$wf" > "$TMP/b.$i" 2>/dev/null & fi
    done
    wait
    cat "$TMP"/b.* | grep -E '^[0-9a-f]{32}$'; rm -f "$TMP"/b.*
}

# ---- 1. the status store fails right after bursts ---------------------------------------
rcli EVAL "for i = 1, 10000 do redis.call('SET', 'pad:' .. i, 'x') end return 1" 0 >/dev/null
echo '{"name": "burst", "model": {"type": "sleep", "seconds": 0.3}}' > "$TMP/burst.json"
: > "$TMP/all"; lost=0; stuck=0; incons=0; nsucc=0; nfail=0
# judge LABEL FILE N: counts and consistency of one burst's final states (N jobs)
judge() {
    local label=$1 f=$2 want=$3 l s k i n
    l=$(awk '$2 == "-"' "$f" | wc -l); s=$(grep -cE ' (queued|running)$' "$f"); k=0
    while read -r i n; do
        case $n in succeeded|failed|cancelled) consistent "$i" "$n" || { k=$((k + 1)); echo "# inconsistent: $i $n $(ls -d "$S/artifacts/alice/$i" 2>&1)"; } ;; esac
    done < "$f"
    lost=$((lost + l)); stuck=$((stuck + s)); incons=$((incons + k))
    nsucc=$((nsucc + $(grep -c ' succeeded$' "$f"))); nfail=$((nfail + $(grep -cE ' (failed|cancelled)$' "$f")))
    if [ "$l$s$k" = 000 ] && [ "$(wc -l < "$f")" = "$want" ]; then ok "$label: $(wc -l < "$f") jobs, 0 lost, 0 stuck, records match the artifact store"; else bad "$label" "lost=$l stuck=$s inconsistent=$k: $(grep -vE ' (succeeded|failed|cancelled)$' "$f" | head -3)"; fi
}
round=0
for sig in TERM TERM TERM KILL KILL KILL; do
    round=$((round + 1)); via=$([ $((round % 2)) = 1 ] && echo gateway || echo operator)
    u0=$(cat "$S"/logs/worker-*.log | grep -c "status store unavailable")
    l0=$(cat "$S"/logs/worker-*.log | grep -c "LOADING")
    burst "$via" 20 "$TMP/burst.json" > "$TMP/ids"
    t0=$(date +%s%N)
    "$TOP/deploy/local/up.sh" --state "$S" --restart-redis --redis-signal "$sig" --redis-load-delay 100 > "$TMP/rr.log" 2>&1 || bad "redis restart $round" "$(cat "$TMP/rr.log")"
    wait_ping; up=$(( ($(date +%s%N) - t0) / 1000000 ))
    wait_terminal 120 $(cat "$TMP/ids") > "$TMP/final"
    done_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    cat "$TMP/ids" >> "$TMP/all"
    u1=$(cat "$S"/logs/worker-*.log | grep -c "status store unavailable"); l1=$(cat "$S"/logs/worker-*.log | grep -c "LOADING")
    echo "# round $round: Redis $sig after $(wc -l < "$TMP/ids") jobs via the $via; answering PING after $up ms, burst done after $done_ms ms; workers paused $((u1 - u0)) time(s), $((l1 - l0)) LOADING line(s)"
    judge "Redis $sig-restarted after a burst via the $via (round $round)" "$TMP/final" "$(wc -l < "$TMP/ids")"
    [ "$(wc -l < "$TMP/ids")" = 20 ] || bad "burst $round" "only $(wc -l < "$TMP/ids") of 20 submissions confirmed"
done
# READONLY, then MASTERDOWN: Redis turned into a replica of a master that does not exist
burst operator 20 "$TMP/burst.json" > "$TMP/ids"
rcli CONFIG SET replica-serve-stale-data yes >/dev/null; rcli REPLICAOF 127.0.0.1 1 >/dev/null
sleep 1.5   # the outage lasts a while; the jobs are not observed here
rcli CONFIG SET replica-serve-stale-data no >/dev/null
sleep 1.5
rcli REPLICAOF NO ONE >/dev/null; rcli CONFIG SET replica-serve-stale-data yes >/dev/null
wait_terminal 120 $(cat "$TMP/ids") > "$TMP/final"; cat "$TMP/ids" >> "$TMP/all"
echo "# READONLY/MASTERDOWN: $(cat "$S"/logs/worker-*.log | grep -c 'READONLY\|MASTERDOWN') worker log line(s) name them"
judge "Redis read-only then cut off from its master (READONLY, MASTERDOWN) after a burst" "$TMP/final" "$(wc -l < "$TMP/ids")"
# BUSY: a long script blocks Redis (busy-reply-threshold 100 ms)
burst gateway 20 "$TMP/burst.json" > "$TMP/ids"
rcli CONFIG SET busy-reply-threshold 100 >/dev/null
rcli EVAL "local x = 0 for i = 1, 300000000 do x = x + i end return 1" 0 >/dev/null
rcli CONFIG SET busy-reply-threshold 5000 >/dev/null
wait_terminal 120 $(cat "$TMP/ids") > "$TMP/final"; cat "$TMP/ids" >> "$TMP/all"
echo "# BUSY: $(cat "$S"/logs/worker-*.log | grep -c ' BUSY ') worker log line(s) name it"
judge "Redis BUSY in a long script after a burst" "$TMP/final" "$(wc -l < "$TMP/ids")"
n=$(wc -l < "$TMP/all")
tmpd=$(ls -a "$S/artifacts/alice" | grep -c '^\.tmp-')
echo "# all faults: $n jobs, $nsucc succeeded, $nfail failed or cancelled, $lost lost, $stuck stuck, $incons inconsistent, $tmpd temp dirs left"
if [ "$lost$stuck$incons" = 000 ] && [ "$nsucc" = "$n" ] && [ "$tmpd" = 0 ]; then ok "all $n jobs succeeded exactly as recorded, no temp dir left"; else bad "store faults overall" "succeeded $nsucc of $n, $tmpd temp dirs"; fi
if [ "$(queue_depth jobs.dead)" = 0 ] && [ "$(queue_depth jobs.train)" = 0 ] && [ "$(queue_depth jobs.registry)" = 0 ]; then ok "queues drained (jobs.train, jobs.registry, jobs.dead)"; else bad "queues" "train=$(queue_depth jobs.train) registry=$(queue_depth jobs.registry) dead=$(queue_depth jobs.dead)"; fi

# ---- 2. temp dirs of crashed attempts ----------------------------------------------------
echo '{"name": "kill3", "model": {"type": "sleep", "seconds": 1}}' > "$TMP/kill3.json"
hold kill3 train
k=$(as_alice --no-wait "$TMP/kill3.json")
killed=0
for i in 1 2 3; do
    wait_held_n "$k" "$i" || { bad "kill3 held ($i)" "$(tail -n 3 "$S"/logs/worker-*.log)"; break; }
    w=$(rcli HGET "mlhep:u:alice:job:$k" worker)
    kill -KILL "$(cat "$S/pids/worker-${w#w}.pid")" && killed=$((killed + 1)); rm -f "$S/pids/worker-${w#w}.pid"
    add_worker
done
before=$(ls -a "$S/artifacts/alice" | grep -c "^\.tmp-$k")
release kill3
wait_terminal 60 "$k" > /dev/null
after=$(ls -a "$S/artifacts/alice" | grep -c "^\.tmp-$k")
if [ "$(rcli HGET "mlhep:u:alice:job:$k" state)" = succeeded ] && [ "$(rcli HGET "mlhep:u:alice:job:$k" attempts)" = 4 ] && [ "$before" -ge 2 ] && [ "$after" = 0 ]; then ok "job SIGKILLed mid-job $killed times succeeded on attempt 4: $before temp dirs of killed attempts before, 0 after"; else bad "temp dirs after kills" "state=$(rcli HGET "mlhep:u:alice:job:$k" state) attempts=$(rcli HGET "mlhep:u:alice:job:$k" attempts) before=$before after=$after"; fi
# the sweep at worker start: an old dir of a finished attempt goes; a young one and an old
# one of a running attempt (its lease current) stay
hold sweep any
echo '{"name": "sweep", "model": {"type": "sleep", "seconds": 0.2}}' > "$TMP/sweep.json"
sw=$(as_alice --no-wait "$TMP/sweep.json")
wait_held_n "$sw" 1 || bad "sweep held" "$(tail -n 3 "$S"/logs/worker-*.log)"
sl=$(rcli HGET "mlhep:u:alice:job:$sw" lease)
A=$S/artifacts/alice
mkdir "$A/.tmp-$k-L1-oldaaa" "$A/.tmp-$k-L2-newbbb" "$A/.tmp-$sw-L$sl-oldccc"
for d in "$A/.tmp-$k-L1-oldaaa" "$A/.tmp-$k-L2-newbbb" "$A/.tmp-$sw-L$sl-oldccc"; do echo x > "$d/model.json"; done
touch -d '-2 hours' "$A/.tmp-$k-L1-oldaaa" "$A/.tmp-$sw-L$sl-oldccc"
add_worker; nw=$(newest_worker)
for _ in $(seq 300); do grep -q "temp dirs of earlier attempts\| ready: " "$S/logs/worker-$nw.log" && break; sleep 0.1; done
if [ ! -e "$A/.tmp-$k-L1-oldaaa" ] && [ -d "$A/.tmp-$k-L2-newbbb" ] && [ -d "$A/.tmp-$sw-L$sl-oldccc" ] && grep -q "temp dirs of earlier attempts: 1 removed" "$S/logs/worker-$nw.log"; then ok "worker start: old temp dir of a finished job removed; a young one and a running attempt's kept"; else bad "sweep at start" "$(ls -a "$A" | grep '^\.tmp-') $(grep 'temp dirs' "$S/logs/worker-$nw.log")"; fi
rm -rf "$A/.tmp-$k-L2-newbbb" "$A/.tmp-$sw-L$sl-oldccc"
release sweep; wait_terminal 30 "$sw" > /dev/null

# ---- 3. preemption: handed back without burning the delivery count ------------------------
stop_all_workers
echo '{"name": "preempt", "model": {"type": "sleep", "seconds": 1}}' > "$TMP/preempt.json"
hold preempt any
p=$(as_alice --no-wait "$TMP/preempt.json")
pre=0
MLHEP_WORKER_STOP_GRACE=1 add_worker; nw=$(newest_worker)
for i in 1 2 3 4 5; do
    wait_held_n "$p" "$i" || { bad "preempt held ($i)" "$(tail -n 3 "$S/logs/worker-$nw.log")"; break; }
    # the next worker starts while this one holds the job: it takes the handed-back copy
    [ "$i" -lt 5 ] && MLHEP_WORKER_STOP_GRACE=1 add_worker
    wp=$(cat "$S/pids/worker-$nw.pid"); kill -TERM "$wp"
    for _ in $(seq 200); do alive "$wp" || break; sleep 0.05; done
    rm -f "$S/pids/worker-$nw.pid"
    st=$(rcli HGET "mlhep:u:alice:job:$p" state); hb=$(rcli HGET "mlhep:u:alice:job:$p" handbacks)
    if ! alive "$wp" && [ "$hb" = "$i" ] && { [ "$st" = queued ] || [ "$st" = running ]; } && grep -q "stop grace over" "$S/logs/worker-$nw.log" && grep -q "job $p: handed back (shutdown; delivery count kept)" "$S/logs/worker-$nw.log"; then pre=$((pre + 1)); else bad "preemption $i" "state=$st handbacks=$hb $(tail -n 3 "$S/logs/worker-$nw.log")"; break; fi
    nw=$(newest_worker)
done
release preempt
add_worker
wait_terminal 60 "$p" > /dev/null
pa=$S/artifacts/alice/$p
nsucc=$(cat "$S"/logs/worker-*.log | grep -c "job $p: succeeded$")
rec=$(rcli HMGET "mlhep:u:alice:job:$p" state attempts handbacks deliveries | tr '\n' ' ')
if [ "$pre" = 5 ] && [ "$rec" = "succeeded 6 5 1 " ] && [ "$nsucc" = 1 ] && [ "$(jq .attempt "$pa/MANIFEST.json")" = 6 ] && [ -z "$(ls -a "$S/artifacts/alice" | grep "^\.tmp-$p")" ]; then ok "job preempted 5 times by SIGTERM (delivery limit 3) succeeded exactly once: attempt 6, 5 hand-backs, delivery 1, one artifact set"; else bad "5 preemptions" "preempted $pre, record (state attempts handbacks deliveries) = $rec, successes $nsucc"; fi
# within the grace: the stopping worker finishes the job
stop_all_workers
echo '{"name": "graceful", "model": {"type": "sleep", "seconds": 0.5}}' > "$TMP/graceful.json"
hold graceful any
MLHEP_WORKER_STOP_GRACE=60 add_worker; nw=$(newest_worker); wg=$(cat "$S/pids/worker-$nw.pid")
g=$(as_alice --no-wait "$TMP/graceful.json")
wait_held_n "$g" 1 || bad "graceful held" "$(tail -n 3 "$S/logs/worker-$nw.log")"
kill -TERM "$wg"
for _ in $(seq 100); do grep -q "may finish within 60 s" "$S/logs/worker-$nw.log" && break; sleep 0.1; done
release graceful
for _ in $(seq 600); do alive "$wg" || break; sleep 0.05; done
rm -f "$S/pids/worker-$nw.pid"
if ! alive "$wg" && [ "$(rcli HMGET "mlhep:u:alice:job:$g" state attempts worker | tr '\n' ' ')" = "succeeded 1 w$nw " ] && [ -z "$(rcli HGET "mlhep:u:alice:job:$g" handbacks)" ]; then ok "SIGTERM within the stop grace: the job finished on its worker (attempt 1), then the worker exited"; else bad "grace" "alive=$(alive "$wg" && echo yes) $(rcli HGETALL "mlhep:u:alice:job:$g" | paste -sd' ')"; fi

# ---- 4. liveness and readiness -------------------------------------------------------------
add_worker; nw=$(newest_worker)
H=$S/run/worker-$nw.health
chk() { MLHEP_WORKER_HEALTH_PATH=$H "$BIN/mlhep-worker" --config "$S/worker.conf" --check="$1" > "$TMP/chk.out" 2>&1; }
for _ in $(seq 300); do chk ready && break; sleep 0.1; done
chk live; l1=$?; chk ready; r1=$?
rpid=$(cat "$S/pids/redis.pid"); kill -TERM "$rpid"; for _ in $(seq 200); do alive "$rpid" || break; sleep 0.05; done
for _ in $(seq 100); do chk ready || break; sleep 0.1; done
chk ready; r2=$?; why=$(cat "$TMP/chk.out"); chk live; l2=$?
"$TOP/deploy/local/up.sh" --state "$S" --restart-redis > "$TMP/rr.log" 2>&1; wait_ping
for _ in $(seq 200); do chk ready && break; sleep 0.1; done
chk ready; r3=$?
if [ "$l1$r1" = 00 ] && [ "$r2" = 1 ] && [ "$l2" = 0 ] && [ "$r3" = 0 ] && [[ $why == *"status store down"* ]]; then ok "Redis outage: --check=live stays 0, --check=ready 1 ($why), ready again after"; else bad "probes" "live=$l1,$l2 ready=$r1,$r2,$r3: $why"; fi
wp=$(cat "$S/pids/worker-$nw.pid"); kill -TERM "$wp"; for _ in $(seq 200); do alive "$wp" || break; sleep 0.05; done; rm -f "$S/pids/worker-$nw.pid"
chk live; l3=$?
printf 'pid=%s\nupdated=%s\nbroker=up\nstore=up\naccepting=1\njob=-\n' "$$" "$(( $(date +%s) - 600 ))" > "$TMP/stuck.health"
MLHEP_WORKER_HEALTH_PATH=$TMP/stuck.health "$BIN/mlhep-worker" --config "$S/worker.conf" --check=live > "$TMP/chk.out" 2>&1; l4=$?
if [ "$l3" = 1 ] && [ "$l4" = 1 ] && grep -q "stuck" "$TMP/chk.out"; then ok "a stopped worker and a stuck one (state 600 s old) are not live"; else bad "not live" "stopped=$l3 stuck=$l4 $(cat "$TMP/chk.out")"; fi

# ---- 5. retention ----------------------------------------------------------------------------
# (bob's jobs; record 0.0001 days = 9 s, log 0.00006 days = 5 s; the only worker now)
MLHEP_RECORD_TTL_DAYS=0.0001 MLHEP_LOG_TTL_DAYS=0.00006 add_worker
echo '{"name": "short", "model": {"type": "sleep", "seconds": 0.1}}' > "$TMP/short.json"
bstate() { rcli HGET "mlhep:u:bob:job:$1" state; }
bwait() { for _ in $(seq 600); do case $(bstate "$1") in succeeded|failed|cancelled) return 0 ;; esac; sleep 0.1; done; return 1; }
x=$(as_bob --no-wait "$TMP/short.json"); bwait "$x"
rt=$(rcli TTL "mlhep:u:bob:job:$x"); lt=$(rcli TTL "mlhep:u:bob:log:$x")
ok_ttl=0; [ "$rt" -ge 1 ] && [ "$rt" -le 9 ] && [ "$lt" -ge 1 ] && [ "$lt" -le 5 ] && ok_ttl=1
for _ in $(seq 200); do [ "$(rcli EXISTS "mlhep:u:bob:job:$x")" = 0 ] && break; sleep 0.1; done
as_bob status "$x" >/dev/null 2>&1; src=$?
inlist=$(as_bob list | grep -c "$x")
zs1=$(rcli ZSCORE mlhep:u:bob:jobs "$x")
y=$(as_bob --no-wait "$TMP/short.json"); bwait "$y"
for _ in $(seq 50); do zs2=$(rcli ZSCORE mlhep:u:bob:jobs "$x"); [ -z "$zs2" ] && break; sleep 0.1; done
if [ $ok_ttl = 1 ] && [ "$src" = 8 ] && [ "$inlist" = 0 ] && [ -n "$zs1" ] && [ -z "$zs2" ] && [ -d "$S/artifacts/bob/$x" ]; then ok "retention: record (TTL $rt s) and log (TTL $lt s) expire; status and list forget the job; the next registration prunes the index; the artifact set stays"; else bad "retention" "ttl=$rt/$lt status=$src listed=$inlist index=$zs1/$zs2"; fi
# a job that has not ended has no TTL
hold keep2 any
echo '{"name": "keep2", "model": {"type": "sleep", "seconds": 0.1}}' > "$TMP/keep2.json"
kq=$(as_alice --no-wait "$TMP/keep2.json"); wait_held_n "$kq" 1
t_run=$(rcli TTL "mlhep:u:alice:job:$kq"); release keep2; wait_terminal 30 "$kq" > /dev/null
if [ "$t_run" = -1 ]; then ok "a running job's record has no TTL"; else bad "running TTL" "$t_run"; fi

if ! grep -q "AddressSanitizer\|runtime error" "$S"/logs/worker-*.log "$S"/logs/gateway.log; then ok "worker and gateway logs sanitizer-clean"; else bad "sanitizer" "$(grep -A5 "AddressSanitizer\|runtime error" "$S"/logs/*.log | head -30)"; fi
