#!/usr/bin/env bash
# service_forgery.sh - forged, replayed and expired messages on a real RabbitMQ + Redis
# (deploy/local/up.sh, one worker, JWT auth) change no job record and publish nowhere
# (issue 19; the provenance rule is common/service/msgsig.h):
#   - hand-made messages published as someone holding the operator broker account (no
#     service key) and as a compromised component holding the worker account (default
#     exchange: straight into jobs.train, jobs.dead, jobs.specs), unsigned, badly signed
#     or signed as another kind: job, registry, cancel, dead-letter (expired on the
#     broker, or published into jobs.dead), sub-task; none touches a record: the
#     running job stays running and succeeds, the finished one stays finished, a
#     forged registration of a new id leaves no record, no specs results appear;
#   - replays of genuinely signed messages (job, cancel, dead-letter) of a finished job
#     change nothing;
#   - prediction requests whose reply_to names an internal queue are answered nowhere;
#   - predict.requests full: the broker refuses at once and the client hears it (CLI
#     error, gateway 503 with Retry-After); requests expire (queue TTL, and each
#     request's own expiration = the client's wait) instead of being processed later;
#   - data_hosts: the service's Redis over http:// refused by the CLI, the gateway and
#     the worker (nothing fetched); inputs from a listed loopback xrootd (root:// and
#     http://) read; the same server named "localhost" refused;
#   - a job name with a newline and terminal escapes: not recorded, never printed raw
#     by status/list/logs; the sleep kind refused by a worker without test_hooks.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../remote/server.sh"
. "$(dirname "$0")/../service_lib.sh"
trap 'xrd_stop; svc_down; [ -n "${MLHEP_KEEP_LOGS:-}" ] && mkdir -p "$MLHEP_KEEP_LOGS" && cp -r "$S/logs" "$MLHEP_KEEP_LOGS/" 2>/dev/null; rm -rf "$TMP"' EXIT
PY=/usr/bin/python3
$PY -c 'import pika' 2>/dev/null || { bad forgery_setup "python3-pika missing (deploy/packages.txt)"; exit 1; }
command -v xrootd >/dev/null || { bad forgery_setup "xrootd not installed (deploy/packages.txt)"; exit 1; }

# inputs for the remote-read checks, served by a loopback xrootd (root:// and http://)
G=$TMP/gen; mkdir -p "$G"; chmod 755 "$TMP" "$G"
GEN="$TOP/bin/mlhep-root"; [ -x "$GEN" ] || GEN="$BIN/mlhep-root"
"$GEN" gen --events 3000 --class signal --seed 5 --out "$G/s.root" >/dev/null 2>&1 &&
"$GEN" gen --events 3000 --class background --seed 6 --out "$G/b.root" >/dev/null 2>&1 || { bad forgery_setup "mlhep-root gen failed"; exit 1; }
chmod 644 "$G"/*.root
xrd_start "$G" || { bad forgery_setup "xrootd did not start"; exit 1; }
svc_up --workers 1 --infer 0 --heartbeat 0.5 --test-hooks --users alice,bob --data-roots "$G" \
    --data-hosts "*, 127.0.0.1:$HTTP_PORT, 127.0.0.1:$XRD_PORT" --predict-max-length 3 --predict-ttl-ms 8000
wait_workers_ready 1 60 || { bad "worker ready" "$(tail -n 5 "$S"/logs/worker-*.log)"; exit 1; }
W=$S/logs/worker-1.log
ALICE=$(cat "$S/users/alice.token"); BOB=$(cat "$S/users/bob.token")
rcli() { redis-cli -p "$REDIS_PORT" --user admin --pass "$(cat "$S/secrets/redis-admin.pw")" --no-auth-warning "$@"; }
# forge ACCOUNT EXCHANGE KEY BODYFILE ARGS...: publish one hand-made message (tests/py/amqp_forge.py)
forge() {
    local acct=$1 ex=$2 key=$3 body=$4; shift 4
    $PY "$TOP/tests/py/amqp_forge.py" --port "$AMQP_PORT" --user "$acct" --password-file "$S/secrets/broker-$acct.pw" \
        --exchange "$ex" --key "$key" --body "$body" "$@"
}
drops() { grep -c "does not come from the service" "$W"; } # messages the worker dropped unread
wait_drops() { # N SECS: until the worker has dropped N messages
    local i=0; while [ "$(drops)" -lt "$1" ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    [ "$(drops)" -ge "$1" ]
}
# a job's record as one line (fields a forgery could touch) plus its log length
snap() { rcli HMGET "mlhep:u:alice:job:$1" state error attempts lease cancel_requested name finished artifacts | tr '\n' '|'; rcli LLEN "mlhep:u:alice:log:$1"; }
jobmsg() { # ID TOKEN NAME SECONDS -> a job message body (job.h, version 1)
    printf '{"v":1,"id":"%s","user":"alice","token":"%s","submitted":%s,"workflow":{"name":"%s","model":{"type":"sleep","seconds":%s}}}' \
        "$1" "$2" "$(date +%s)" "$3" "$4"
}
cancelmsg() { printf '{"v":1,"op":"cancel","id":"%s","user":"%s","token":"%s"}' "$1" "$2" "$3"; }

# --- a finished job and a running one
echo '{"name": "done", "model": {"type": "sleep", "seconds": 0.2}}' > "$TMP/done.json"
echo '{"name": "run", "model": {"type": "sleep", "seconds": 40}}' > "$TMP/run.json"
JD=$(as_alice --no-wait "$TMP/done.json")
wait_state "$JD" succeeded 60 || { bad "setup: finished job" "$(field "$JD" state) $(tail -n 5 "$W")"; exit 1; }
JR=$(as_alice --no-wait "$TMP/run.json")
wait_state "$JR" running 60 || { bad "setup: running job" "$(field "$JR" state)"; exit 1; }
snap "$JD" > "$TMP/jd.before"; snap "$JR" > "$TMP/jr.before"
NEW=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')

# --- 1. expired on the broker, then dead-lettered (the issue's "failed: expired"): the
# worker is busy with JR, so these sit in jobs.train until they expire (500 ms)
jobmsg "$JR" garbage x 1 > "$TMP/f_exp.json"
forge operator jobs train "$TMP/f_exp.json" --expiration 500
forge operator jobs train "$TMP/f_exp.json" --expiration 500 --sig "mlhepsig1.job.$(printf '0%.0s' $(seq 64))"
# registry copies (2) at once, dead-letter copies (2) after expiry
if wait_drops 4 30 && [ "$(grep -c 'dead-letter: dropped a message' "$W")" = 2 ]; then
    ok "forged job messages expired into jobs.dead (unsigned, bad signature): dropped by the registry and dead-letter handlers"
else bad "expired forgeries" "drops=$(drops) $(tail -n 5 "$W")"; fi
# --- 2. the others, each dropped as it arrives (jobs.train and jobs.specs ones once JR ends)
jobmsg "$JR" garbage x 1 > "$TMP/f_job.json"
forge operator jobs train "$TMP/f_job.json"                                        # registry now, jobs.train later
jobmsg "$NEW" "$ALICE" fresh 0.1 > "$TMP/f_new.json"
forge operator jobs train "$TMP/f_new.json"                                        # a new id, alice's real token
cancelmsg "$JR" alice "$ALICE" > "$TMP/c_alice.json"
forge operator jobs cancel "$TMP/c_alice.json"                                     # the owner's token, unsigned
cancelmsg "$JR" alice "$BOB" > "$TMP/c_bob.json"
forge operator jobs cancel "$TMP/c_bob.json"                                       # bob's token for alice's job
forge operator jobs cancel "$TMP/c_alice.json" --sign-kind job --key-file "$S/secrets/service.key" # signed as another kind
forge worker "" jobs.dead "$TMP/f_job.json" --header x-first-death-reason=delivery_limit # straight into jobs.dead
printf '{"v":2,"kind":"specs","id":"%s","user":"alice","lease":1,"task":0,"ntasks":1,"file":0,"unit0":0,"nunits":-1,"files":[{"path":"/etc/shadow","label":1}]}' "$JR" > "$TMP/f_sub.json"
forge worker "" jobs.specs "$TMP/f_sub.json"                                        # a sub-task (later)
forge worker "" jobs.dead "$TMP/f_sub.json" --header x-first-death-reason=delivery_limit
forge worker "" jobs.train "$TMP/f_job.json"                                        # default exchange into jobs.train
# registry 2, control 3, dead-letter 2 now (the jobs.train and jobs.specs ones wait for the worker)
if wait_drops 11 30; then ok "forged registry, cancel (unsigned, another user's token, wrong kind), dead-letter and sub-task dead-letter messages dropped"; else bad "forgeries dropped" "drops=$(drops) $(tail -n 8 "$W")"; fi
# --- 3. replays of genuine (signed) messages of the finished job
jobmsg "$JD" "$ALICE" done 0.2 > "$TMP/r_job.json"
cancelmsg "$JD" alice "$ALICE" > "$TMP/r_cancel.json"
forge operator jobs cancel "$TMP/r_cancel.json" --sign-kind cancel --key-file "$S/secrets/service.key"
forge worker "" jobs.dead "$TMP/r_job.json" --sign-kind job --key-file "$S/secrets/service.key" --header x-first-death-reason=expired
forge operator jobs train "$TMP/r_job.json" --sign-kind job --key-file "$S/secrets/service.key" # run once JR ends
for _ in $(seq 100); do grep -q "control: cancel job $JD of alice: already finished" "$W" && break; sleep 0.1; done
if grep -q "control: cancel job $JD of alice: already finished" "$W"; then ok "replayed signed cancel of a finished job: nothing done"; else bad "replayed cancel" "$(tail -n 5 "$W")"; fi
# JR is unharmed: still running, no cancel request, then succeeds
if [ "$(field "$JR" state)" = running ] && [ -z "$(field "$JR" cancel_requested)" ] && [ -z "$(field "$JR" error)" ]; then
    ok "the running job is untouched by every forgery (still running, no cancel request, no error)"
else bad "running job untouched" "$(snap "$JR")"; fi
wait_state "$JR" succeeded 60
# the jobs.train forgeries (3: two through the exchange, one straight in) and the
# sub-task (1) now reach the worker
wait_drops 15 30
for _ in $(seq 100); do grep -q "job $JD: not run: already finished" "$W" && break; sleep 0.1; done
if [ "$(field "$JR" state)" = succeeded ] && [ "$(drops)" = 15 ]; then ok "15 forged messages dropped unread; the running job then succeeded"; else bad "drops" "state=$(field "$JR" state) drops=$(drops) $(grep 'does not come' "$W" | cut -c1-160 | tail -n 3)"; fi
if grep -q "job $JD: not run: already finished" "$W"; then ok "replayed signed job message of a finished job: skipped"; else bad "replayed job" "$(tail -n 5 "$W")"; fi
snap "$JD" > "$TMP/jd.after"
if cmp -s "$TMP/jd.before" "$TMP/jd.after"; then ok "the finished job's record and log are unchanged (replayed dead-letter, cancel, job)"; else bad "finished job unchanged" "$(diff "$TMP/jd.before" "$TMP/jd.after")"; fi
jr=$(snap "$JR")
if [[ $jr == succeeded\|\|1\|1\|\|run\|* ]]; then ok "the running job's record: succeeded on its one attempt, no error, no cancel"; else bad "running job record" "$jr"; fi
if [ "$(rcli EXISTS "mlhep:u:alice:job:$NEW")" = 0 ] && ! as_alice status "$NEW" >/dev/null 2>&1; then ok "a forged registration of a new job id left no record"; else bad "forged registration" "$(rcli HGETALL "mlhep:u:alice:job:$NEW" | tr '\n' ' ')"; fi
if [ -z "$(rcli --scan --pattern 'mlhep:u:alice:specs:*')" ]; then ok "the forged sub-task wrote no specs result"; else bad "forged sub-task" "$(rcli --scan --pattern 'mlhep:u:alice:specs:*')"; fi
q="$(queue_depth jobs.train) $(queue_depth jobs.registry) $(queue_depth jobs.control) $(queue_depth jobs.dead) $(queue_depth jobs.specs)"
if [ "$q" = "0 0 0 0 0" ]; then ok "every job queue drained (nothing republished)"; else bad "queues drained" "train registry control dead specs: $q"; fi

# --- 4. prediction requests naming an internal queue as reply_to: answered nowhere
"$TOP/deploy/local/up.sh" --state "$S" --bin "$BIN" --add-infer 1 > /dev/null
I=$S/logs/infer-1.log
for _ in $(seq 300); do grep -q ' ready' "$I" 2>/dev/null && break; sleep 0.1; done
d0=$(drops)
echo '{"model": "nosuch", "rows": [{"x": 1.0}]}' > "$TMP/pred.json"
for q in jobs.train jobs.dead jobs.control jobs.registry; do
    forge operator predict predict "$TMP/pred.json" --reply-to "$q" --corr "c-$q" --token "Bearer $ALICE" --type predict
done
forge operator predict predict "$TMP/pred.json" --corr c-none --token "Bearer $ALICE" --type predict
for _ in $(seq 100); do [ "$(grep -c 'is not a direct reply-to address' "$I")" -ge 5 ] && break; sleep 0.1; done
# a genuine client still gets its answer (direct reply-to); mlhep-infer logs a drop in
# place of publishing, and has answered this later request too when the queues are read
out=$(as_alice predict --model nosuch --timeout 20 "$TMP/pred.json" 2>&1); rc=$?
q="$(queue_depth jobs.train) $(queue_depth jobs.registry) $(queue_depth jobs.control) $(queue_depth jobs.dead)"
if [ "$(grep -c 'is not a direct reply-to address' "$I")" = 5 ] && [ "$q" = "0 0 0 0" ] && [ "$(drops)" = "$d0" ]; then
    ok "prediction requests with reply_to jobs.train/dead/control/registry or none: dropped by mlhep-infer, nothing published"
else bad "reply_to" "drops=$(grep -c 'is not a direct reply-to' "$I") queues=$q worker drops $d0 -> $(drops)"; fi
if [ $rc != 0 ] && [[ $out == *"unknown_model"* ]]; then ok "a direct reply-to request is still answered (unknown_model)"; else bad "direct reply-to" "rc=$rc $out"; fi

# --- 5. predict.requests full (x-max-length 3, reject-publish) and expiring (TTL 8 s)
ip=$(cat "$S/pids/infer-1.pid"); kill -TERM "$ip"; for _ in $(seq 200); do alive "$ip" || break; sleep 0.05; done
rm -f "$S/pids/infer-1.pid"
# a consumer that takes one request and never answers (a stuck inference worker): the
# queue has a consumer, so the gateway sends (it fails requests at once only when nobody
# consumes), and the queue fills behind it
IACCT=worker; [ -s "$S/secrets/broker-infer.pw" ] && IACCT=infer
$PY "$TOP/tests/py/amqp_forge.py" --port "$AMQP_PORT" --user "$IACCT" --password-file "$S/secrets/broker-$IACCT.pw" \
    --key - --hold predict.requests > "$TMP/hold.out" 2>&1 & hp=$!
for _ in $(seq 200); do grep -q holding "$TMP/hold.out" && break; sleep 0.05; done
# fill: forge requests until the broker refuses one (the queue's 8 s TTL empties it
# again, so each check below fills it first); nf = requests taken, frc = the refusal
fill() { frc=0; nf=0; while [ $frc = 0 ] && [ $nf -lt 20 ]; do nf=$((nf + 1)); forge operator predict predict "$TMP/pred.json" --corr "fill$nf" --type predict; frc=$?; done; }
fill; nf1=$nf
t0=$(date +%s%N); out=$(as_alice predict --model nosuch --timeout 30 "$TMP/pred.json" 2>&1); rc=$?; ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $frc = 3 ] && [ $nf1 -ge 4 ] && [ $rc != 0 ] && [[ $out == *"prediction queue is full"* ]] && [ $ms -lt 10000 ]; then
    ok "full prediction queue: the broker refuses the request beyond 3 ready (nack) and the CLI says so at once ($ms ms, not after its 30 s wait)"
else bad "full queue (CLI)" "depth=$(queue_depth predict.requests) forge rc=$frc after $nf1 cli rc=$rc in $ms ms: $out"; fi
fill; out=$(as_operator predict --model nosuch --timeout 30 "$TMP/pred.json" 2>&1); rc=$?
if [ $rc != 0 ] && [[ $out == *"prediction queue is full"* ]]; then ok "... and an operator's CLI straight on the broker too"; else bad "full queue (operator CLI)" "rc=$rc $out"; fi
GW=$(cat "$S/gateway.url")
fill; code=$(curl -s -o "$TMP/gw.out" -D "$TMP/gw.hdr" -w '%{http_code}' --cacert "$S/tls/ca.pem" -H "Authorization: Bearer $ALICE" \
    -H 'Content-Type: application/json' --data-binary @"$TMP/pred.json" "$GW/v1/predict")
if [ "$code" = 503 ] && grep -qi '^retry-after:' "$TMP/gw.hdr" && grep -q 'queue is full' "$TMP/gw.out"; then
    ok "full prediction queue: the gateway answers 503 with Retry-After"
else bad "full queue (gateway)" "HTTP $code $(cat "$TMP/gw.out")"; fi
kill "$hp"; wait "$hp" 2>/dev/null # its request returns to the queue (and expires there)
for _ in $(seq 200); do [ "$(queue_depth predict.requests)" = 0 ] && break; sleep 0.1; done
if [ "$(queue_depth predict.requests)" = 0 ]; then ok "queued requests expired on the broker (x-message-ttl) instead of waiting for a worker"; else bad "queue TTL" "depth $(queue_depth predict.requests)"; fi
# a client's own request expires with its wait (1 s), well before the queue's 8 s (an
# operator's CLI: through the gateway nothing is queued while no worker consumes)
t0=$(date +%s%N); out=$(as_operator predict --model nosuch --timeout 1 "$TMP/pred.json" 2>&1); rc=$?
for _ in $(seq 60); do [ "$(queue_depth predict.requests)" = 0 ] && break; sleep 0.05; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $rc = 16 ] && [[ $out == *"no reply within"* ]] && [ "$(queue_depth predict.requests)" = 0 ] && [ $ms -lt 7000 ]; then ok "an abandoned CLI request (queued: no reply within its 1 s) expired with its wait (gone after $ms ms)"; else bad "request expiration" "rc=$rc $out; depth $(queue_depth predict.requests) after $ms ms"; fi
# after a few seconds without a consumer (a restarting worker's grace) the gateway says so at once
for _ in $(seq 30); do out=$(as_alice predict --model nosuch --timeout 1 "$TMP/pred.json" 2>&1); rc=$?; [[ $out == *"no worker consumes"* ]] && break; done
if [ $rc != 0 ] && [[ $out == *"no worker consumes predict.requests"* ]]; then ok "no inference worker: the gateway says so at once, nothing queued"; else bad "no consumer" "rc=$rc $out"; fi
"$TOP/deploy/local/up.sh" --state "$S" --bin "$BIN" --add-infer 1 > /dev/null
I2=$(ls -t "$S"/logs/infer-*.log | head -n 1)
for _ in $(seq 300); do grep -q ' ready' "$I2" 2>/dev/null && break; sleep 0.1; done
ip=$(cat "$S"/pids/infer-*.pid | tail -n 1); sleep 1; kill -TERM "$ip"; for _ in $(seq 200); do alive "$ip" || break; sleep 0.05; done
if grep -q "served 0 .*errors 0, dropped 0" "$I2"; then ok "an inference worker started after the outage answers none of the abandoned requests"; else bad "nothing processed later" "$(tail -n 2 "$I2")"; fi

# --- 6. data_hosts
mlp() { # NAME FILE1 FILE2
    printf '{"name": "%s", "tree": "Events", "files": [{"path": "%s", "label": 1}, {"path": "%s", "label": 0}], "params": {"epochs": 1, "selected_branches": ["MET_pt", "HT"]}, "model": {"type": "mlp", "layers": [{"dense": 4, "activation": "relu"}, {"dense": 1, "activation": "sigmoid"}]}}\n' "$1" "$2" "$3"
}
mlp redis "http://127.0.0.1:$REDIS_PORT/x.root" "http://127.0.0.1:$REDIS_PORT/y.root" > "$TMP/redis.json"
out=$(as_alice "$TMP/redis.json" 2>&1); rc=$?
if [ $rc = 15 ] && [[ $out == *"not allowed by data_hosts"*"nothing was queued"* ]]; then ok "the service's Redis over http:// refused by mlhep-submit (exit 15, data_hosts)"; else bad "data_hosts CLI" "rc=$rc $out"; fi
code=$(curl -s -o "$TMP/gw.out" -w '%{http_code}' --cacert "$S/tls/ca.pem" -H "Authorization: Bearer $ALICE" \
    -H 'Content-Type: application/json' --data-binary @"$TMP/redis.json" "$GW/v1/jobs")
if [ "$code" = 400 ] && grep -q 'data_hosts' "$TMP/gw.out"; then ok "... and by the gateway (400, nothing queued)"; else bad "data_hosts gateway" "HTTP $code $(cat "$TMP/gw.out")"; fi
id=$(as_operator --unchecked --no-wait "$TMP/redis.json") # an operator skipping the checks: the worker refuses
wait_state "$id" failed 60
if [[ $(field "$id" error) == *"not allowed by data_hosts"* ]] && ! grep -q "SECURITY ATTACK" "$S/redis/redis.log"; then
    ok "... and by the worker (job failed naming data_hosts; Redis saw no HTTP request)"
else bad "data_hosts worker" "$(field "$id" state): $(field "$id" error) $(grep -c 'SECURITY' "$S/redis/redis.log")"; fi
mlp local "http://localhost:$HTTP_PORT/data/s.root" "root://127.0.0.1:$XRD_PORT//data/b.root" > "$TMP/lh.json"
out=$(as_alice "$TMP/lh.json" 2>&1); rc=$?
if [ $rc = 15 ] && [[ $out == *"host localhost"*"data_hosts"* ]]; then ok "the listed server named 'localhost' refused (loopback by name, not listed)"; else bad "localhost by name" "rc=$rc $out"; fi
mlp remote "http://127.0.0.1:$HTTP_PORT/data/s.root" "root://127.0.0.1:$XRD_PORT//data/b.root" > "$TMP/remote.json"
id=$(as_alice --no-wait "$TMP/remote.json")
wait_state "$id" succeeded 180
if [ "$(field "$id" state)" = succeeded ]; then ok "inputs from the listed loopback xrootd (http:// and root://) read by the worker: job succeeded"; else bad "listed hosts" "$(field "$id" state): $(field "$id" error)"; fi

# --- 7. names with control characters, and the sleep kind without test hooks
printf '{"name": "x\\n\\u001b[31mevil\\u0007", "model": {"type": "sleep", "seconds": 0.1}}\n' > "$TMP/evil.json"
id=$(as_operator --unchecked --no-wait "$TMP/evil.json")
wait_state "$id" failed 60
st=$(as_alice status "$id" 2>&1); ls_=$(as_alice list 2>&1); lg=$(as_alice logs "$id" 2>&1)
if [ -z "$(field "$id" name)" ] && [[ $(field "$id" error) == *"/name"* ]] && ! printf '%s%s%s' "$st" "$ls_" "$lg" | grep -q $'[\x01-\x08\x0b-\x1f\x7f]' &&
    [ "$(printf '%s\n' "$st" | grep -c '^name ')" = 1 ] && [ "$(printf '%s\n' "$st" | wc -l)" -le 9 ]; then
    ok "a name with a newline and escapes: not recorded, the job refused, status/list/logs print no control character"
else bad "control characters" "name=$(field "$id" name | od -c | head -2) $(printf '%s' "$st" | od -c | grep -m2 '033\|\\a')"; fi
code=$(curl -s -o "$TMP/gw.out" -w '%{http_code}' --cacert "$S/tls/ca.pem" -H "Authorization: Bearer $ALICE" "$GW/v1/jobs/$id/logs?format=text")
if [ "$code" = 200 ] && ! grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$TMP/gw.out"; then ok "the gateway's text logs carry no control character"; else bad "gateway text logs" "HTTP $code"; fi
# a worker without test hooks refuses the sleep kind (it holds a worker for up to an hour)
wp=$(worker_pid 1); kill -TERM "$wp"; for _ in $(seq 200); do alive "$wp" || break; sleep 0.05; done
sed 's/^test_hooks = .*/test_hooks = 0/' "$S/worker.conf" > "$S/worker-nohooks.conf"
MLHEP_WORKER_ID=w9 nohup "$BIN/mlhep-worker" --config "$S/worker-nohooks.conf" > "$S/logs/worker-9.log" 2>&1 < /dev/null &
echo $! > "$S/pids/worker-9.pid"
id=$(as_alice --no-wait "$TMP/done.json")
wait_state "$id" failed 60
if [[ $(field "$id" error) == *"'sleep' is a test hook"*"test_hooks=0"* ]]; then ok "the sleep kind refused by a worker without test_hooks"; else bad "sleep without hooks" "$(field "$id" state): $(field "$id" error)"; fi

if ! grep -l "AddressSanitizer\|runtime error" "$S"/logs/*.log >/dev/null 2>&1; then ok "sanitizer-clean service logs"; else bad "sanitizer" "$(grep -h -A3 "AddressSanitizer\|runtime error" "$S"/logs/*.log | head)"; fi
