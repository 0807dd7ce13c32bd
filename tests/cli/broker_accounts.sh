#!/usr/bin/env bash
# broker_accounts.sh - what each service account may and may not do, tried for real on
# the stack's RabbitMQ and Redis (deploy/local/up.sh --no-gateway, no workers: nothing
# else consumes while the accounts are probed) with each account's own password
# (tests/py/broker_probe.py, python3-pika; redis-cli). The table is docs/operations.md's
# "Accounts":
#   - gateway and operator publish only to the exchanges jobs and predict (not the
#     default exchange) and consume nothing;
#   - worker consumes the jobs.* queues, not predict.requests, and publishes only through
#     the default exchange (sub-tasks, hand-backs), not to jobs or predict;
#   - infer consumes only predict.requests, publishes only through the default exchange
#     (replies to direct reply-to): not to jobs or predict, reads no jobs.* queue;
#   - nobody but admin configures (declares) anything;
#   - a prediction round trip with the gateway's and infer's accounts works (direct
#     reply-to), and without the write right on amq.default the broker refuses infer's
#     reply: that right is what direct reply-to needs on the server side;
#   - Redis: worker reads and writes mlhep:*; gateway reads mlhep:* and writes only
#     mlhep:u:*:idem:*; operator only reads; infer has no Redis account at all.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../service_lib.sh"
PY=/usr/bin/python3
$PY -c 'import pika' 2>/dev/null || { bad accounts_setup "python3-pika missing (deploy/packages.txt)"; exit 1; }
svc_up --no-gateway --workers 0 --infer 0 --auth dev --users alice

probe() { # ACCOUNT OP ARGS... : exit 0 allowed, 5 refused; output in $TMP/probe.out ($OUT)
    $PY "$TOP/tests/py/broker_probe.py" --port "$AMQP_PORT" --user "$1" --password-file "$S/secrets/broker-$1.pw" "${@:2}" \
        > "${OUT:-$TMP/probe.out}" 2>&1
}
# expect ACCOUNT may|not OP ARGS...
fails=
expect() {
    local acct=$1 want=$2 rc; shift 2
    probe "$acct" "$@"; rc=$?
    case $want:$rc in
    may:0|not:5) ;;
    *) fails="$fails; $acct $want $* (exit $rc: $(head -c 200 "$TMP/probe.out"))" ;;
    esac
}
JOBQ="jobs.train jobs.registry jobs.control jobs.dead jobs.specs"

# -- consuming
fails=
for a in gateway operator; do for q in $JOBQ predict.requests; do expect $a not consume "$q"; done; done
[ -z "$fails" ] && ok "gateway and operator consume nothing (jobs.*, predict.requests refused)" || bad "gateway/operator consume" "${fails#; }"
fails=
for q in $JOBQ; do expect worker may consume "$q"; done
expect worker not consume predict.requests
[ -z "$fails" ] && ok "worker consumes the jobs.* queues, not predict.requests" || bad "worker consume" "${fails#; }"
fails=
expect infer may consume predict.requests
for q in $JOBQ; do expect infer not consume "$q"; done
[ -z "$fails" ] && ok "infer consumes predict.requests only (every jobs.* queue refused)" || bad "infer consume" "${fails#; }"

# -- publishing (routing keys that route nowhere: an allowed probe leaves nothing queued)
fails=
for a in gateway operator; do
    expect $a may publish jobs probe.none; expect $a may publish predict probe.none
    expect $a not publish "" probe.none
done
[ -z "$fails" ] && ok "gateway and operator publish to jobs and predict only (default exchange refused)" || bad "gateway/operator publish" "${fails#; }"
fails=
for a in worker infer; do
    expect $a not publish jobs probe.none; expect $a not publish predict probe.none
    expect $a may publish "" probe.none
done
[ -z "$fails" ] && ok "worker and infer cannot publish to jobs or predict (only the default exchange: sub-tasks, hand-backs, replies)" || bad "worker/infer publish" "${fails#; }"
fails=
for a in gateway operator worker infer; do expect $a not declare probe.q; done
[ -z "$fails" ] && ok "no service account configures anything (queue declare refused)" || bad "configure" "${fails#; }"

# -- queue depths (passive declare) need no right: probes and KEDA use them
fails=
for a in worker infer; do expect $a may count predict.requests; expect $a may count jobs.train; done
[ -z "$fails" ] && ok "passive declares (queue depth for probes and KEDA) allowed without read rights" || bad "passive declare" "${fails#; }"

# -- the prediction round trip with the gateway's and infer's accounts (direct reply-to)
roundtrip() { # prints "ok" when the reply came back
    OUT=$TMP/server.out probe infer reply-to-server predict.requests & local sp=$!
    OUT=$TMP/client.out probe gateway reply-to-client predict predict; local crc=$?
    wait $sp; local src=$?
    echo "$crc $src $(cat "$TMP/client.out") / $(cat "$TMP/server.out")"
}
r=$(roundtrip)
if [ "${r%% *}" = 0 ] && [[ $r == *"probe-1 answer:ping"* ]]; then ok "prediction round trip: gateway publishes to predict, infer answers on direct reply-to"
else bad "direct reply-to round trip" "$r"; fi
# without the write right on amq.default the reply is refused: the right is needed
ctl set_permissions -p mlhep infer '^$' '^$' '^predict\.requests$' >/dev/null
r=$(roundtrip)
ctl set_permissions -p mlhep infer '^$' '^amq\.default$' '^predict\.requests$' >/dev/null
read -r crc src _ <<< "$r"
if [ "$crc" = 6 ] && [ "$src" = 5 ]; then ok "without write on amq.default infer's reply is refused (direct reply-to publishes through the default exchange)"
else bad "amq.default needed" "client $crc server $src: $r"; fi
# leave predict.requests empty (the refused round trip's request went back to the queue)
$PY - "$AMQP_PORT" "$S/secrets/broker-infer.pw" <<'PY' || true
import sys, pika
c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", int(sys.argv[1]), "mlhep",
                            pika.PlainCredentials("infer", open(sys.argv[2]).read().strip())))
ch = c.channel()
while True:
    m = ch.basic_get("predict.requests", auto_ack=True)
    if m[0] is None:
        break
c.close()
PY

# -- Redis accounts
rc() { local u=$1; shift; redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --no-auth-warning --user "$u" --pass "$(cat "$S/secrets/redis-$u.pw")" "$@" 2>&1; }
radmin() { rc admin "$@"; }
radmin HSET mlhep:u:alice:job:probe state queued >/dev/null
fails=
[ "$(rc worker HGET mlhep:u:alice:job:probe state)" = queued ] || fails="$fails; worker read"
[ "$(rc worker HSET mlhep:u:alice:job:probe note w)" = 1 ] || fails="$fails; worker write"
[ "$(rc gateway HGET mlhep:u:alice:job:probe state)" = queued ] || fails="$fails; gateway read"
[[ $(rc gateway SET mlhep:u:alice:idem:probe x) == OK ]] || fails="$fails; gateway idem write"
[[ $(rc gateway SET mlhep:u:alice:job:probe2 x) == *NOPERM* ]] || fails="$fails; gateway writes a job record"
[[ $(rc gateway DEL mlhep:u:alice:job:probe) == *NOPERM* ]] || fails="$fails; gateway deletes a job record"
[ "$(rc operator HGET mlhep:u:alice:job:probe state)" = queued ] || fails="$fails; operator read"
[[ $(rc operator HSET mlhep:u:alice:job:probe state failed) == *NOPERM* ]] || fails="$fails; operator writes"
[[ $(rc operator SET mlhep:u:alice:idem:probe y) == *NOPERM* ]] || fails="$fails; operator writes an idempotency key"
[ ! -e "$S/secrets/redis-infer.pw" ] && ! grep -q '^user infer ' "$S/redis/users.acl" && ! grep -q '^redis_user' "$S/infer.conf" ||
    fails="$fails; infer has a Redis account or infer.conf names one"
[[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --no-auth-warning --user infer --pass x PING 2>&1) == *WRONGPASS* ]] || fails="$fails; user infer authenticates"
[ "$(radmin HGET mlhep:u:alice:job:probe state)" = queued ] || fails="$fails; the record changed"
[ -z "$fails" ] && ok "Redis: worker reads and writes; gateway reads, writes only idempotency keys; operator only reads; infer has no account" || bad "Redis accounts" "${fails#; }"

# -- the configurations up.sh writes use those accounts
if grep -q '^amqp_user = infer$' "$S/infer.conf" && ! grep -q '^service_key' "$S/infer.conf" && grep -q '^amqp_user = worker$' "$S/worker.conf"; then
    ok "infer.conf: broker account infer, no service key, no Redis account"
else bad "infer.conf" "$(grep -E '^(amqp_user|redis_user|service_key)' "$S/infer.conf")"; fi
