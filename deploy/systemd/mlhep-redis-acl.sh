#!/bin/sh
# mlhep-redis-acl.sh SECRETS_DIR OUT [OWNER] - renders Redis ACL users from the secret files in
# SECRETS_DIR (first line of each file is the password) into OUT, mode 0600:
# (and gives OUT to OWNER when set: the unit runs it privileged, Redis as user redis):
#   redis-admin.pw     the `default` and `admin` users: everything (operators only)
#   redis-worker.pw    `worker`: read-write on mlhep:* with scripting, no @dangerous
#   redis-u-NAME.pw    `u-NAME`: read-only on mlhep:u:NAME:* (the CLI of user NAME)
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
    for f in "$S"/redis-u-*.pw; do
        [ -e "$f" ] || continue
        u=$(basename "$f" .pw); u=${u#redis-u-}
        case $u in *[!A-Za-z0-9._-]*|''|.*|-*) echo "mlhep-redis-acl: bad user name in $f" >&2; exit 2 ;; esac
        echo "user u-$u on >$(pw "$f") resetkeys ~mlhep:u:$u:* resetchannels -@all +hgetall +hget +zrevrange +lrange +pttl +ping +auth +hello"
    done
} > "$tmp"
[ -z "${3:-}" ] || chown "$3" "$tmp"
mv "$tmp" "$OUT"
