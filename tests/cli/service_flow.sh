# service_flow.sh - the service end to end on a real RabbitMQ + Redis (one stack for
# all checks): submit -> succeeded with artifacts and status fields; invalid workflows
# and tokens refused with nothing queued; 20 jobs over 3 workers each finish exactly
# once; users cannot see or cancel each other's jobs; cancel of queued and running
# jobs; down.sh leaves no process behind.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../service_lib.sh"

svc_up --workers 0 --heartbeat 0.3 --users alice,bob

# --- refusals before any worker runs: nothing may reach the queues
echo '{"name": "broken", "model": {"type": "sleep", "seconds": 1}' > "$TMP/bad.json"
out=$(as_alice "$TMP/bad.json" 2>&1); rc=$?
if [ $rc = 5 ] && [[ $out == *"bad.json:"[0-9]*":"*"invalid JSON"*"nothing was queued"* ]]; then ok "invalid JSON refused (exit 5, line:col)"; else bad "invalid JSON refused" "rc=$rc out=$out"; fi
echo '{"name": "x", "model": {"type": "bdt"}}' > "$TMP/bad2.json"
out=$(as_alice "$TMP/bad2.json" 2>&1); rc=$?
if [ $rc = 5 ] && [[ $out == *"model.type 'bdt' is not supported"* ]]; then ok "unknown model refused (exit 5)"; else bad "unknown model refused" "rc=$rc out=$out"; fi
echo '{"model": {"type": "sleep", "seconds": -1}}' > "$TMP/bad3.json"
out=$(as_alice "$TMP/bad3.json" 2>&1); rc=$?
if [ $rc = 5 ] && [[ $out == *"workflow.name"* ]]; then ok "missing name refused (exit 5)"; else bad "missing name refused" "rc=$rc out=$out"; fi
echo '{"name": "demo", "model": {"type": "sleep", "seconds": 0.5}}' > "$TMP/wf.json"
out=$(MLHEP_TOKEN= "$BIN/mlhep-submit" --config "$S/users/alice.conf" "$TMP/wf.json" 2>&1); rc=$?
if [ $rc = 4 ] && [[ $out == *"no bearer token"* ]]; then ok "missing token refused (exit 4)"; else bad "missing token refused" "rc=$rc out=$out"; fi
out=$(MLHEP_TOKEN=alice "$BIN/mlhep-submit" --config "$S/users/alice.conf" "$TMP/wf.json" 2>&1); rc=$?
if [ $rc = 4 ] && [[ $out == *"only 'dev:<user>'"* ]]; then ok "non-dev token refused (exit 4)"; else bad "non-dev token refused" "rc=$rc out=$out"; fi
out=$(MLHEP_AUTH_MODE=jwt as_alice "$TMP/wf.json" 2>&1); rc=$?
if [ $rc = 4 ] && [[ $out == *"auth_mode=dev"* ]]; then ok "dev token refused unless auth_mode=dev (exit 4)"; else bad "dev token without auth_mode=dev" "rc=$rc out=$out"; fi
out=$(MLHEP_AMQP_PASSWORD=wrong as_alice "$TMP/wf.json" 2>&1); rc=$?
if [ $rc = 6 ] && [[ $out == *"refused"* ]] && [[ $out != *wrong* ]]; then ok "wrong broker password (exit 6, secret not printed)"; else bad "wrong broker password" "rc=$rc out=$out"; fi
d1=$(queue_depth jobs.train); d2=$(queue_depth jobs.registry)
if [ "$d1" = 0 ] && [ "$d2" = 0 ]; then ok "nothing queued after refusals (jobs.train=$d1 jobs.registry=$d2)"; else bad "nothing queued" "jobs.train=$d1 jobs.registry=$d2"; fi

# --- the submitter user may only publish to 'jobs' (broker permissions)
"$TOP/deploy/local/up.sh" --state "$S" --bin "$BIN" --add-workers 3 >/dev/null
if wait_workers_ready 3 60; then ok "3 workers ready"; else bad "3 workers ready" "$(tail -n 5 "$S"/logs/worker-*.log)"; fi

# --- submit -> succeeded, with artifacts and status fields
id=$(as_alice "$TMP/wf.json" 2>"$TMP/submit.err"); rc=$?
if [ $rc = 0 ] && [[ $id =~ ^[0-9a-f]{32}$ ]]; then ok "submit prints a 128-bit id"; else bad "submit" "rc=$rc id=$id $(cat "$TMP/submit.err")"; fi
as_alice watch --timeout 60 "$id" > "$TMP/watch.out"; rc=$?
if [ $rc = 0 ] && grep -q '^running train' "$TMP/watch.out" && tail -n1 "$TMP/watch.out" | grep -q '^succeeded'; then ok "watch follows to succeeded (exit 0)"; else bad "watch" "rc=$rc $(cat "$TMP/watch.out")"; fi
as_alice --json status "$id" > "$TMP/st.json"
chk=$(jq -r '[.state, .attempts, .lease, .progress, (.worker|test("^w[0-9]$")), .user, .name, (.finished|length>0), (.error // "")] | map(tostring) | join(",")' "$TMP/st.json")
if [ "$chk" = "succeeded,1,1,1,true,alice,demo,true," ]; then ok "status fields (state attempts lease progress worker user name finished)"; else bad "status fields" "$chk"; fi
art=$(jq -r .artifacts "$TMP/st.json")
if [ "$art" = "$S/artifacts/alice/$id" ] && [ -f "$art/model.json" ] && [ -f "$art/metrics.json" ] && [ -f "$art/job.log" ] && [ -f "$art/MANIFEST.json" ]; then ok "artifact set stored"; else bad "artifact set" "$art: $(ls -la "$art" 2>&1)"; fi
if (cd "$art" && jq -r '.files[] | "\(.sha256)  \(.name)"' MANIFEST.json | sha256sum -c --quiet) && [ "$(jq -r '.lease, .job' "$art/MANIFEST.json" | tr '\n' ' ')" = "1 $id " ]; then ok "manifest checksums and lease match"; else bad "manifest" "$(cat "$art/MANIFEST.json")"; fi
as_alice result "$id" --fetch "$TMP/fetch" > "$TMP/result.out"; rc=$?
if [ $rc = 0 ] && cmp -s "$art/model.json" "$TMP/fetch/$id/model.json" && grep -q '^metrics ' "$TMP/result.out"; then ok "result --fetch copies the artifacts"; else bad "result --fetch" "rc=$rc $(cat "$TMP/result.out")"; fi
if as_alice logs "$id" | grep -q 'attempt 1 on worker w'; then ok "logs"; else bad "logs" "$(as_alice logs "$id" 2>&1)"; fi

# --- 20 jobs over 3 workers: each finishes exactly once
echo '{"name": "small", "model": {"type": "sleep", "seconds": 0.2}}' > "$TMP/small.json"
ids=()
for i in $(seq 20); do ids+=("$(as_alice --no-wait "$TMP/small.json")"); done
all=1
for j in "${ids[@]}"; do wait_state "$j" succeeded 90 || { all=0; bad "20 jobs" "$j: $(as_alice status "$j" 2>&1)"; break; }; done
[ $all = 1 ] && ok "20 jobs over 3 workers all succeeded"
once=1
for j in "${ids[@]}"; do
    n=$(cat "$S"/logs/worker-*.log | grep -c "job $j: succeeded")
    a=$(field "$j" attempts)
    sets=$(ls -d "$S/artifacts/alice/$j" "$S/artifacts/alice/.tmp-$j"* 2>/dev/null | wc -l)
    [ "$n" = 1 ] && [ "$a" = 1 ] && [ "$sets" = 1 ] || { once=0; bad "exactly once" "$j: succeeded $n times, attempts $a, $sets dirs"; break; }
done
[ $once = 1 ] && ok "each of the 20 ran exactly once (one success, attempts 1, one artifact dir)"
used=$(for j in "${ids[@]}"; do field "$j" worker; done | sort -u | wc -l)
if [ "$used" -ge 2 ]; then ok "jobs spread over $used workers"; else bad "spread" "only $used worker used"; fi
n=$(as_alice list | grep -c small)
if [ "$n" = 20 ]; then ok "list shows the user's jobs"; else bad "list" "$n small jobs listed"; fi

# --- isolation: bob sees nothing of alice's
out=$(as_bob status "$id" 2>&1); rc=$?
if [ $rc = 8 ]; then ok "bob cannot read alice's job (exit 8)"; else bad "bob status" "rc=$rc $out"; fi
as_bob cancel "$id" >/dev/null 2>&1; rc1=$?; as_bob result "$id" >/dev/null 2>&1; rc2=$?; as_bob logs "$id" >/dev/null 2>&1; rc3=$?
if [ "$rc1$rc2$rc3" = 888 ]; then ok "bob cannot cancel, fetch or read logs of alice's job"; else bad "bob other commands" "$rc1 $rc2 $rc3"; fi
if [ -z "$(as_bob list | tail -n +2)" ]; then ok "bob's list is empty"; else bad "bob list" "$(as_bob list)"; fi
out=$(redis-cli -p "$REDIS_PORT" --user u-bob --pass "$(cat "$S/secrets/redis-u-bob.pw")" --no-auth-warning hgetall "mlhep:u:alice:job:$id" 2>&1)
out2=$(redis-cli -p "$REDIS_PORT" --user u-bob --pass "$(cat "$S/secrets/redis-u-bob.pw")" --no-auth-warning hset "mlhep:u:bob:job:$id" state succeeded 2>&1)
if [[ $out == NOPERM* ]] && [[ $out2 == NOPERM* ]]; then ok "Redis ACL: bob's account can neither read alice's keys nor write"; else bad "Redis ACL" "$out / $out2"; fi
# a forged cancel (bob's token naming alice as the user) is refused by the worker
# (covered by the worker's token check; see README-service.md)

# --- cancel: queued job skipped, running jobs stop at the next step
echo '{"name": "long", "model": {"type": "sleep", "seconds": 30}}' > "$TMP/long.json"
l1=$(as_alice --no-wait "$TMP/long.json"); l2=$(as_alice --no-wait "$TMP/long.json"); l3=$(as_alice --no-wait "$TMP/long.json")
for l in $l1 $l2 $l3; do wait_state "$l" running 30; done
q=$(as_alice "$TMP/wf.json" 2>/dev/null)
wait_state "$q" queued 10
out=$(as_alice cancel "$q"); rc=$?
if [ $rc = 0 ] && [ "$out" = cancelled ] && [ "$(field "$q" state)" = cancelled ]; then ok "cancel of a queued job"; else bad "cancel queued" "rc=$rc $out state=$(field "$q" state)"; fi
t0=$(date +%s%N)
for l in $l1 $l2 $l3; do as_alice cancel "$l" >/dev/null; done
stopped=1
for l in $l1 $l2 $l3; do wait_state "$l" cancelled 10 || stopped=0; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $stopped = 1 ]; then ok "3 running jobs cancelled, stopped within $ms ms"; else bad "cancel running" "$(for l in $l1 $l2 $l3; do field "$l" state; done)"; fi
# the cancelled job's delivery reaches a now idle worker, which skips it
for _ in $(seq 50); do grep -q "job $q: not run" "$S"/logs/worker-*.log && break; sleep 0.1; done
if [ "$(field "$q" attempts)" = 0 ] && [ ! -e "$S/artifacts/alice/$q" ] && grep -q "job $q: not run" "$S"/logs/worker-*.log; then ok "cancelled queued job never ran"; else bad "cancelled job ran" "attempts=$(field "$q" attempts)"; fi
ls "$S/artifacts/alice/" | grep -q "^\.tmp-" && bad "temp dirs" "$(ls -a "$S/artifacts/alice")" || ok "no temp dirs left behind"
as_alice cancel "$id" >/dev/null 2>&1; rc=$?
if [ $rc = 13 ]; then ok "cancel of a finished job (exit 13)"; else bad "cancel finished" "rc=$rc"; fi
as_alice watch "$l1" >/dev/null 2>&1; rc=$?
if [ $rc = 10 ]; then ok "watch of a cancelled job (exit 10)"; else bad "watch cancelled" "rc=$rc"; fi

# --- failure path
echo '{"name": "f", "model": {"type": "sleep", "seconds": 0.3, "fail": true}}' > "$TMP/fail.json"
f=$(as_alice --no-wait "$TMP/fail.json")
as_alice watch --timeout 30 "$f" >/dev/null 2>"$TMP/w.err"; rc=$?
if [ $rc = 9 ] && grep -q 'failed as requested' "$TMP/w.err" && [ "$(field "$f" attempts)" = 1 ]; then ok "failing job: failed with its error, not retried (exit 9)"; else bad "failing job" "rc=$rc $(cat "$TMP/w.err")"; fi

# --- no secrets in logs
if grep -q -F -f <(cat "$S"/secrets/*.pw) "$S"/logs/*.log "$TMP"/*.out 2>/dev/null; then bad "secrets" "a password appears in a log"; else ok "no password in worker logs or CLI output"; fi

# --- down: every process stopped by pid
pids=$(cat "$S"/pids/*.pid)
"$TOP/deploy/local/down.sh" --state "$S" > "$TMP/down.log" 2>&1
left=""; for p in $pids; do alive "$p" && left="$left $p"; done
if [ -z "$left" ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$AMQP_PORT") 2>/dev/null; then ok "down.sh stops everything (workers, broker, redis, epmd)"; else bad "down.sh" "still alive:$left"; fi
if grep -q "signal 15" "$S"/logs/worker-*.log && ! grep -q "AddressSanitizer\|runtime error" "$S"/logs/worker-*.log; then ok "workers stopped cleanly on SIGTERM, sanitizer-clean"; else bad "worker shutdown" "$(tail -n 20 "$S"/logs/worker-*.log)"; fi
