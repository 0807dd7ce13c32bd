#!/bin/sh
# gen-secrets.sh DIR [HOSTNAME...] - writes random passwords for the stack into DIR (mode
# 0700, files 0600), keeping any that exist:
#   broker-{admin,operator,worker,gateway,infer}.pw  the broker accounts
#   redis-{admin,worker,gateway,operator}.pw         the Redis accounts
#   service.key   the key that signs the service's internal messages
#                 (common/service/msgsig.h): for the workers, the gateway and operators
#                 only (not mlhep-infer)
#   gateway.pem, gateway.key   the gateway's TLS certificate and key, when absent: a
#                 self-signed certificate (RSA 2048, 825 days) for localhost, 127.0.0.1,
#                 the Compose service `gateway`, the Kubernetes Service `mlhep-gateway`
#                 and every HOSTNAME given. Clients trust it with gateway_ca = gateway.pem
#                 (not secret); replace both files with a certificate from your CA for
#                 production.
# docs/operations.md ("Accounts") says what each account may do. Users get no account
# (they go through the gateway with their token). Never commit DIR.
set -eu
D=${1:?usage: gen-secrets.sh DIR [HOSTNAME...]}
shift
umask 077
mkdir -p "$D"
chmod 700 "$D"
gen() { [ -s "$D/$1.pw" ] || head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$D/$1.pw"; }
for n in broker-admin broker-operator broker-worker broker-gateway broker-infer \
         redis-admin redis-worker redis-gateway redis-operator; do gen "$n"; done
[ -s "$D/service.key" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$D/service.key"
if [ ! -s "$D/gateway.pem" ] || [ ! -s "$D/gateway.key" ]; then
    san="DNS:localhost,IP:127.0.0.1,DNS:gateway,DNS:mlhep-gateway,DNS:mlhep-gateway.mlhep.svc"
    for h in "$@"; do
        case $h in
        *[!0-9.]*) san="$san,DNS:$h" ;;
        *) san="$san,IP:$h" ;;
        esac
    done
    openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=${1:-localhost}" \
        -addext "subjectAltName=$san" -keyout "$D/gateway.key" -out "$D/gateway.pem" 2>/dev/null
    chmod 644 "$D/gateway.pem"
    echo "self-signed gateway certificate in $D/gateway.pem ($san)"
fi
echo "secrets in $D"
