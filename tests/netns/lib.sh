# tests/netns/lib.sh - a multi-host mlhep deployment on one machine, for the scale and
# fault tests (tests/cli/netns_*.sh) and bench/bench_scale.sh. Sourced after tests/lib.sh
# (needs $TMP and $BIN; $MLHEP_TOP is the checkout). Needs root and iproute2.
#
# Topology: every "host" is a network namespace with one interface eth0, a veth whose other
# end sits in a switch namespace on a bridge br0 (the switch port is named p-HOST). The
# addresses are 198.18.0.0/24 (RFC 2544's benchmark-testing range) and exist ONLY inside
# these namespaces: nothing is added to, or routed through, the root namespace.
#   broker  198.18.0.2   RabbitMQ (broker/start-rabbitmq.sh) + its own epmd, port 5672
#   redis   198.18.0.3   Redis 7 (AOF on, ACL users), port 6379
#   client  198.18.0.9   where mlhep-submit and the checks run
#   w1..wN  198.18.0.11+ one mlhep-worker each
# Because every host has its own port space, the standard ports are used. The artifact store
# is a plain directory ($NN/artifacts): the namespaces share the machine's filesystem, so it
# plays the part of a shared (NFS-like) volume without a server; it is therefore not cut off
# when a worker's link goes down (the lease check in Redis is what fences that worker).
#
# Latency: NN_DELAY_MS (default 1) is added with `tc qdisc ... netem delay` on every host's
# eth0 (so a round trip between two hosts costs 4 x NN_DELAY_MS). Kernels without netem
# (CONFIG_NET_SCH_NETEM unset, as on the machine these tests were written on) get a token
# bucket (tbf, NN_RATE, default 1gbit) instead and the harness says so in $NN_SHAPING.
# Without netem, nn_latency MS puts a userspace delay forwarder (bench/latency_proxy.py) in
# front of the broker and Redis on their hosts (ports 5673 and 6380, each chunk forwarded MS
# later in each direction, so a request/response costs 2 x MS more) and points the workers'
# configuration at it; MS = 0 keeps the forwarder (same CPU cost) without delay.
# Workers' data_roots come from NN_DATA_ROOTS (default none).
#
# Cleanup: nn_down (run from the EXIT trap that nn_up installs, also after a failure or a
# signal) stops every process the harness started by the PID it recorded (TERM, then KILL),
# then kills whatever is still inside its namespaces (listed by `ip netns pids`, i.e. by
# PID and namespace, never by name), and deletes the namespaces, which removes the veths and
# the bridge with them.
#
# Functions:
#   nn_up NWORKERS             namespaces, links, secrets, configs, Redis and broker (waits
#                              for both); workers are started separately
#   nn_start_worker I / nn_stop_worker I [SIG]   worker wI on host wI (config $NN/worker.conf)
#   nn_stop_workers I...       stops several in parallel
#   nn_wait_ready I SECS       until worker wI logged "ready"
#   nn_restart_broker / nn_stop_broker / nn_start_broker
#   nn_restart_redis [DOWN_S]   stops Redis (TERM: AOF flushed), waits DOWN_S, starts it again
#   nn_link HOST up|down       cuts/restores HOST's cable (the switch port goes down)
#   nn_submit WORKFLOW         as alice (her token, the operator's broker account: this
#                              harness has no gateway) from the client host; prints the id
#   nn_submit_many N WORKFLOW P   N submissions with P in parallel; ids into stdout
#   nn_records                 one line per alice job: id state attempts started finished worker
#   nn_rcli ARGS               redis-cli as admin from the client host
#   nn_depth QUEUE             ready messages in a queue (asked of the queue)
#   nn_x HOST CMD...           runs CMD on HOST
#   nn_latency MS              workers reach the broker and Redis through delay forwarders
NN_TOP=${MLHEP_TOP:?}
NN=$TMP/nn
NN_TAG=mlh$$
NN_NET=198.18.0
NN_DELAY_MS=${NN_DELAY_MS:-1}
NN_RATE=${NN_RATE:-1gbit}
NN_HOSTS=()
NN_SHAPING=none
declare -A NN_IP=([broker]=$NN_NET.2 [redis]=$NN_NET.3 [client]=$NN_NET.9)

nn_ns() { echo "$NN_TAG-$1"; }
nn_x() { local h=$1; shift; ip netns exec "$(nn_ns "$h")" "$@"; }
nn_alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1; [ -n "$st" ] && [[ $st != Z* ]]; }
nn_log() { echo "# $(date +%T.%3N) $*"; }

# nn_bg HOST NAME CMD... : starts CMD on HOST in the background; its pid goes to pids/NAME
nn_bg() {
    local h=$1 n=$2; shift 2
    ip netns exec "$(nn_ns "$h")" "$@" >>"$NN/logs/$n.log" 2>&1 </dev/null &
    echo $! > "$NN/pids/$n"
}

# nn_kill NAME [SIG] [TIMEOUT_S] : stops the process recorded under pids/NAME and waits
nn_kill() {
    local f=$NN/pids/$1 sig=${2:-TERM} t=${3:-20} pid i=0
    [ -f "$f" ] || return 0
    pid=$(cat "$f"); rm -f "$f"
    nn_alive "$pid" || return 0
    kill -"$sig" "$pid" 2>/dev/null
    while nn_alive "$pid" && [ $i -lt $((t * 20)) ]; do sleep 0.05; i=$((i + 1)); done
    if nn_alive "$pid"; then kill -KILL "$pid" 2>/dev/null; sleep 0.1; fi
    wait "$pid" 2>/dev/null
    return 0
}

nn_add_host() { # NAME IP
    local h=$1 ip=$2 ns; ns=$(nn_ns "$1")
    ip netns add "$ns"
    NN_HOSTS+=("$h")
    NN_IP[$h]=$ip
    ip -n "$ns" link set lo up
    ip link add eth0 netns "$ns" type veth peer name "p-$h" netns "$(nn_ns sw)"
    ip -n "$(nn_ns sw)" link set "p-$h" master br0 up
    ip -n "$ns" addr add "$ip/24" dev eth0
    ip -n "$ns" link set eth0 up
    if [ "$NN_SHAPING" = netem ]; then
        ip netns exec "$ns" tc qdisc add dev eth0 root netem delay "${NN_DELAY_MS}ms"
    elif [ "$NN_SHAPING" = tbf ]; then
        ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$NN_RATE" burst 256kb latency 50ms
    fi
}

nn_link() { ip -n "$(nn_ns sw)" link set "p-$1" "$2"; }

nn_down() {
    [ -d "$NN/pids" ] || return 0
    local f stoppers=()
    for f in "$NN"/pids/w*; do
        [ -e "$f" ] || continue
        nn_kill "$(basename "$f")" TERM 10 &
        stoppers+=($!)
    done
    [ ${#stoppers[@]} = 0 ] || wait "${stoppers[@]}"   # not a bare wait: the servers are children too
    # the broker launcher forwards TERM to the node; beam itself is stopped by its pid too
    local bpid; bpid=$(cat "$NN/rabbitmq/rabbit.pid" 2>/dev/null || true)
    nn_kill rabbitmq TERM 30
    [ -n "$bpid" ] && nn_alive "$bpid" && kill -KILL "$bpid" 2>/dev/null
    for f in "$NN"/pids/*; do [ -e "$f" ] && nn_kill "$(basename "$f")" TERM 10; done
    # whatever is still inside our namespaces (erl_child_setup, inet_gethost, ...)
    local h pids
    for h in "${NN_HOSTS[@]}" sw; do
        pids=$(ip netns pids "$(nn_ns "$h")" 2>/dev/null)
        [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    done
    sleep 0.1
    for h in "${NN_HOSTS[@]}" sw; do ip netns del "$(nn_ns "$h")" 2>/dev/null; done
    rm -rf "$NN/pids"
}

nn_port_open() { nn_x client bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
nn_wait_port() { # HOST PORT SECS PIDNAME
    local i=0 n=$(($3 * 5))
    while ! nn_port_open "${NN_IP[$1]}" "$2"; do
        if ! nn_alive "$(cat "$NN/pids/$4" 2>/dev/null || echo 0)"; then echo "# $4 exited during startup"; tail -n 20 "$NN/logs/$4.log"; return 1; fi
        i=$((i + 1)); [ $i -lt $n ] || { echo "# $4 not listening after $3 s"; return 1; }
        sleep 0.2
    done
}

nn_start_redis() {
    nn_bg redis redis redis-server --bind "${NN_IP[redis]}" --port 6379 --dir "$NN/redis" \
        --aclfile "$NN/redis/users.acl" --appendonly yes --appendfsync everysec --save "" \
        --daemonize no --logfile "$NN/logs/redis-server.log"
    nn_wait_port redis 6379 20 redis
}
nn_restart_redis() { nn_kill redis TERM 20 && sleep "${1:-0}" && nn_start_redis; }  # [DOWN_S]

nn_start_broker() {
    local t0=$SECONDS
    nn_bg broker rabbitmq env ERL_EPMD_PORT=4369 MLHEP_RABBITMQ_BIND="${NN_IP[broker]}" \
        MLHEP_DELIVERY_LIMIT="${NN_DELIVERY_LIMIT:-3}" MLHEP_RABBITMQ_DIST_PORT=25672 \
        "$NN_TOP/broker/start-rabbitmq.sh" "$NN/rabbitmq" 5672
    nn_wait_port broker 5672 120 rabbitmq || return 1
    nn_log "broker ready after $((SECONDS - t0)) s"
}
nn_stop_broker() {
    local bpid; bpid=$(cat "$NN/rabbitmq/rabbit.pid" 2>/dev/null || true)
    nn_kill rabbitmq TERM 60
    [ -n "$bpid" ] && nn_alive "$bpid" && kill -KILL "$bpid" 2>/dev/null
    return 0
}
nn_restart_broker() { nn_stop_broker && nn_start_broker; }

# nn_up NWORKERS
nn_up() {
    local nw=$1 i
    [ "$(id -u)" = 0 ] || { echo "nn_up: needs root (network namespaces)"; return 1; }
    # NN_KEEP=DIR keeps the logs (workers, broker, Redis) there for inspection
    trap 'nn_down; [ -n "${NN_KEEP:-}" ] && mkdir -p "$NN_KEEP" && cp -r "$NN/logs" "$NN/rabbitmq/log" "$NN_KEEP/" 2>/dev/null; rm -rf "$TMP"' EXIT
    trap 'exit 130' INT TERM
    mkdir -p "$NN"/{pids,logs,secrets,redis,rabbitmq,artifacts}
    chmod 700 "$NN/secrets"
    ip netns add "$(nn_ns sw)"
    ip -n "$(nn_ns sw)" link set lo up
    ip -n "$(nn_ns sw)" link add br0 type bridge
    ip -n "$(nn_ns sw)" link set br0 up
    # latency: netem if this kernel has it, else a token bucket (see the header)
    ip -n "$(nn_ns sw)" link add probe0 type veth peer name probe1
    if ip netns exec "$(nn_ns sw)" tc qdisc add dev probe0 root netem delay 1ms 2>/dev/null; then
        NN_SHAPING=netem
    elif ip netns exec "$(nn_ns sw)" tc qdisc add dev probe0 root tbf rate "$NN_RATE" burst 256kb latency 50ms 2>/dev/null; then
        NN_SHAPING=tbf
    fi
    ip -n "$(nn_ns sw)" link del probe0
    nn_add_host broker "${NN_IP[broker]}"
    nn_add_host redis "${NN_IP[redis]}"
    nn_add_host client "${NN_IP[client]}"
    for i in $(seq 1 "$nw"); do nn_add_host "w$i" "$NN_NET.$((10 + i))"; done
    case $NN_SHAPING in
    netem) nn_log "hosts: ${NN_HOSTS[*]}; netem delay ${NN_DELAY_MS} ms on every host interface" ;;
    tbf) nn_log "hosts: ${NN_HOSTS[*]}; this kernel has no netem: links shaped with tbf $NN_RATE, no added latency" ;;
    *) nn_log "hosts: ${NN_HOSTS[*]}; no traffic shaping available" ;;
    esac
    (umask 077
     for n in broker-admin broker-operator broker-worker broker-gateway broker-infer redis-admin redis-worker redis-operator; do
         head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$NN/secrets/$n.pw"
     done
     head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$NN/secrets/service.key")
    {
        # Not `user default off`: Redis 7.0 replays an AOF's MULTI/EXEC blocks (every
        # multi-key Lua script's effects) with the default user's permissions, so with the
        # default user off every job record is silently dropped at restart (the EXEC is
        # refused with NOPERM; redis/redis#14541). The default user gets the admin password.
        echo "user default on >$(cat "$NN/secrets/redis-admin.pw") ~* &* +@all"
        echo "user admin on >$(cat "$NN/secrets/redis-admin.pw") ~* &* +@all"
        echo "user worker on >$(cat "$NN/secrets/redis-worker.pw") resetkeys ~mlhep:* resetchannels -@all +@read +@write +@scripting +ping +auth +hello -@dangerous"
        echo "user operator on >$(cat "$NN/secrets/redis-operator.pw") resetkeys %R~mlhep:* resetchannels -@all +hgetall +hget +zrevrange +lrange +pttl +ping +auth +hello"
    } > "$NN/redis/users.acl"
    chmod 600 "$NN/redis/users.acl"
    cat > "$NN/worker.conf" <<CONF
amqp_host = ${NN_IP[broker]}
amqp_port = 5672
amqp_user = worker
amqp_password_file = $NN/secrets/broker-worker.pw
amqp_heartbeat = ${NN_AMQP_HEARTBEAT:-30}
redis_host = ${NN_IP[redis]}
redis_port = 6379
redis_user = worker
redis_password_file = $NN/secrets/redis-worker.pw
artifact_dir = $NN/artifacts
heartbeat_interval = ${NN_HEARTBEAT:-1}
auth_mode = dev
data_roots = ${NN_DATA_ROOTS:-}
worker_threads = ${NN_WORKER_THREADS:-0}
test_hooks = 1
service_key_file = $NN/secrets/service.key
CONF
    # no gateway in this harness: jobs go to the broker directly with the operator's
    # accounts (deploy/local/up.sh's operator.conf), as alice (her token)
    cat > "$NN/operator.conf" <<CONF
amqp_host = ${NN_IP[broker]}
amqp_port = 5672
amqp_user = operator
amqp_password_file = $NN/secrets/broker-operator.pw
redis_host = ${NN_IP[redis]}
redis_port = 6379
redis_user = operator
redis_password_file = $NN/secrets/redis-operator.pw
artifact_dir = $NN/artifacts
auth_mode = dev
data_roots = ${NN_DATA_ROOTS:-}
service_key_file = $NN/secrets/service.key
CONF
    echo "dev:alice" > "$NN/alice.token"
    # start-rabbitmq.sh reads the broker passwords from its state dir's secrets/
    (umask 077; mkdir -p "$NN/rabbitmq/secrets"
     for n in admin operator worker gateway infer; do cp "$NN/secrets/broker-$n.pw" "$NN/rabbitmq/secrets/"; done)
    nn_start_redis || return 1
    nn_bg broker epmd epmd -port 4369
    nn_start_broker || return 1
}

# nn_latency MS : (re)starts the delay forwarders in front of the broker and Redis with MS
# one-way delay and points worker.conf at them (workers started afterwards use them)
nn_latency() {
    local ms=$1 h port
    for h in broker redis; do
        nn_kill "lp-$h" TERM 5
        port=$([ $h = broker ] && echo 5672 || echo 6379)
        nn_bg $h "lp-$h" /usr/bin/python3 "$NN_TOP/bench/latency_proxy.py" $((port + 1)) "$port" "$ms" \
            "${NN_IP[$h]}" "${NN_IP[$h]}"
        nn_wait_port $h $((port + 1)) 10 "lp-$h" || return 1
    done
    sed -i -e "s/^amqp_port = .*/amqp_port = 5673/" -e "s/^redis_port = .*/redis_port = 6380/" "$NN/worker.conf"
    nn_log "workers reach the broker and Redis through delay forwarders: +$ms ms each way"
}

nn_start_worker() { # I
    local i=$1
    nn_bg "w$i" "w$i" env MLHEP_WORKER_ID="w$i" "$BIN/mlhep-worker" --config "$NN/worker.conf"
}
nn_stop_worker() { nn_kill "w$1" "${2:-TERM}" 20; }
nn_stop_workers() { # I... : in parallel
    local i p=()
    for i in "$@"; do nn_stop_worker "$i" & p+=($!); done
    [ ${#p[@]} = 0 ] || wait "${p[@]}"
}
nn_wait_ready() { # I SECS
    local i=0 n=$(($2 * 10))
    while ! grep -q ' ready: ' "$NN/logs/w$1.log" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt $n ] || return 1
        sleep 0.1
    done
}
# lines of worker I's log since the start (for checks)
nn_wlog() { cat "$NN/logs/w$1.log" 2>/dev/null; }

nn_submit() { # WORKFLOW -> prints the id
    nn_x client "$BIN/mlhep-submit" --config "$NN/operator.conf" --token-file "$NN/alice.token" --no-wait "$1"
}
# Bulk submission is load generation, not the thing under test: it uses the release build
# when there is one (an ASan-built submitter starts ~10x slower on a loaded machine).
NN_SUBMIT=${NN_SUBMIT:-$NN_TOP/bin/mlhep-submit}
[ -x "$NN_SUBMIT" ] || NN_SUBMIT=$BIN/mlhep-submit
nn_submit_many() { # N WORKFLOW PARALLEL -> ids on stdout, one per line
    seq 1 "$1" | xargs -P "$3" -I{} ip netns exec "$(nn_ns client)" "$NN_SUBMIT" \
        --config "$NN/operator.conf" --token-file "$NN/alice.token" --no-wait "$2"
}
nn_rcli() {
    nn_x client redis-cli -h "${NN_IP[redis]}" -p 6379 --user admin --pass "$(cat "$NN/secrets/redis-admin.pw")" \
        --no-auth-warning "$@"
}
# one line per job of alice: id state attempts started finished worker
nn_records() {
    nn_rcli --raw EVAL "
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for _, id in ipairs(ids) do
  local h = redis.call('HMGET', 'mlhep:u:alice:job:' .. id, 'state', 'attempts', 'started', 'finished', 'worker')
  for k = 1, 5 do if not h[k] or h[k] == '' then h[k] = '-' end end
  out[#out + 1] = id .. ' ' .. h[1] .. ' ' .. h[2] .. ' ' .. h[3] .. ' ' .. h[4] .. ' ' .. h[5]
end
return out" 1 mlhep:u:alice:jobs
}
# nn_window IDSFILE -> "n succeeded window jobs/s" over the listed jobs (window = last
# finished - first started, from the records in Redis)
nn_window() {
    nn_records | awk 'NR==FNR { want[$1] = 1; next }
        ($1 in want) { n++; if ($2 == "succeeded") s++
                       if (min == "" || $4 < min) min = $4; if ($5 > max) max = $5 }
        END { w = max - min; printf "%d %d %.3f %.2f\n", n, s, w, (w > 0 ? n / w : 0) }' "$1" -
}
# nn_drain K N WF SECS -> nn_window's line: N jobs of WF queued first, then drained by
# workers w1..wK started together (stopped afterwards)
nn_drain() {
    local ids="$NN/drain-ids" i
    nn_submit_many "$2" "$3" 6 > "$ids" 2>/dev/null
    for i in $(seq 1 "$1"); do nn_start_worker "$i"; done
    nn_wait_done "$ids" "$4" || echo "# not all jobs finished" >&2
    nn_stop_workers $(seq 1 "$1")
    nn_window "$ids"
}
nn_depth() { nn_x client "$BIN/mlhep-worker" --config "$NN/worker.conf" --queue-depth "$1" | cut -d' ' -f1; }
# nn_wait_done IDSFILE SECS : until every job listed is in a terminal state
nn_wait_done() {
    local i=0 n=$(($2 * 4))
    local want; want=$(wc -l < "$1")
    while [ $i -lt $n ]; do
        # prints the number of listed jobs in a terminal state
        [ "$(nn_records | awk 'NR==FNR { want[$1] = 1; next }
              ($1 in want) && $2 ~ /^(succeeded|failed|cancelled)$/ { c++ } END { print c + 0 }' "$1" -)" = "$want" ] && return 0
        sleep 0.25; i=$((i + 1))
    done
    return 1
}
