#!/bin/sh
# gen-secrets.sh DIR - writes random passwords for the stack into DIR (mode 0700, files
# 0600), keeping any that exist: broker-{admin,operator,worker}.pw,
# redis-{admin,worker,operator}.pw and service.key (the key that signs the service's
# internal messages, common/service/msgsig.h: for the workers, the gateway and operators
# only). Users get no account (they go through the gateway). Never commit DIR.
set -eu
D=${1:?usage: gen-secrets.sh DIR}
umask 077
mkdir -p "$D"
chmod 700 "$D"
gen() { [ -s "$D/$1.pw" ] || head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$D/$1.pw"; }
for n in broker-admin broker-operator broker-worker redis-admin redis-worker redis-operator; do gen "$n"; done
[ -s "$D/service.key" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$D/service.key"
echo "secrets in $D"
