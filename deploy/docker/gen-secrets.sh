#!/bin/sh
# gen-secrets.sh DIR - writes random passwords for the stack into DIR (mode 0700, files
# 0600), keeping any that exist: broker-{admin,operator,worker}.pw and
# redis-{admin,worker,operator}.pw. Users get no account (they go through the gateway).
# Never commit DIR.
set -eu
D=${1:?usage: gen-secrets.sh DIR}
umask 077
mkdir -p "$D"
chmod 700 "$D"
gen() { [ -s "$D/$1.pw" ] || head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$D/$1.pw"; }
for n in broker-admin broker-operator broker-worker redis-admin redis-worker redis-operator; do gen "$n"; done
echo "secrets in $D"
