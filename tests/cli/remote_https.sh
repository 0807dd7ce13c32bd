#!/usr/bin/env bash
# Grid credentials over https:// (issue 18, parts 1 and 2), against loopback HTTPS
# servers with a private CA (tests/remote/https.sh) that check bearer tokens:
# - reads work with the token and the CA given as a bundle file or a hashed directory;
# - final failures fail at once (one attempt although 5 are configured), naming the
#   cause: no token sent (401), token refused (403), a CA that does not verify the
#   server, an expired JWT (not sent at all), an expired X.509 proxy, a redirect loop;
#   a transient failure (nothing listening) is retried with the configured attempts;
# - redirects: a server that checks the token and redirects to a second one (another
#   port) that also checks it: without opt-in 401 saying the token was not forwarded
#   (and the second server saw no token); with MLHEP_REMOTE_TOKEN_FORWARD naming the
#   second server the read works; a list naming another port, or a redirect to another
#   host, does not get the token.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../remote/https.sh"
R="$BIN/mlhep-root"
trap 'https_stop S1; https_stop S2; https_stop S3; https_stop S4; rm -rf "$TMP"' EXIT
unset MLHEP_HTTP_TOKEN BEARER_TOKEN BEARER_TOKEN_FILE X509_USER_PROXY X509_CERT_DIR MLHEP_REMOTE_TOKEN_FORWARD
export MLHEP_REMOTE_ATTEMPTS=5 MLHEP_REMOTE_BACKOFF_MS=1500 MLHEP_REMOTE_TIMEOUT=10
P="$TMP/pki"
pki_make "$P" || { bad https_setup "openssl could not make the test CA"; exit 1; }
F=uproot-HZZ.root
mkdir -p "$TMP/files" && cp "$DATA/$F" "$TMP/files/"
GOOD=good-token-$RANDOM
echo "$GOOD" >"$TMP/tokens"
# S2: the "data node" (checks tokens, serves the files); S1: the "head node" (checks
# tokens, redirects to S2); S3: a plain file server; S4: redirects to S3 on 127.0.0.1
https_start S2 "$P" "$TMP/files" --tokens "$TMP/tokens" --log "$TMP/s2.log" || { bad https_setup "S2"; exit 1; }
https_start S1 "$P" "$TMP/files" --tokens "$TMP/tokens" --log "$TMP/s1.log" \
    --redirect "https://localhost:$S2_PORT" || { bad https_setup "S1"; exit 1; }
https_start S3 "$P" "$TMP/files" --tokens "$TMP/tokens" --log "$TMP/s3.log" || { bad https_setup "S3"; exit 1; }
https_start S4 "$P" "$TMP/files" --tokens "$TMP/tokens" --log "$TMP/s4.log" \
    --redirect "https://127.0.0.1:$S3_PORT" || { bad https_setup "S4"; exit 1; }
U2="https://localhost:$S2_PORT/$F"
"$R" stats "$DATA/$F" | jq -S 'del(.file)' >"$TMP/local.json"

# stats URL [env...]: runs mlhep-root stats with the environment given; sets out, err, rc, secs
stats() {
    local url=$1; shift
    local t0=$(date +%s.%N)
    env "$@" "$R" stats "$url" >"$TMP/out" 2>"$TMP/err"; rc=$?
    secs=$(echo "$(date +%s.%N) - $t0" | bc)
    err=$(cat "$TMP/err")
}
same_as_local() { jq -S 'del(.file)' "$TMP/out" 2>/dev/null | cmp -s - "$TMP/local.json"; }
# one attempt only: a message of a retried failure ends "after N attempts" (netretry.h),
# and the servers' logs count the requests (times are no evidence on a loaded machine)
fast() { [[ "$err" != *"attempts"* ]]; }
lines() { grep -c "$2" "$1" 2>/dev/null || true; }

# ---- part 1: reads, CA settings, final failures
stats "$U2" MLHEP_HTTP_TOKEN="$GOOD" MLHEP_REMOTE_CA_BUNDLE="$P/ca.pem"
[ $rc = 0 ] && same_as_local && ok https_token_and_ca_bundle || bad https_token_and_ca_bundle "rc=$rc $err"
stats "$U2" BEARER_TOKEN_FILE="$TMP/tokens" MLHEP_REMOTE_CA_DIR="$P/cadir"
[ $rc = 0 ] && same_as_local && ok https_token_file_and_ca_dir || bad https_token_file_and_ca_dir "rc=$rc $err"
stats "$U2" MLHEP_REMOTE_TOKEN_PATH="$TMP/tokens" X509_CERT_DIR="$P/cadir"
[ $rc = 0 ] && same_as_local && ok https_token_path_and_x509_cert_dir || bad https_token_path_and_x509_cert_dir "rc=$rc $err"

: >"$TMP/s2.log"
stats "$U2" MLHEP_REMOTE_CA_BUNDLE="$P/ca.pem"
[ $rc != 0 ] && fast && [[ "$err" == *"HTTP 401"*"no bearer token was sent"* ]] && [[ "$err" != *attempts* ]] \
    && [ "$(lines "$TMP/s2.log" 'status=401')" = 1 ] && ok https_401_no_token_fails_fast \
    || bad https_401_no_token_fails_fast "rc=$rc ${secs}s $err; server: $(cat "$TMP/s2.log")"
: >"$TMP/s2.log"
stats "$U2" MLHEP_HTTP_TOKEN=wrong-token MLHEP_REMOTE_CA_BUNDLE="$P/ca.pem"
[ $rc != 0 ] && fast && [[ "$err" == *"HTTP 403"*"token not accepted"*"a bearer token (MLHEP_HTTP_TOKEN) was sent and refused"* ]] \
    && [[ "$err" != *wrong-token* ]] && [ "$(lines "$TMP/s2.log" 'status=403')" = 1 ] && ok https_403_token_refused_fails_fast \
    || bad https_403_token_refused_fails_fast "rc=$rc ${secs}s $err; server: $(cat "$TMP/s2.log")"
stats "$U2" MLHEP_HTTP_TOKEN="$GOOD" MLHEP_REMOTE_CA_BUNDLE="$P/other-ca.pem"
[ $rc != 0 ] && fast && [[ "$err" == *"does not verify"*"remote_ca_bundle"* ]] \
    && [[ "$err" != *attempts* ]] && ok https_wrong_ca_fails_fast || bad https_wrong_ca_fails_fast "rc=$rc ${secs}s $err"
stats "$U2" MLHEP_HTTP_TOKEN="$GOOD" # (the system store's loading takes a while under ASan: no time limit)
[ $rc != 0 ] && [[ "$err" == *"does not verify"* ]] && [[ "$err" != *attempts* ]] && ok https_private_ca_not_trusted_by_default \
    || bad https_private_ca_not_trusted_by_default "rc=$rc ${secs}s $err"
: >"$TMP/s2.log"
EXPIRED=$(jwt_token -60 alice)
stats "$U2" MLHEP_HTTP_TOKEN="$EXPIRED" MLHEP_REMOTE_CA_BUNDLE="$P/ca.pem"
[ $rc != 0 ] && fast && [[ "$err" == *"bearer token (MLHEP_HTTP_TOKEN) expired at "*"it was not sent"* ]] \
    && [ ! -s "$TMP/s2.log" ] && [[ "$err" != *"$EXPIRED"* ]] && ok https_expired_jwt_not_sent \
    || bad https_expired_jwt_not_sent "rc=$rc $err; server: $(cat "$TMP/s2.log")"
stats "$U2" MLHEP_HTTP_TOKEN="$GOOD" MLHEP_REMOTE_CA_BUNDLE="$P/ca.pem" X509_USER_PROXY="$P/expired-proxy.pem"
[ $rc != 0 ] && fast && [[ "$err" == *"X.509 proxy $P/expired-proxy.pem expired at 2020-01-02 00:00:00 UTC"* ]] \
    && ok https_expired_proxy_fails_fast \
    || bad https_expired_proxy_fails_fast "rc=$rc $err"
stats "https://localhost:$S2_PORT/loop" MLHEP_HTTP_TOKEN="$GOOD" MLHEP_REMOTE_CA_BUNDLE="$P/ca.pem"
[ $rc != 0 ] && fast && [[ "$err" == *"redirect loop"* ]] && [[ "$err" != *attempts* ]] && ok https_redirect_loop_fails_fast \
    || bad https_redirect_loop_fails_fast "rc=$rc ${secs}s $err"
# a valid proxy is sent as client certificate (the server does not ask for one: the read works)
stats "$U2" MLHEP_HTTP_TOKEN="$GOOD" MLHEP_REMOTE_CA_BUNDLE="$P/ca.pem" MLHEP_REMOTE_X509_PROXY="$P/proxy.pem"
[ $rc = 0 ] && same_as_local && ok https_valid_proxy_accepted || bad https_valid_proxy_accepted "rc=$rc $err"
# transient: nothing listens; retried with the configured attempts and backoff
DEAD=$(free_port)
stats "https://localhost:$DEAD/$F" MLHEP_REMOTE_ATTEMPTS=3 MLHEP_REMOTE_BACKOFF_MS=100 MLHEP_REMOTE_CA_BUNDLE="$P/ca.pem"
[ $rc != 0 ] && [[ "$err" == *"connection refused after 3 attempts"* ]] && ok https_transient_retried_with_policy \
    || bad https_transient_retried_with_policy "rc=$rc $err"

# ---- part 2: redirects and token forwarding
U1="https://localhost:$S1_PORT/$F"
: >"$TMP/s1.log"; : >"$TMP/s2.log"
stats "$U1" MLHEP_HTTP_TOKEN="$GOOD" MLHEP_REMOTE_CA_BUNDLE="$P/ca.pem"
[ $rc != 0 ] && fast && [[ "$err" == *"HTTP 401"*"the bearer token was not forwarded to the redirect target https://localhost:$S2_PORT/$F"* ]] \
    && grep -q 'auth=sent status=302' "$TMP/s1.log" && ! grep -q 'auth=sent' "$TMP/s2.log" \
    && ok https_redirect_token_not_forwarded_by_default \
    || bad https_redirect_token_not_forwarded_by_default "rc=$rc $err; s1: $(cat "$TMP/s1.log"); s2: $(cat "$TMP/s2.log")"
: >"$TMP/s2.log"
stats "$U1" MLHEP_HTTP_TOKEN="$GOOD" MLHEP_REMOTE_CA_BUNDLE="$P/ca.pem" MLHEP_REMOTE_TOKEN_FORWARD="localhost:$S2_PORT"
[ $rc = 0 ] && same_as_local && ! grep -q 'auth=none' "$TMP/s2.log" && grep -q 'auth=sent status=206' "$TMP/s2.log" \
    && ok https_redirect_token_forwarded_with_opt_in || bad https_redirect_token_forwarded_with_opt_in "rc=$rc $err"
: >"$TMP/s2.log"
stats "$U1" MLHEP_HTTP_TOKEN="$GOOD" MLHEP_REMOTE_CA_BUNDLE="$P/ca.pem" MLHEP_REMOTE_TOKEN_FORWARD="localhost:$DEAD, .example.org"
[ $rc != 0 ] && [[ "$err" == *"not forwarded"* ]] && ! grep -q 'auth=sent' "$TMP/s2.log" \
    && ok https_redirect_other_port_not_forwarded || bad https_redirect_other_port_not_forwarded "rc=$rc $err"
: >"$TMP/s3.log"
stats "https://localhost:$S4_PORT/$F" MLHEP_HTTP_TOKEN="$GOOD" MLHEP_REMOTE_CA_BUNDLE="$P/ca.pem" \
    MLHEP_REMOTE_TOKEN_FORWARD="localhost:$S3_PORT"
[ $rc != 0 ] && [[ "$err" == *"not forwarded"* ]] && ! grep -q 'auth=sent' "$TMP/s3.log" && grep -q 'auth=none' "$TMP/s3.log" \
    && ok https_redirect_other_host_not_forwarded || bad https_redirect_other_host_not_forwarded "rc=$rc $err; s3: $(cat "$TMP/s3.log")"
stats "https://localhost:$S4_PORT/$F" MLHEP_HTTP_TOKEN="$GOOD" MLHEP_REMOTE_CA_BUNDLE="$P/ca.pem" \
    MLHEP_REMOTE_TOKEN_FORWARD="127.0.0.1:$S3_PORT"
[ $rc = 0 ] && same_as_local && ok https_redirect_listed_address_forwarded || bad https_redirect_listed_address_forwarded "rc=$rc $err"
