# service_faults.sh - failure handling on a real RabbitMQ + Redis (one stack for all
# checks, delivery limit 2; jobs submitted and followed through the gateway, as users
# do): a worker SIGKILLed mid-job -> redelivered, finished by
# another worker with one artifact set; SIGTERM mid-job -> handed back (its delivery
# count kept) and finished elsewhere; a job that always crashes its worker ->
# dead-lettered and `failed` with the reason; broker restarts with jobs queued (and with
# one running) -> nothing lost, nothing completed twice. "Mid-job" is made certain with
# the workers' test hold (a file named like the job in $S/hold holds it at its steps).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../service_lib.sh"

svc_up --workers 2 --heartbeat 0.3 --delivery-limit 2 --test-hooks --users alice
wait_workers_ready 2 60 || { bad "workers ready" "$(tail -n 5 "$S"/logs/worker-*.log)"; exit 1; }
add_worker() { "$TOP/deploy/local/up.sh" --state "$S" --bin "$BIN" --add-workers 1 >/dev/null; }
pid_of_worker() { cat "$S/pids/worker-${1#w}.pid"; }
one_set() { # ID: exactly one final dir, no temp dirs
    [ -d "$S/artifacts/alice/$1" ] && [ -z "$(ls -a "$S/artifacts/alice" | grep -- "^\.tmp-$1")" ]
}

# hold NAME PHASE: the job named NAME waits at its steps of PHASE (train: mid-job);
# wait_held ID: until a worker logs that it holds job ID; release NAME
hold() { echo "$2" > "$S/hold/$1"; }
release() { rm -f "$S/hold/$1"; }
wait_held() { for _ in $(seq 300); do grep -q "job $1: held at step" "$S"/logs/worker-*.log && return 0; sleep 0.1; done; return 1; }

# --- SIGKILL mid-job
echo '{"name": "killme", "model": {"type": "sleep", "seconds": 3}}' > "$TMP/k.json"
hold killme train
k=$(as_alice --no-wait "$TMP/k.json")
wait_held "$k" || bad "SIGKILL: job held" "$(tail -n 3 "$S"/logs/worker-*.log)"
w1=$(field "$k" worker)
release killme
kill -KILL "$(pid_of_worker "$w1")"
wait_state "$k" succeeded 60; st=$(field "$k" state)
w2=$(field "$k" worker)
if [ "$st" = succeeded ] && [ "$w2" != "$w1" ] && [ "$(field "$k" attempts)" = 2 ]; then ok "SIGKILLed worker ($w1): job redelivered and finished on $w2 (attempt 2)"; else bad "SIGKILL" "state=$st w1=$w1 w2=$w2 attempts=$(field "$k" attempts)"; fi
if one_set "$k" && [ "$(jq .lease "$S/artifacts/alice/$k/MANIFEST.json")" = 2 ] && [ "$(ls "$S/artifacts/alice" | grep -c "$k")" = 1 ]; then ok "one artifact set (from lease 2), stale temp dir removed"; else bad "artifact set after SIGKILL" "$(ls -a "$S/artifacts/alice")"; fi
add_worker; wait_workers_ready 3 60

# --- SIGTERM mid-job (stop grace 0): handed back, finished elsewhere; the worker exits 0
# promptly; the copy it published starts a fresh delivery count
echo '{"name": "termme", "model": {"type": "sleep", "seconds": 3}}' > "$TMP/t.json"
hold termme train
t=$(as_alice --no-wait "$TMP/t.json")
wait_held "$t" || bad "SIGTERM: job held" "$(tail -n 3 "$S"/logs/worker-*.log)"
wt=$(field "$t" worker); pt=$(pid_of_worker "$wt")
t0=$(date +%s%N); kill -TERM "$pt"
for _ in $(seq 100); do alive "$pt" || break; sleep 0.05; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
release termme
if ! alive "$pt" && grep -q "job $t: handed back (shutdown; delivery count kept)" "$S/logs/worker-${wt#w}.log"; then ok "SIGTERM: worker $wt handed its job back and exited in $ms ms"; else bad "SIGTERM" "alive=$(alive "$pt" && echo yes) $(tail -n 5 "$S/logs/worker-${wt#w}.log")"; fi
wait_state "$t" succeeded 60
if [ "$(field "$t" state)" = succeeded ] && [ "$(field "$t" worker)" != "$wt" ] && one_set "$t" && [ "$(field "$t" handbacks)" = 1 ] && [ "$(field "$t" deliveries)" = 1 ]; then ok "handed-back job finished on another worker, one artifact set (attempt 2, delivery 1: the hand-back did not count)"; else bad "after SIGTERM" "state=$(field "$t" state) worker=$(field "$t" worker) handbacks=$(field "$t" handbacks) deliveries=$(field "$t" deliveries)"; fi
add_worker

# --- a job that always crashes its worker: dead-lettered after the delivery limit
echo '{"name": "crasher", "model": {"type": "sleep", "seconds": 0.4, "crash": true}}' > "$TMP/c.json"
c=$(as_alice --no-wait "$TMP/c.json")
for _ in $(seq 600); do   # respawn crashed workers (what systemd's Restart= does)
    st=$(field "$c" state); [ "$st" = failed ] && break
    for f in "$S"/pids/worker-*.pid; do
        alive "$(cat "$f")" || { rm -f "$f"; add_worker; }
    done
    sleep 0.1
done
err=$(field "$c" error)
if [ "$st" = failed ] && [[ $err == *"dead-lettered by the broker"*"delivery limit"* ]] && [ "$(field "$c" attempts)" = 3 ]; then ok "crashing job dead-lettered after 3 deliveries and failed: $err"; else bad "crash job" "state=$st attempts=$(field "$c" attempts) error=$err"; fi
if [ ! -e "$S/artifacts/alice/$c" ] && [ "$(queue_depth jobs.dead)" = 0 ] && [ -z "$(ls -a "$S/artifacts/alice" | grep "^\.tmp-$c")" ]; then ok "no artifacts for it, no temp dir of its 3 crashed attempts; dead-letter queue drained"; else bad "after dead-letter" "jobs.dead=$(queue_depth jobs.dead) $(ls -a "$S/artifacts/alice" | grep "^\.tmp-$c")"; fi

# --- broker restart with jobs queued (no worker running): none lost
for f in "$S"/pids/worker-*.pid; do kill -TERM "$(cat "$f")" 2>/dev/null; done
for f in "$S"/pids/worker-*.pid; do p=$(cat "$f"); for _ in $(seq 200); do alive "$p" || break; sleep 0.05; done; rm -f "$f"; done
echo '{"name": "q", "model": {"type": "sleep", "seconds": 0.2}}' > "$TMP/q.json"
qs=(); for i in $(seq 6); do qs+=("$(as_alice --no-wait "$TMP/q.json")"); done
d=$(queue_depth jobs.train)
if "$TOP/deploy/local/up.sh" --state "$S" --restart-broker > "$TMP/restart.log" 2>&1; then ok "broker restarted with $d jobs queued ($(grep ready "$TMP/restart.log"))"; else bad "broker restart" "$(cat "$TMP/restart.log")"; fi
"$TOP/deploy/local/up.sh" --state "$S" --bin "$BIN" --add-workers 2 >/dev/null
all=1; for q in "${qs[@]}"; do wait_state "$q" succeeded 90 || { all=0; bad "queued across restart" "$q: $(field "$q" state)"; break; }; done
if [ $all = 1 ] && [ "$d" = 6 ]; then ok "all 6 jobs queued across the broker restart succeeded"; else bad "queued across restart" "depth before restart $d (expected 6)"; fi

# --- broker restart while a job runs: finishes exactly once
r=$(as_alice --no-wait "$TMP/k.json")
wait_state "$r" running 30; sleep 0.5
"$TOP/deploy/local/up.sh" --state "$S" --restart-broker > "$TMP/restart2.log" 2>&1 || bad "broker restart 2" "$(cat "$TMP/restart2.log")"
wait_state "$r" succeeded 90
n=$(cat "$S"/logs/worker-*.log | grep -c "job $r: succeeded$")
if [ "$(field "$r" state)" = succeeded ] && one_set "$r" && [ "$n" = 1 ]; then ok "job running during a broker restart succeeded, one artifact set (attempts $(field "$r" attempts))"; else bad "running across restart" "state=$(field "$r" state) successes=$n $(ls -a "$S/artifacts/alice")"; fi
for _ in $(seq 100); do [ "$(grep -l "connected to broker" "$S"/logs/worker-*.log | wc -l)" -ge 2 ] && break; sleep 0.1; done
q2=$(as_alice --no-wait "$TMP/q.json")
if wait_state "$q2" succeeded 30 && [ "$(grep -l "connected to broker" "$S"/logs/worker-*.log | wc -l)" -ge 2 ]; then ok "workers reconnected by themselves and take new jobs"; else bad "reconnect" "$(tail -n 5 "$S"/logs/worker-*.log)"; fi
if ! grep -q "AddressSanitizer\|runtime error" "$S"/logs/worker-*.log; then ok "worker logs sanitizer-clean"; else bad "sanitizer" "$(grep -A5 "AddressSanitizer\|runtime error" "$S"/logs/worker-*.log | head -30)"; fi
