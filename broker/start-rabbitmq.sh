#!/usr/bin/env bash
# broker/start-rabbitmq.sh STATE_DIR PORT - runs a RabbitMQ 3.10 node in the FOREGROUND
# with mlhep's definitions (broker/definitions.json) loaded at boot. Run it with `&` and
# keep $!: `kill -TERM $!` stops the node cleanly (the server script forwards it).
#
# Passwords are never in the repository: they come from the environment
# (MLHEP_BROKER_ADMIN_PASSWORD, MLHEP_BROKER_OPERATOR_PASSWORD,
# MLHEP_BROKER_WORKER_PASSWORD, MLHEP_BROKER_GATEWAY_PASSWORD, MLHEP_BROKER_INFER_PASSWORD)
# or, if unset, from STATE_DIR/secrets/broker-{admin,operator,worker,gateway,infer}.pw. The
# rendered definitions file is written mode 0600 into STATE_DIR.
# Accounts (docs/operations.md, "Accounts"): admin (operators' management), operator
# (operators' mlhep-submit inside the cluster: publishes jobs, cancel requests and
# predictions), gateway (the front door users reach: the same rights), worker (consumes
# the jobs.* queues, publishes sub-tasks and hand-backs), infer (mlhep-infer: consumes
# predict.requests, publishes replies to direct reply-to). Users have no broker account.
# Optional environment: MLHEP_DELIVERY_LIMIT (x-delivery-limit of jobs.train, default 3),
# MLHEP_PREDICT_MAX_LENGTH and MLHEP_PREDICT_TTL_MS (x-max-length and x-message-ttl of
# predict.requests; default: definitions.json's 100000 requests, 60000 ms),
# ERL_EPMD_PORT (a private epmd port; the caller starts that epmd), MLHEP_RABBITMQ_NODE
# (node name, default mlhep<PORT>@localhost), MLHEP_RABBITMQ_DIST_PORT (Erlang
# distribution port, default PORT+20000), MLHEP_RABBITMQ_BIND (address the AMQP listener
# binds, default 127.0.0.1; 0.0.0.0 or a host address for a broker on its own host).
#
# Runs /usr/lib/rabbitmq/bin/rabbitmq-server directly as root with HOME=STATE_DIR (the
# /usr/sbin wrappers would `su rabbitmq` and log to /var/log/rabbitmq), so the Erlang
# cookie lives in STATE_DIR too. Readiness: poll the AMQP port.
set -euo pipefail
T=${1:?usage: start-rabbitmq.sh STATE_DIR PORT}
PORT=${2:?usage: start-rabbitmq.sh STATE_DIR PORT}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$T"
T=$(cd "$T" && pwd)
umask 077

pw() { # pw NAME ENVVAR
    local v=${!2:-}
    if [ -z "$v" ] && [ -f "$T/secrets/broker-$1.pw" ]; then v=$(head -n1 "$T/secrets/broker-$1.pw"); fi
    if [ -z "$v" ]; then echo "start-rabbitmq: no password for broker user '$1' (set $2 or $T/secrets/broker-$1.pw)" >&2; exit 2; fi
    printf '%s' "$v"
}
ADMIN_PW=$(pw admin MLHEP_BROKER_ADMIN_PASSWORD)
OP_PW=$(pw operator MLHEP_BROKER_OPERATOR_PASSWORD)
WORK_PW=$(pw worker MLHEP_BROKER_WORKER_PASSWORD)
GW_PW=$(pw gateway MLHEP_BROKER_GATEWAY_PASSWORD)
INF_PW=$(pw infer MLHEP_BROKER_INFER_PASSWORD)
LIMIT=${MLHEP_DELIVERY_LIMIT:-3}
PMAXLEN=${MLHEP_PREDICT_MAX_LENGTH:-}
PTTL=${MLHEP_PREDICT_TTL_MS:-}
BIND=${MLHEP_RABBITMQ_BIND:-127.0.0.1}
DIST=${MLHEP_RABBITMQ_DIST_PORT:-$((PORT + 20000))}
[ "$DIST" -le 65535 ] || DIST=$((PORT - 20000))

ADMIN_PW="$ADMIN_PW" OP_PW="$OP_PW" WORK_PW="$WORK_PW" GW_PW="$GW_PW" INF_PW="$INF_PW" LIMIT="$LIMIT" PMAXLEN="$PMAXLEN" PTTL="$PTTL" \
/usr/bin/python3 - "$here/definitions.json" "$T/definitions.json" <<'PY'
import json, os, sys
src, dst = sys.argv[1], sys.argv[2]
d = json.load(open(src))
pw = {"@ADMIN_PASSWORD@": os.environ["ADMIN_PW"], "@OPERATOR_PASSWORD@": os.environ["OP_PW"],
      "@WORKER_PASSWORD@": os.environ["WORK_PW"], "@GATEWAY_PASSWORD@": os.environ["GW_PW"],
      "@INFER_PASSWORD@": os.environ["INF_PW"]}
for u in d["users"]:
    u["password"] = pw[u["password"]]
for q in d["queues"]:
    if q["name"] == "jobs.train":
        q["arguments"]["x-delivery-limit"] = int(os.environ["LIMIT"])
    if q["name"] == "predict.requests" and os.environ["PMAXLEN"]:
        q["arguments"]["x-max-length"] = int(os.environ["PMAXLEN"])
    if q["name"] == "predict.requests" and os.environ["PTTL"]:
        q["arguments"]["x-message-ttl"] = int(os.environ["PTTL"])
fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    json.dump(d, f, indent=1)
PY

cat > "$T/rabbitmq.conf" <<CONF
listeners.tcp.default = $BIND:$PORT
load_definitions = $T/definitions.json
log.console = false
log.file.level = info
# long training jobs hold their delivery unacked: allow 24 h (default 30 min)
consumer_timeout = 86400000
# small test nodes: do not refuse publishes on a busy shared disk
disk_free_limit.absolute = 50MB
CONF
[ -f "$T/enabled_plugins" ] || echo "[]." > "$T/enabled_plugins"
[ -f "$T/advanced.config" ] || echo "[]." > "$T/advanced.config"
cd "$T"   # a failed boot leaves erl_crash.dump in the CWD
export HOME=$T RABBITMQ_CONF_ENV_FILE=/dev/null \
  RABBITMQ_NODENAME=${MLHEP_RABBITMQ_NODE:-mlhep$PORT@localhost} RABBITMQ_NODE_IP_ADDRESS=$BIND \
  RABBITMQ_NODE_PORT=$PORT RABBITMQ_DIST_PORT=$DIST RABBITMQ_CONFIG_FILE=$T/rabbitmq.conf \
  RABBITMQ_ADVANCED_CONFIG_FILE=$T/advanced.config RABBITMQ_ENABLED_PLUGINS_FILE=$T/enabled_plugins \
  RABBITMQ_MNESIA_BASE=$T/mnesia RABBITMQ_LOG_BASE=$T/log RABBITMQ_PID_FILE=$T/rabbit.pid
exec /usr/lib/rabbitmq/bin/rabbitmq-server
