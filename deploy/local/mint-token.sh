#!/usr/bin/env bash
# deploy/local/mint-token.sh - mints a JWT for the local stack and the tests (openssl
# command line only). A stand-in for a real identity provider (IAM, Keycloak, ...):
# production tokens come from the provider, e.g. through oidc-agent (`mlhep-submit --oidc`).
#
#   mint-token.sh --sub USER (--key RSA_PRIVATE.pem | --secret-file FILE) [options]
#     --key FILE          sign RS256 with this RSA private key (PEM)
#     --secret-file FILE  sign HS256 with the bytes of FILE (trailing newline stripped)
#     --iss ISS           issuer (default https://mlhep.local)
#     --aud AUD           audience (default mlhep)
#     --scope "A B"       scope claim (default "openid mlhep.submit"; "" omits it)
#     --ttl SEC           lifetime from now (default 3600; negative: already expired)
#     --nbf-in SEC        not-before = now + SEC (default: now - 5)
#     --kid KID           header kid
#     --header-alg ALG    write ALG into the header instead of the signing algorithm
#                         (tests: "none" writes an unsigned token)
# Prints the token on stdout.
set -euo pipefail
KEY=; SECRET=; SUB=; ISS=https://mlhep.local; AUD=mlhep; SCOPE="openid mlhep.submit"; TTL=3600
NBF_IN=-5; KID=; HALG=
while [ $# -gt 0 ]; do
    case $1 in
    --key) KEY=$2; shift 2 ;;
    --secret-file) SECRET=$2; shift 2 ;;
    --sub) SUB=$2; shift 2 ;;
    --iss) ISS=$2; shift 2 ;;
    --aud) AUD=$2; shift 2 ;;
    --scope) SCOPE=$2; shift 2 ;;
    --ttl) TTL=$2; shift 2 ;;
    --nbf-in) NBF_IN=$2; shift 2 ;;
    --kid) KID=$2; shift 2 ;;
    --header-alg) HALG=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "mint-token.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -n "$SUB" ] || { echo "mint-token.sh: --sub is required" >&2; exit 2; }
if [ -n "$KEY" ] && [ -z "$SECRET" ]; then ALG=RS256
elif [ -n "$SECRET" ] && [ -z "$KEY" ]; then ALG=HS256
else echo "mint-token.sh: give exactly one of --key and --secret-file" >&2; exit 2; fi
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
hdr=$(jq -cn --arg alg "${HALG:-$ALG}" --arg kid "$KID" '{alg: $alg, typ: "JWT"} + (if $kid != "" then {kid: $kid} else {} end)')
pl=$(jq -cn --arg iss "$ISS" --arg aud "$AUD" --arg sub "$SUB" --arg scope "$SCOPE" \
    --argjson iat "$now" --argjson exp $((now + TTL)) --argjson nbf $((now + NBF_IN)) \
    '{iss: $iss, aud: $aud, sub: $sub, iat: $iat, nbf: $nbf, exp: $exp} + (if $scope != "" then {scope: $scope} else {} end)')
si="$(printf '%s' "$hdr" | b64url).$(printf '%s' "$pl" | b64url)"
if [ "${HALG:-}" = none ]; then
    printf '%s.\n' "$si"
elif [ "$ALG" = RS256 ]; then
    printf '%s.%s\n' "$si" "$(printf '%s' "$si" | openssl dgst -sha256 -sign "$KEY" -binary | b64url)"
else
    hex=$(head -c 4096 "$SECRET" | sed -e '$ s/\r$//' | od -An -tx1 | tr -d ' \n')
    hex=${hex%0a}
    printf '%s.%s\n' "$si" "$(printf '%s' "$si" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hex" -binary | b64url)"
fi
