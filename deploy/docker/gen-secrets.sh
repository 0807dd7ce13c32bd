#!/bin/sh
# gen-secrets.sh DIR [USER...] - writes random passwords for the stack into DIR (mode 0700,
# files 0600), keeping any that exist: broker-{admin,submitter,worker}.pw,
# redis-{admin,worker}.pw, redis-u-USER.pw per CLI user, and service.key (the key that
# signs the service's internal messages, common/service/msgsig.h: for the workers, the
# gateway and operators only). Never commit DIR.
set -eu
D=${1:?usage: gen-secrets.sh DIR [USER...]}
shift
umask 077
mkdir -p "$D"
chmod 700 "$D"
gen() { [ -s "$D/$1.pw" ] || head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$D/$1.pw"; }
for n in broker-admin broker-submitter broker-worker redis-admin redis-worker; do gen "$n"; done
[ -s "$D/service.key" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$D/service.key"
for u in "$@"; do
    case $u in *[!A-Za-z0-9._-]*|''|.*|-*) echo "gen-secrets: bad user name '$u'" >&2; exit 2 ;; esac
    gen "redis-u-$u"
done
echo "secrets in $D"
