#!/usr/bin/env bash
# deploy/local/down.sh [--state DIR] [--purge] - stops what up.sh started, by PID:
# the gateway, workers (SIGTERM: running jobs are requeued), inference workers, RabbitMQ, Redis, the
# private epmd.
# Waits for each to exit (SIGKILL after a timeout). --purge also removes the state dir.
set -uo pipefail
S=./mlhep-state; PURGE=0
while [ $# -gt 0 ]; do
    case $1 in
    --state) S=$2; shift 2 ;;
    --purge) PURGE=1; shift ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "down.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -d "$S/pids" ] || { echo "down.sh: no stack in $S"; exit 0; }
alive() { # running and not a zombie
    local st; st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [ -n "$st" ] && [[ $st != Z* ]]
}
stop_pid() { # stop_pid NAME PIDFILE TIMEOUT_S
    local f=$2 pid
    [ -f "$f" ] || return 0
    pid=$(cat "$f"); rm -f "$f"
    [ -n "$pid" ] && alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null
    local i=0 n=$(( $3 * 20 ))
    while alive "$pid" && [ $i -lt $n ]; do sleep 0.05; i=$((i + 1)); done
    if alive "$pid"; then echo "down.sh: $1 (pid $pid) did not stop; killing" >&2; kill -KILL "$pid" 2>/dev/null; fi
}
stop_pid gateway "$S/pids/gateway.pid" 10
for f in "$S"/pids/worker-*.pid "$S"/pids/infer-*.pid; do [ -e "$f" ] && stop_pid "worker" "$f" 20 & done
wait
# the broker launcher forwards TERM to the node and waits for it; stop beam directly if needed
bpid=$(cat "$S/rabbitmq/rabbit.pid" 2>/dev/null || true)
stop_pid rabbitmq "$S/pids/rabbitmq.pid" 30
if [ -n "$bpid" ] && alive "$bpid"; then kill -KILL "$bpid" 2>/dev/null; fi
stop_pid redis "$S/pids/redis.pid" 10
stop_pid epmd "$S/pids/epmd.pid" 5
echo "mlhep stack in $S stopped"
[ "$PURGE" = 1 ] && rm -rf "$S"
exit 0
