# tests/service_lib.sh - helpers for the service script tests (tests/cli/service_*.sh);
# sourced after tests/lib.sh. Starts ONE stack (deploy/local/up.sh) per test script in
# $TMP/st on free ports and stops it by PID (deploy/local/down.sh) on exit, even on
# failure.
#   svc_up ARGS...        up.sh --state $S --bin $BIN ARGS; sets S, AMQP_PORT, REDIS_PORT,
#                         GATEWAY_PORT and GW_URL (the gateway's https:// URL)
#   as_alice/as_bob ARGS  mlhep-submit as that user: their config (the gateway's URL and CA,
#                         no broker or Redis account) and token
#   as_operator ARGS      mlhep-submit with the operator's config (the broker and Redis
#                         directly, around the gateway) and alice's token ($OP_USER's)
#   gw_curl USER ARGS     curl to the gateway with USER's token and the stack's CA
#   field ID NAME [USER]  one field of the job's status record (via status --json)
#   wait_state ID STATE SECS [USER]   polls until the job reaches STATE
#   wait_workers_ready N SECS         until N worker logs say "ready"
#   ctl ARGS              rabbitmqctl against the test node
#   queue_depth QUEUE     ready messages in a queue
TOP=${MLHEP_TOP:?}
S=$TMP/st
svc_down() { [ -d "$S/pids" ] && "$TOP/deploy/local/down.sh" --state "$S" >/dev/null 2>&1; }
# MLHEP_KEEP_LOGS=DIR keeps the stack's logs there for inspection
trap 'svc_down; [ -n "${MLHEP_KEEP_LOGS:-}" ] && mkdir -p "$MLHEP_KEEP_LOGS" && cp -r "$S/logs" "$S/rabbitmq/log" "$MLHEP_KEEP_LOGS/" 2>/dev/null; rm -rf "$TMP"' EXIT
svc_up() {
    local t0=$SECONDS
    if ! "$TOP/deploy/local/up.sh" --state "$S" --bin "$BIN" "$@" > "$TMP/up.log" 2>&1; then
        cat "$TMP/up.log"; tail -n 30 "$S"/rabbitmq/log/*.log 2>/dev/null
        bad "stack up" "deploy/local/up.sh failed"; exit 1
    fi
    . "$S/ports"
    GW_URL=$(cat "$S/gateway.url" 2>/dev/null)
    echo "# stack up in $((SECONDS - t0)) s: $(grep 'rabbitmq ready' "$TMP/up.log")"
}
as_user() { local u=$1; shift; "$BIN/mlhep-submit" --config "$S/users/$u.conf" --token-file "$S/users/$u.token" "$@"; }
as_alice() { as_user alice "$@"; }
as_bob() { as_user bob "$@"; }
as_operator() { "$BIN/mlhep-submit" --config "$S/operator.conf" --token-file "$S/users/${OP_USER:-alice}.token" "$@"; }
gw_curl() { local u=$1; shift; curl -sS --cacert "$S/tls/ca.pem" -H "Authorization: Bearer $(cat "$S/users/$u.token")" "$@"; }
field() { as_user "${3:-alice}" --json status "$1" 2>/dev/null | jq -r --arg k "$2" '.[$k] // empty'; }
wait_state() { # ID STATE SECS [USER]
    local i=0 n=$(( $3 * 10 ))
    while [ $i -lt $n ]; do
        [ "$(field "$1" state "${4:-alice}")" = "$2" ] && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
wait_workers_ready() { # N SECS
    local i=0 n=$(( $2 * 10 ))
    while [ $i -lt $n ]; do
        [ "$(grep -l ' ready: ' "$S"/logs/worker-*.log 2>/dev/null | wc -l)" -ge "$1" ] && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
ctl() {
    HOME=$S/rabbitmq RABBITMQ_CONF_ENV_FILE=/dev/null ERL_EPMD_PORT=$EPMD_PORT \
        /usr/lib/rabbitmq/bin/rabbitmqctl -q -n "mlhep$AMQP_PORT@localhost" "$@"
}
# ready messages, asked of the queue itself (rabbitmqctl's counts for quorum queues
# are periodic metrics and lag behind)
queue_depth() { "$BIN/mlhep-worker" --config "$S/worker.conf" --queue-depth "$1" | cut -d' ' -f1; }
worker_pid() { cat "$S/pids/worker-$1.pid"; }
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1; [ -n "$st" ] && [[ $st != Z* ]]; }
