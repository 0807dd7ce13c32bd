#!/bin/sh
# gen-secrets.sh DIR [USER...] - writes random passwords for the stack into DIR (mode 0700,
# files 0600), keeping any that exist: broker-{admin,submitter,worker}.pw,
# redis-{admin,worker}.pw and redis-u-USER.pw per CLI user. Never commit DIR.
set -eu
D=${1:?usage: gen-secrets.sh DIR [USER...]}
shift
umask 077
mkdir -p "$D"
chmod 700 "$D"
gen() { [ -s "$D/$1.pw" ] || head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$D/$1.pw"; }
for n in broker-admin broker-submitter broker-worker redis-admin redis-worker; do gen "$n"; done
for u in "$@"; do
    case $u in *[!A-Za-z0-9._-]*|''|.*|-*) echo "gen-secrets: bad user name '$u'" >&2; exit 2 ;; esac
    gen "redis-u-$u"
done
echo "secrets in $D"
