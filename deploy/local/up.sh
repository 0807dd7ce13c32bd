#!/usr/bin/env bash
# deploy/local/up.sh - starts a local mlhep service on loopback: a private epmd, RabbitMQ
# (with broker/definitions.json), Redis (ACL users), N workers and M inference workers
# (mlhep-infer, serving predictions from the artifact store) and the gateway (mlhep-gateway,
# the HTTPS front door users reach), all under one state dir.
#
#   deploy/local/up.sh [--state DIR] [--workers N] [--infer M] [--users alice,bob] [--bin DIR]
#                      [--amqp-port P] [--redis-port P] [--delivery-limit N]
#                      [--heartbeat SEC] [--test-hooks] [--auth jwt|dev]
#                      [--token-ttl SEC] [--queue-grace SEC] [--data-roots DIR:DIR]
#                      [--stop-grace SEC] [--no-gateway] [--gateway-plain]
#                      [--data-hosts LIST] [--predict-max-length N] [--predict-ttl-ms MS]
#
# Defaults: --state ./mlhep-state, 2 workers, 1 inference worker, users alice,bob, bin/ of
# this checkout, free ports chosen at random, delivery limit 3, heartbeat 2 s, JWT auth
# (RS256: a signing key is generated into secrets/, each user gets a token valid
# --token-ttl seconds, default 12 h, minted by deploy/local/mint-token.sh; the key stands
# in for an identity provider), queue grace 1 day, data roots ../shared/data/root when
# present, stop grace 0 (a stopped worker hands its running job back at its next step; the
# service's default worker_stop_grace is 20 s), data hosts `*` (any host with public
# addresses; --data-hosts sets the data_hosts list, e.g. "127.0.0.1:1094,.cern.ch"),
# predict.requests holding at most 100000 requests for at most 60000 ms
# (--predict-max-length, --predict-ttl-ms: the broker refuses requests beyond,
# broker/definitions.json). Run as root (RabbitMQ is run directly,
# without its su wrapper). Prints the ports and the per-user CLI config.
#
# Users reach the service only through the gateway: their configuration holds its URL
# and CA and no broker or Redis account. Operators inside the cluster (and the tests that
# deliberately go around the gateway) use operator.conf: the broker account `operator`
# (publishes jobs, cancel requests and predictions) and the Redis account `operator`
# (reads every user's records, writes nothing), with any user's token, and the service
# key that signs what it publishes (msgsig.h).
#
# State dir layout (everything the stack writes lives here):
#   secrets/        generated passwords and service.key (the key that signs the
#                   service's internal messages, common/service/msgsig.h: read by the
#                   workers, the gateway and the operator CLI configs), mode 0600
#   rabbitmq/       broker node (mnesia, logs, rendered definitions)
#   redis/          redis data (AOF on), users.acl, redis.log
#   artifacts/      artifact store (one dir per user, one per job)
#   worker.conf     worker configuration (passwords by *_file reference)
#   infer.conf      the inference workers' configuration: their own broker account
#                   `infer` (consumes predict.requests, publishes only replies to direct
#                   reply-to), no Redis account and no service key (mlhep-infer never
#                   touches Redis and publishes no jobs)
#   users/NAME.conf CLI configuration for user NAME: gateway_url and gateway_ca only
#                   (not written with --no-gateway: users then have no way in)
#   operator.conf   CLI configuration for operators: the broker and Redis directly,
#                   with the service key
#   gateway.conf    the gateway's configuration (its own broker and Redis accounts)
#   tls/            a local CA (ca.pem) and the gateway's certificate (gateway.pem, key)
#   users/NAME.token  the user's bearer token (a JWT, or dev:NAME with --auth dev)
#   jwt-public.pem  the token verification key (secrets/jwt-signing.key signs); user
#                   tokens carry the scopes mlhep.submit and mlhep.predict
#   pids/           epmd, rabbitmq, redis, worker-N, infer-N pids (down.sh stops them by pid)
#   run/            worker-N.health: each worker's state (worker_health_path), read by
#                   `mlhep-worker --check=live|ready` with MLHEP_WORKER_HEALTH_PATH set
#   hold/           with --test-hooks: the workers' test_hold_dir (a file named like a job
#                   holds it at its progress steps; worker/mlhep_worker.c)
#   logs/           worker-N.log, infer-N.log, epmd.log, rabbitmq.out
#   ports           AMQP_PORT=.. REDIS_PORT=.. EPMD_PORT=.. GATEWAY_PORT=.. (sourceable)
#   gateway.url     https://127.0.0.1:GATEWAY_PORT (TLS with tls/ca.pem; --gateway-plain:
#                   http on loopback)
# Add workers later with: deploy/local/up.sh --state DIR --add-workers N (--add-infer N)
# Restart only the broker (same data, ports and passwords): --restart-broker
# Restart only Redis (same data and port): --restart-redis [--redis-signal TERM|KILL]
#   [--redis-load-delay US]: TERM (the default) lets Redis flush its AOF, KILL does not;
#   --redis-load-delay makes the new Redis spend US microseconds per key while it loads
#   its data (Redis's key-load-delay: it answers LOADING meanwhile; for fault tests)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
S=./mlhep-state; NW=2; USERS=alice,bob; BIN=$top/bin; AMQP_PORT=; REDIS_PORT=; LIMIT=3; HB=2; HOOKS=0
ADD=; RESTART=0; NI=1; ADDI=; AUTH=jwt; TTL=43200; GRACE=86400; STOPGRACE=0
RRESTART=0; RSIG=TERM; RDELAY=0
ROOTS=; [ -d "$top/../shared/data/root" ] && ROOTS=$(cd "$top/../shared/data/root" && pwd)
ISSUER=https://mlhep.local
GW=1; GWTLS=1; DATA_HOSTS='*'; PMAXLEN=100000; PTTL=60000
while [ $# -gt 0 ]; do
    case $1 in
    --state) S=$2; shift 2 ;;
    --workers) NW=$2; shift 2 ;;
    --infer) NI=$2; shift 2 ;;
    --add-infer) ADDI=$2; shift 2 ;;
    --users) USERS=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    --amqp-port) AMQP_PORT=$2; shift 2 ;;
    --redis-port) REDIS_PORT=$2; shift 2 ;;
    --delivery-limit) LIMIT=$2; shift 2 ;;
    --heartbeat) HB=$2; shift 2 ;;
    --test-hooks) HOOKS=1; shift ;;
    --auth) AUTH=$2; shift 2 ;;
    --token-ttl) TTL=$2; shift 2 ;;
    --queue-grace) GRACE=$2; shift 2 ;;
    --data-roots) ROOTS=$2; shift 2 ;;
    --add-workers) ADD=$2; shift 2 ;;
    --restart-broker) RESTART=1; shift ;;
    --restart-redis) RRESTART=1; shift ;;
    --redis-signal) RSIG=$2; shift 2 ;;
    --redis-load-delay) RDELAY=$2; shift 2 ;;
    --stop-grace) STOPGRACE=$2; shift 2 ;;
    --no-gateway) GW=0; shift ;;
    --gateway-plain) GWTLS=0; shift ;;
    --data-hosts) DATA_HOSTS=$2; shift 2 ;;
    --predict-max-length) PMAXLEN=$2; shift 2 ;;
    --predict-ttl-ms) PTTL=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "up.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
case $AUTH in jwt|dev) ;; *) echo "up.sh: --auth must be jwt or dev" >&2; exit 2 ;; esac
mkdir -p "$S"; S=$(cd "$S" && pwd)
BIN=$(cd "$BIN" && pwd)
[ -x "$BIN/mlhep-worker" ] || { echo "up.sh: $BIN/mlhep-worker not built (make all)" >&2; exit 2; }

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # wait_port PORT SECONDS PID NAME
    local i=0 n=$(( $2 * 20 ))
    while ! port_open "$1"; do
        if ! kill -0 "$3" 2>/dev/null; then echo "up.sh: $4 exited during startup (see logs in $S)" >&2; return 1; fi
        i=$((i + 1)); [ $i -lt $n ] || { echo "up.sh: $4 not listening on $1 after $2 s" >&2; return 1; }
        sleep 0.05
    done
}

start_worker() { # start_worker INDEX
    local i=$1
    mkdir -p "$S/run"
    MLHEP_WORKER_ID=w$i MLHEP_WORKER_HEALTH_PATH=$S/run/worker-$i.health \
        nohup "$BIN/mlhep-worker" --config "$S/worker.conf" \
        >"$S/logs/worker-$i.log" 2>&1 </dev/null &
    echo $! > "$S/pids/worker-$i.pid"
}

start_redis() { # start_redis [EXTRA ARGS...]: the stack's Redis on REDIS_PORT, daemonized
    rm -f "$S/redis/redis.pid"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$S/redis" --daemonize yes \
        --pidfile "$S/redis/redis.pid" --logfile "$S/redis/redis.log" --aclfile "$S/redis/users.acl" \
        --appendonly yes --appendfsync everysec --save "" "$@"
    for _ in $(seq 100); do [ -s "$S/redis/redis.pid" ] && break; sleep 0.05; done
    cp "$S/redis/redis.pid" "$S/pids/redis.pid"
}

start_infer() { # start_infer INDEX
    local i=$1
    local auth=()
    [ -f "$S/infer-auth.json" ] && grep -q '^auth_mode = jwt' "$S/worker.conf" && auth=(--auth "$S/infer-auth.json")
    MLHEP_WORKER_ID=i$i nohup "$BIN/mlhep-infer" --config "$S/infer.conf" "${auth[@]}" \
        >"$S/logs/infer-$i.log" 2>&1 </dev/null &
    echo $! > "$S/pids/infer-$i.pid"
}

alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1; [ -n "$st" ] && [[ $st != Z* ]]; }

start_broker() {
    ERL_EPMD_PORT=$EPMD_PORT MLHEP_DELIVERY_LIMIT=$LIMIT MLHEP_RABBITMQ_DIST_PORT=$DIST_PORT \
    MLHEP_PREDICT_MAX_LENGTH=$PMAXLEN MLHEP_PREDICT_TTL_MS=$PTTL \
    MLHEP_BROKER_ADMIN_PASSWORD=$(cat "$S/secrets/broker-admin.pw") \
    MLHEP_BROKER_OPERATOR_PASSWORD=$(cat "$S/secrets/broker-operator.pw") \
    MLHEP_BROKER_WORKER_PASSWORD=$(cat "$S/secrets/broker-worker.pw") \
    MLHEP_BROKER_GATEWAY_PASSWORD=$(cat "$S/secrets/broker-gateway.pw") \
    MLHEP_BROKER_INFER_PASSWORD=$(cat "$S/secrets/broker-infer.pw") \
        nohup "$top/broker/start-rabbitmq.sh" "$S/rabbitmq" "$AMQP_PORT" >>"$S/logs/rabbitmq.out" 2>&1 </dev/null &
    echo $! > "$S/pids/rabbitmq.pid"
    local t0; t0=$(date +%s%N)
    wait_port "$AMQP_PORT" 120 "$(cat "$S/pids/rabbitmq.pid")" rabbitmq
    echo "rabbitmq ready after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

if [ "$RESTART" = 1 ]; then
    [ -f "$S/ports" ] || { echo "up.sh: no stack in $S" >&2; exit 2; }
    . "$S/ports"
    LIMIT=$(cat "$S/delivery-limit" 2>/dev/null || echo "$LIMIT")
    read -r PMAXLEN PTTL < "$S/predict-limits" 2>/dev/null || true
    pid=$(cat "$S/pids/rabbitmq.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 600); do alive "$pid" || break; sleep 0.05; done
    if alive "$pid"; then echo "up.sh: broker did not stop" >&2; exit 1; fi
    echo "rabbitmq stopped"
    start_broker
    exit 0
fi

if [ "$RRESTART" = 1 ]; then
    [ -f "$S/ports" ] || { echo "up.sh: no stack in $S" >&2; exit 2; }
    . "$S/ports"
    case $RSIG in TERM|KILL) ;; *) echo "up.sh: --redis-signal must be TERM or KILL" >&2; exit 2 ;; esac
    pid=$(cat "$S/pids/redis.pid")
    kill -"$RSIG" "$pid" 2>/dev/null || true
    for _ in $(seq 600); do alive "$pid" || break; sleep 0.05; done
    if alive "$pid"; then echo "up.sh: redis did not stop" >&2; exit 1; fi
    echo "redis stopped ($RSIG)"
    extra=(); [ "$RDELAY" != 0 ] && extra=(--key-load-delay "$RDELAY")
    start_redis "${extra[@]}"
    # up once it accepts connections (it may still be loading its data: LOADING)
    wait_port "$REDIS_PORT" 10 "$(cat "$S/pids/redis.pid")" redis
    echo "redis restarted"
    exit 0
fi

if [ -n "$ADDI" ]; then
    [ -f "$S/worker.conf" ] || { echo "up.sh: no stack in $S" >&2; exit 2; }
    n=$(ls "$S/logs" "$S/pids" | sed -n 's/^infer-\([0-9]*\)\..*/\1/p' | sort -n | tail -n1)
    n=${n:-0}
    for i in $(seq $((n + 1)) $((n + ADDI))); do start_infer "$i"; done
    echo "added $ADDI inference worker(s)"
    exit 0
fi

if [ -n "$ADD" ]; then
    [ -f "$S/worker.conf" ] || { echo "up.sh: no stack in $S" >&2; exit 2; }
    # next free index: above every worker ever started here (logs are kept)
    n=$(ls "$S/logs" "$S/pids" | sed -n 's/^worker-\([0-9]*\)\..*/\1/p' | sort -n | tail -n1)
    n=${n:-0}
    for i in $(seq $((n + 1)) $((n + ADD))); do start_worker "$i"; done
    echo "added $ADD worker(s)"
    exit 0
fi

if [ -f "$S/pids/rabbitmq.pid" ] && kill -0 "$(cat "$S/pids/rabbitmq.pid")" 2>/dev/null; then
    echo "up.sh: a stack is already running in $S (deploy/local/down.sh --state $S)" >&2; exit 2
fi
umask 077
mkdir -p "$S/secrets" "$S/rabbitmq" "$S/redis" "$S/artifacts" "$S/users" "$S/pids" "$S/logs"
chmod 755 "$S/artifacts"
genpw() { [ -s "$S/secrets/$1.pw" ] || head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$S/secrets/$1.pw"; }
for n in broker-admin broker-operator broker-worker broker-gateway broker-infer redis-admin redis-worker redis-gateway redis-operator; do genpw $n; done
# the service key (msgsig.h): 64 hex digits, kept across restarts of the same state dir
[ -s "$S/secrets/service.key" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$S/secrets/service.key"
IFS=, read -r -a users <<< "$USERS"
for u in "${users[@]}"; do
    [[ $u =~ ^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$ ]] || { echo "up.sh: bad user name '$u'" >&2; exit 2; }
done
[ -n "$AMQP_PORT" ] || AMQP_PORT=$(free_port)
[ -n "$REDIS_PORT" ] || REDIS_PORT=$(free_port)
EPMD_PORT=$(free_port)
DIST_PORT=$(free_port)
printf 'AMQP_PORT=%s\nREDIS_PORT=%s\nEPMD_PORT=%s\nDIST_PORT=%s\n' "$AMQP_PORT" "$REDIS_PORT" "$EPMD_PORT" "$DIST_PORT" > "$S/ports"
chmod 644 "$S/ports"
cleanup_on_error() { echo "up.sh: startup failed; stopping what was started" >&2; "$top/deploy/local/down.sh" --state "$S" >&2; }
trap cleanup_on_error ERR

# --- epmd: a private one on its own port, so stopping it cannot hurt other nodes
nohup epmd -port "$EPMD_PORT" >"$S/logs/epmd.log" 2>&1 </dev/null &
echo $! > "$S/pids/epmd.pid"

# --- Redis with ACL users: admin (ops), worker (read-write mlhep:*), gateway, operator
# (read-only, every user's records); users have no Redis account
{
    # not `default off`: Redis 7.0 replays the AOF's MULTI/EXEC blocks (our multi-key Lua
    # scripts) as the default user and silently drops them when it has no rights
    # (redis/redis#14541), losing every job record at restart; so it gets the admin password
    echo "user default on >$(cat "$S/secrets/redis-admin.pw") ~* &* +@all"
    echo "user admin on >$(cat "$S/secrets/redis-admin.pw") ~* &* +@all"
    echo "user worker on >$(cat "$S/secrets/redis-worker.pw") resetkeys ~mlhep:* resetchannels -@all +@read +@write +@scripting +ping +auth +hello -@dangerous"
    # the gateway reads every user's records (it answers for the token's user only) and
    # writes nothing but idempotency keys of submissions
    echo "user gateway on >$(cat "$S/secrets/redis-gateway.pw") resetkeys %R~mlhep:* %RW~mlhep:u:*:idem:* resetchannels -@all +hgetall +hget +zrevrange +lrange +pttl +get +set +del +ping +auth +hello"
    echo "user operator on >$(cat "$S/secrets/redis-operator.pw") resetkeys %R~mlhep:* resetchannels -@all +hgetall +hget +zrevrange +lrange +pttl +ping +auth +hello"
} > "$S/redis/users.acl"
start_redis
wait_port "$REDIS_PORT" 10 "$(cat "$S/pids/redis.pid")" redis

# --- RabbitMQ in the foreground, backgrounded here
echo "$LIMIT" > "$S/delivery-limit"
echo "$PMAXLEN $PTTL" > "$S/predict-limits"
start_broker

# --- token verification: an RSA signing key standing in for the identity provider
if [ "$AUTH" = jwt ]; then
    [ -s "$S/secrets/jwt-signing.key" ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
        -out "$S/secrets/jwt-signing.key" 2>/dev/null
    openssl pkey -in "$S/secrets/jwt-signing.key" -pubout -out "$S/jwt-public.pem"
    chmod 644 "$S/jwt-public.pem"
    AUTHCONF="auth_mode = jwt
jwt_alg = RS256
jwt_public_key = $S/jwt-public.pem
jwt_issuer = $ISSUER
jwt_audience = mlhep
jwt_queue_grace = $GRACE"
    # the inference workers take the same verifier as a JSON document (jwt.h)
    printf '{"alg":"RS256","public_key":"%s","issuer":"%s","audience":"mlhep"}\n' \
        "$S/jwt-public.pem" "$ISSUER" > "$S/infer-auth.json"
else
    AUTHCONF="auth_mode = dev"
fi

# --- configuration files
HOLDCONF=
if [ "$HOOKS" = 1 ]; then mkdir -p "$S/hold"; HOLDCONF="test_hold_dir = $S/hold"; fi
cat > "$S/worker.conf" <<CONF
amqp_host = 127.0.0.1
amqp_port = $AMQP_PORT
amqp_vhost = mlhep
amqp_user = worker
amqp_password_file = $S/secrets/broker-worker.pw
redis_host = 127.0.0.1
redis_port = $REDIS_PORT
redis_user = worker
redis_password_file = $S/secrets/redis-worker.pw
artifact_dir = $S/artifacts
heartbeat_interval = $HB
data_roots = $ROOTS
data_hosts = $DATA_HOSTS
test_hooks = $HOOKS
worker_stop_grace = $STOPGRACE
$HOLDCONF
$AUTHCONF
CONF
# mlhep-infer: the worker's settings with its own broker account, without the Redis
# account and the service key (it reads models from the artifact store, nothing else)
grep -vE '^(service_key|redis_user|redis_password)' "$S/worker.conf" |
    sed -e 's/^amqp_user = .*/amqp_user = infer/' \
        -e "s#^amqp_password_file = .*#amqp_password_file = $S/secrets/broker-infer.pw#" > "$S/infer.conf"
echo "service_key_file = $S/secrets/service.key" >> "$S/worker.conf"
cat > "$S/operator.conf" <<CONF
amqp_host = 127.0.0.1
amqp_port = $AMQP_PORT
amqp_vhost = mlhep
amqp_user = operator
amqp_password_file = $S/secrets/broker-operator.pw
redis_host = 127.0.0.1
redis_port = $REDIS_PORT
redis_user = operator
redis_password_file = $S/secrets/redis-operator.pw
artifact_dir = $S/artifacts
data_roots = $ROOTS
data_hosts = $DATA_HOSTS
service_key_file = $S/secrets/service.key
$AUTHCONF
CONF
for u in "${users[@]}"; do
    if [ "$AUTH" = jwt ]; then
        "$top/deploy/local/mint-token.sh" --key "$S/secrets/jwt-signing.key" --iss "$ISSUER" \
            --sub "$u" --ttl "$TTL" --scope "openid mlhep.submit mlhep.predict" > "$S/users/$u.token"
    else
        echo "dev:$u" > "$S/users/$u.token"
    fi
done

for i in $(seq 1 "$NW"); do start_worker "$i"; done

# --- the gateway: TLS with a local CA unless --gateway-plain (loopback only)
GATEWAY_URL=
if [ "$GW" = 1 ]; then
    [ -x "$BIN/mlhep-gateway" ] || { echo "up.sh: $BIN/mlhep-gateway not built (make all)" >&2; exit 2; }
    TLSCONF=
    if [ "$GWTLS" = 1 ]; then
        mkdir -p "$S/tls"
        if [ ! -s "$S/tls/gateway.pem" ]; then
            openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=mlhep local CA" \
                -keyout "$S/tls/ca.key" -out "$S/tls/ca.pem" 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$S/tls/gateway.key" \
                -out "$S/tls/gateway.csr" 2>/dev/null
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > "$S/tls/ext.cnf"
            openssl x509 -req -in "$S/tls/gateway.csr" -CA "$S/tls/ca.pem" -CAkey "$S/tls/ca.key" \
                -CAcreateserial -days 30 -extfile "$S/tls/ext.cnf" -out "$S/tls/gateway.pem" 2>/dev/null
        fi
        chmod 644 "$S/tls/ca.pem" "$S/tls/gateway.pem"
        TLSCONF="gateway_tls_cert = $S/tls/gateway.pem
gateway_tls_key = $S/tls/gateway.key"
    fi
    cat > "$S/gateway.conf" <<CONF
amqp_host = 127.0.0.1
amqp_port = $AMQP_PORT
amqp_vhost = mlhep
amqp_user = gateway
amqp_password_file = $S/secrets/broker-gateway.pw
redis_host = 127.0.0.1
redis_port = $REDIS_PORT
redis_user = gateway
redis_password_file = $S/secrets/redis-gateway.pw
artifact_dir = $S/artifacts
data_roots = $ROOTS
data_hosts = $DATA_HOSTS
service_key_file = $S/secrets/service.key
test_hooks = $HOOKS
gateway_bind = 127.0.0.1
gateway_port = 0
$TLSCONF
$AUTHCONF
CONF
    rm -f "$S/gateway.port"
    nohup "$BIN/mlhep-gateway" --config "$S/gateway.conf" --port-file "$S/gateway.port" \
        >"$S/logs/gateway.log" 2>&1 </dev/null &
    echo $! > "$S/pids/gateway.pid"
    for _ in $(seq 400); do
        [ -s "$S/gateway.port" ] && break
        alive "$(cat "$S/pids/gateway.pid")" || { echo "up.sh: the gateway exited during startup:" >&2; tail -n 5 "$S/logs/gateway.log" >&2; false; }
        sleep 0.05
    done
    [ -s "$S/gateway.port" ] || { echo "up.sh: the gateway did not start listening" >&2; false; }
    GATEWAY_PORT=$(cat "$S/gateway.port")
    echo "GATEWAY_PORT=$GATEWAY_PORT" >> "$S/ports"
    if [ "$GWTLS" = 1 ]; then GATEWAY_URL=https://127.0.0.1:$GATEWAY_PORT; else GATEWAY_URL=http://127.0.0.1:$GATEWAY_PORT; fi
    echo "$GATEWAY_URL" > "$S/gateway.url"
    chmod 644 "$S/gateway.url"
    # what a user needs: where the gateway is and the CA of its certificate, nothing more
    CACONF=
    [ "$GWTLS" = 1 ] && CACONF="gateway_ca = $S/tls/ca.pem"
    for u in "${users[@]}"; do
        printf 'gateway_url = %s\n%s\n' "$GATEWAY_URL" "$CACONF" > "$S/users/$u.conf"
        chmod 644 "$S/users/$u.conf"
    done
fi
if [ "$NI" -gt 0 ]; then
    [ -x "$BIN/mlhep-infer" ] || { echo "up.sh: $BIN/mlhep-infer not built (make all)" >&2; exit 2; }
    for i in $(seq 1 "$NI"); do start_infer "$i"; done
fi
trap - ERR
echo "mlhep stack up in $S: amqp 127.0.0.1:$AMQP_PORT, redis 127.0.0.1:$REDIS_PORT, $NW worker(s), $NI inference worker(s)${GATEWAY_URL:+, gateway $GATEWAY_URL}"
for u in "${users[@]}"; do
    [ -f "$S/users/$u.conf" ] && echo "  as $u: mlhep-submit --config $S/users/$u.conf --token-file $S/users/$u.token ..."
done
echo "  operators (broker and Redis directly): mlhep-submit --config $S/operator.conf --token-file $S/users/NAME.token ..."
exit 0
