#!/bin/sh
# mlhep-redis-acl.sh SECRETS_DIR OUT [OWNER] - renders Redis ACL users from the secret files in
# SECRETS_DIR (first line of each file is the password) into OUT, mode 0600:
# (and gives OUT to OWNER when set: the unit runs it privileged, Redis as user redis):
#   redis-admin.pw     the `default` and `admin` users: everything (operators only)
#   redis-worker.pw    `worker`: read-write on mlhep:* with scripting, no @dangerous
#   redis-gateway.pw   `gateway` (mlhep-gateway): reads mlhep:*, writes only the
#                      idempotency keys of submissions (mlhep:u:*:idem:*)
#   redis-operator.pw  `operator`: read-only on every user's records (operators' mlhep-submit
#                      inside the cluster)
# (gateway and operator only when their file exists). mlhep-infer has no Redis account;
# users have none either (they reach the service through the gateway). The rules are
# deploy/local/up.sh's; docs/operations.md ("Accounts") is the table.
# The default user is NOT switched off: Redis 7.0 replays an AOF's MULTI/EXEC blocks (the
# effects of mlhep's multi-key Lua scripts) as the default user and silently drops them if
# it lacks the rights (redis/redis#14541), which would lose job records at every restart.
# It carries the admin password instead, so unauthenticated clients still get NOAUTH.
set -eu
S=${1:?usage: mlhep-redis-acl.sh SECRETS_DIR OUT}
OUT=${2:?usage: mlhep-redis-acl.sh SECRETS_DIR OUT}
pw() { head -n1 "$1" | tr -d '\r\n'; }
umask 077
tmp="$OUT.tmp"
{
    a=$(pw "$S/redis-admin.pw")
    echo "user default on >$a ~* &* +@all"
    echo "user admin on >$a ~* &* +@all"
    echo "user worker on >$(pw "$S/redis-worker.pw") resetkeys ~mlhep:* resetchannels -@all +@read +@write +@scripting +ping +auth +hello -@dangerous"
    if [ -e "$S/redis-gateway.pw" ]; then
        echo "user gateway on >$(pw "$S/redis-gateway.pw") resetkeys %R~mlhep:* %RW~mlhep:u:*:idem:* resetchannels -@all +hgetall +hget +zrevrange +lrange +pttl +get +set +del +ping +auth +hello"
    fi
    if [ -e "$S/redis-operator.pw" ]; then
        echo "user operator on >$(pw "$S/redis-operator.pw") resetkeys %R~mlhep:* resetchannels -@all +hgetall +hget +zrevrange +lrange +pttl +ping +auth +hello"
    fi
} > "$tmp"
[ -z "${3:-}" ] || chown "$3" "$tmp"
mv "$tmp" "$OUT"
