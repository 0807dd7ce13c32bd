#!/usr/bin/env bash
# Per-user delegation of an X.509 proxy (issue 18), with the real stack (deploy/local/up.sh),
# a real xrootd that accepts only GSI logins and a loopback HTTPS server that requires a
# client certificate, both trusting only a private CA made here by openssl. The stack
# has no proxy of its own: only the proxy a user hands the job can read the data.
# - alice hands her job an RFC 3820 proxy (mlhep-submit --storage-proxy-file, through the
#   gateway, and the gateway's X-Storage-Proxy header): the job reads https:// (the
#   server saw her proxy's DN) and root:// with it and succeeds; the same job without
#   one fails (root://: Auth failed; https://: no certificate, the server refuses) on
#   the same worker process right after hers: nothing of her proxy stays behind;
# - a proxy sealed for alice's job does not open for bob's job (a forged, correctly
#   signed job message carrying it), nor an altered box, nor her box relabelled as a
#   token: each fails the job saying so;
# - an expired proxy: refused at submission (CLI exit 2, gateway 400, nothing queued);
#   one sealed into a job that runs after it expired fails the job saying it expired;
#   one that expires while the job runs fails its next open saying so;
# - a workflow naming its own XrdCl credential (?xrd.gsiusrpxy=) is refused;
# - the proxy's key is in no log of the stack, no job record, nowhere in Redis's files,
#   and the job's proxy file is gone when the job ends.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../service_lib.sh"
. "$(dirname "$0")/../remote/https.sh"
. "$(dirname "$0")/../remote/server.sh"
. "$(dirname "$0")/../remote/pki.sh"
command -v xrootd >/dev/null || { bad proxy_setup "xrootd not installed (deploy/packages.txt)"; exit 1; }
[ -e /usr/lib/x86_64-linux-gnu/libXrdSecgsi-5.so ] || { bad proxy_setup "libXrdSecgsi-5.so missing (xrootd-plugins)"; exit 1; }
XT=$(mktemp -d /tmp/mlhep-gsi.XXXXXX)
XPID=
trap 'https_stop ST; [ -n "$XPID" ] && kill "$XPID" 2>/dev/null; svc_down; rm -rf "$TMP" "$XT"' EXIT
PY=/usr/bin/python3

# --- a private CA, a host certificate, alice's user certificate and RFC 3820 proxies
P="$TMP/pki"; mkdir -p "$P"
# (the expired proxy is valid on 2020-01-01 only)
{ pki_host "$P" "mlhep proxy test CA" && pki_user "$P"; } 2>"$TMP/pki.err" || { bad proxy_setup "$(cat "$TMP/pki.err")"; exit 1; }
# the key's base64 body, to look for it in logs and records
KEYLINE=$(sed -n 2p "$P/proxykey.pem")

# --- storage: xrootd, GSI only; HTTPS asking for a client certificate of the CA
XPORT=$(free_port)
xrd_gsi_conf "$XT" "$P" "$XPORT" "xrootd.trace login" || { bad proxy_setup "cannot set up xrootd in $XT"; exit 1; }
mkdir -p "$TMP/files"
cp "$DATA/uproot-HZZ.root" "$DATA/uproot-HZZ-zstd.root" "$XT/root/data/"
cp "$DATA/uproot-HZZ.root" "$DATA/uproot-HZZ-zstd.root" "$TMP/files/"
xrd_launch "$XT" "$XT/x.cfg" "$XT/x.log" "$XPORT"; rc=$?; XPID=$XRD_PID
[ $rc = 0 ] || { bad proxy_setup "xrootd not listening: $(tail -5 "$XT"/t/*.log 2>/dev/null)"; exit 1; }
cp "$P/host.pem" "$P/srv.pem"; cp "$P/hostkey.pem" "$P/srv.key"
https_start ST "$P" "$TMP/files" --client-ca "$P/ca.pem" --log "$TMP/st.log" || { bad proxy_setup "https server"; exit 1; }

# --- the stack: no proxy of its own (none in the environment or the default place), the grid CA
unset MLHEP_HTTP_TOKEN BEARER_TOKEN BEARER_TOKEN_FILE MLHEP_REMOTE_TOKEN_PATH MLHEP_REMOTE_X509_PROXY XrdSecGSIUSERPROXY X509_USER_PROXY
[ -e "/tmp/x509up_u$(id -u)" ] && { bad proxy_setup "/tmp/x509up_u$(id -u) exists: this test needs a machine without a default proxy"; exit 1; }
export X509_CERT_DIR="$P/cadir" MLHEP_REMOTE_CA_BUNDLE="$P/ca.pem"
export MLHEP_REMOTE_ATTEMPTS=3 MLHEP_REMOTE_BACKOFF_MS=500 MLHEP_REMOTE_TIMEOUT=10
# the GSI plugin leaks at login: its stacks only are suppressed (as in remote_gsi.sh)
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")/../remote" && pwd)/lsan-xrootd-gsi.supp"
export TMPDIR="$TMP/wtmp"; mkdir -p "$TMPDIR"
svc_up --workers 1 --heartbeat 0.3 --users alice,bob --data-hosts "127.0.0.1:$ST_PORT,localhost:$XPORT" --test-hooks
wait_workers_ready 1 60 || { bad proxy_setup "worker not ready"; exit 1; }
WF='{"name": "%s", "tree": "events", "files": [{"path": "%s/uproot-HZZ.root", "label": 1}, {"path": "%s/uproot-HZZ-zstd.root", "label": 0}], "params": {"epochs": 1}, "model": {"type": "mlp", "layers": [{"dense": 4, "activation": "relu"}, {"dense": 1, "activation": "sigmoid"}]}}'
HU="https://127.0.0.1:$ST_PORT"
XU="root://localhost:$XPORT//data"
printf "$WF\n" https "$HU" "$HU" >"$TMP/https.json"
printf "$WF\n" xrootd "$XU" "$XU" >"$TMP/xrootd.json"
printf "$WF\n" inject "$XU" "$XU" | jq -c --arg p "$P/x509up" '.files[0].path += "?xrd.gsiusrpxy=" + $p' >"$TMP/inject.json"
# successful GSI logins (xrootd names the login by its DN hash: -gmapopt:0); only alice has a proxy
xlogins() { cat "$XT"/t/*.log 2>/dev/null | grep -c " login as "; }

# --- alice's proxy through the gateway, https:// then root://
: >"$TMP/st.log"
id1=$(as_alice --no-wait --storage-proxy-file "$P/x509up" "$TMP/https.json" 2>"$TMP/submit.err")
if [ -n "$id1" ] && wait_state "$id1" succeeded 120 && grep -q 'status=206 dn=/domainComponent=test/commonName=alice/commonName=4242' "$TMP/st.log"; then
    ok "alice's job reads https:// with the proxy she delegated (the server saw its DN)"
else bad "delegated proxy, https://" "id=$id1 state=$(field "$id1" state) error=$(field "$id1" error) $(cat "$TMP/submit.err"); server: $(tail -n 3 "$TMP/st.log")"; fi
grep -q "valid until 20" "$TMP/submit.err" && ok "mlhep-submit says until when the proxy is valid: $(cat "$TMP/submit.err")" \
    || bad "submit names the expiry" "$(cat "$TMP/submit.err")"
id2=$(as_alice --no-wait --storage-proxy-file "$P/x509up" "$TMP/xrootd.json" 2>"$TMP/submit.err")
if [ -n "$id2" ] && wait_state "$id2" succeeded 120; then
    [ "$(xlogins)" -gt 0 ] && ok "alice's job reads root:// (GSI only) with the proxy she delegated (xrootd logged the GSI login)" \
        || bad "xrootd login as alice" "$(tail -n 5 "$XT"/t/*.log)"
else bad "delegated proxy, root://" "id=$id2 state=$(field "$id2" state) error=$(field "$id2" error) $(cat "$TMP/submit.err"); xrootd: $(grep -i "alice\|auth" "$XT"/t/xrootd.log | tail -n 3)"; fi

# --- the same jobs without a proxy, on the same worker process, right after hers
id3=$(as_alice --no-wait "$TMP/xrootd.json" 2>"$TMP/submit.err")
if [ -n "$id3" ] && wait_state "$id3" failed 60; then
    e3=$(field "$id3" error)
    [[ $e3 == *"Auth failed"* ]] && ok "without a proxy the root:// job fails after hers (no login of hers reused): $e3" \
        || bad "root:// job without a proxy" "error=$e3"
else bad "root:// job without a proxy" "id=$id3 state=$(field "$id3" state) $(cat "$TMP/submit.err")"; fi
: >"$TMP/st.log"
id4=$(as_alice --no-wait "$TMP/https.json" 2>"$TMP/submit.err")
if [ -n "$id4" ] && wait_state "$id4" failed 60; then
    e4=$(field "$id4" error)
    # (TLS 1.3: the server's "certificate required" alert reaches curl after its handshake, as a write error)
    [[ $e4 == *"$HU/uproot-HZZ.root"* ]] && ! grep -q 'dn=' "$TMP/st.log" && ok "without a proxy the https:// job fails, no certificate sent: $e4" \
        || bad "https:// job without a proxy" "error=$e4 server: $(cat "$TMP/st.log")"
else bad "https:// job without a proxy" "id=$id4 state=$(field "$id4" state) $(cat "$TMP/submit.err")"; fi

# --- the gateway's header, straight
out=$(gw_curl alice -X POST -H "X-Storage-Proxy: $(base64 -w0 "$P/x509up")" --data-binary @"$TMP/xrootd.json" "$GW_URL/v1/jobs" 2>&1)
id5=$(echo "$out" | jq -r '.id // empty' 2>/dev/null)
if [ -n "$id5" ] && wait_state "$id5" succeeded 120; then ok "X-Storage-Proxy (base64 of x509up) on POST /v1/jobs: the job reads root://"
else bad "X-Storage-Proxy header" "out=$out state=$(field "$id5" state) error=$(field "$id5" error)"; fi
out=$(gw_curl alice -X POST -H "X-Storage-Proxy: not base64!" --data-binary @"$TMP/xrootd.json" "$GW_URL/v1/jobs" 2>&1)
[[ $out == *'"bad_request"'* ]] && [[ $out == *"base64"* ]] && ok "the gateway refuses a header that is not base64 (400)" || bad "gateway bad header" "$out"

# --- an expired proxy is refused at submission, nothing queued
out=$(as_alice --no-wait --storage-proxy-file "$P/x509up-expired" "$TMP/xrootd.json" 2>&1); rc=$?
[ $rc = 2 ] && [[ $out == *"X.509 proxy expired at 2020-01-02 00:00:00 UTC"*"nothing was queued"* ]] \
    && ok "an expired proxy is refused at submission (exit 2): $out" || bad "expired proxy at submission" "rc=$rc $out"
out=$(gw_curl alice -X POST -H "X-Storage-Proxy: $(base64 -w0 "$P/x509up-expired")" --data-binary @"$TMP/xrootd.json" "$GW_URL/v1/jobs" 2>&1)
[[ $out == *'"bad_request"'* ]] && [[ $out == *"X.509 proxy expired at 2020-01-02 00:00:00 UTC"*"nothing was queued"* ]] \
    && ok "the gateway refuses an expired X-Storage-Proxy (400)" || bad "gateway expired proxy" "$out"
head -c 2000 "$P/proxycert.pem" >"$TMP/certonly"
out=$(as_alice --no-wait --storage-proxy-file "$TMP/certonly" "$TMP/xrootd.json" 2>&1); rc=$?
[ $rc = 2 ] && [[ $out == *"no private key"* ]] && ok "a certificate without its key is refused: $out" || bad "no key" "rc=$rc $out"

# --- a proxy that expires while the job runs: valid at submission, the job held (test
# hook) after its first step until the proxy's end has passed; its next open says so
NOW=$(date +%s); END=$((NOW + 25))
pki_proxy "$P" "$(date -u -d @$((NOW - 60)) +%Y%m%d%H%M%SZ)" "$(date -u -d @$END +%Y%m%d%H%M%SZ)" "$P/x509up-short" \
    || bad "proxy expiring mid-job" "openssl ca failed"
printf "$WF\n" expiring "$HU" "$HU" >"$TMP/expiring.json"
echo any >"$S/hold/expiring"
id7=$(as_alice --no-wait --storage-proxy-file "$P/x509up-short" "$TMP/expiring.json" 2>"$TMP/submit.err")
held=
held_at_step() { grep -q "job $id7: held at step" "$S"/logs/worker-*.log 2>/dev/null; }
past_end() { [ "$(date +%s)" -gt "$END" ]; }
wait_until 60 held_at_step && held=1
wait_until 60 past_end   # the proxy's end has passed (a final state: the clock only goes on)
rm -f "$S/hold/expiring"
if [ -n "$id7" ] && [ -n "$held" ] && wait_state "$id7" failed 60; then
    e7=$(field "$id7" error)
    [[ $e7 == *"the job's delegated X.509 proxy expired at "* ]] && [[ $e7 != *"$P"* ]] \
        && ok "a proxy that expires while the job runs fails its next read, saying so: $e7" || bad "proxy expiring mid-job" "error=$e7"
else bad "proxy expiring mid-job" "id=$id7 held=$held state=$(field "$id7" state) error=$(field "$id7" error) $(cat "$TMP/submit.err")"; fi

# --- forged job messages (signed with the service key, as a compromised component could)
BOB=$(cat "$S/users/bob.token")
newid() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
seal() { $PY "$MLHEP_TOP/tests/py/credbox_seal.py" --key-file "$S/secrets/service.key" --job "$1" --owner "$2" --kind "$3" <"$4"; }
jobmsg() { # ID USER TOKEN BOX KIND
    jq -cn --arg id "$1" --arg user "$2" --arg tok "$3" --arg box "$4" --arg kind "$5" --argjson wf "$(cat "$TMP/xrootd.json")" \
        '{v: 1, id: $id, user: $user, token: $tok, submitted: now, workflow: $wf, storage_cred: $box, storage_cred_kind: $kind}'
}
forge() {
    $PY "$MLHEP_TOP/tests/py/amqp_forge.py" --port "$AMQP_PORT" --user operator --password-file "$S/secrets/broker-operator.pw" \
        --exchange jobs --key train --body "$1" --sign-kind job --key-file "$S/secrets/service.key"
}
XA=$(newid); jobmsg "$XA" bob "$BOB" "$(seal "$XA" alice x509 "$P/x509up")" x509 >"$TMP/f1.json"
XB=$(newid); BOX=$(seal "$XB" bob x509 "$P/x509up"); c=${BOX:40:1}; [ "$c" = A ] && r=B || r=A
jobmsg "$XB" bob "$BOB" "${BOX:0:40}$r${BOX:41}" x509 >"$TMP/f2.json"
XK=$(newid); jobmsg "$XK" bob "$BOB" "$(seal "$XK" bob x509 "$P/x509up")" token >"$TMP/f3.json"
XC=$(newid); jobmsg "$XC" bob "$BOB" "$(seal "$XC" bob x509 "$P/x509up-expired")" x509 >"$TMP/f4.json"
n0=$(xlogins)
forge "$TMP/f1.json" && forge "$TMP/f2.json" && forge "$TMP/f3.json" && forge "$TMP/f4.json" || bad "forge" "amqp_forge.py failed"
for x in "$XA|alice's proxy sealed for her job id, in bob's job|delegated X.509 proxy refused: the storage credential does not belong to this job" \
         "$XB|an altered box|delegated X.509 proxy refused: the storage credential does not belong to this job" \
         "$XK|her proxy's box relabelled as a token|delegated storage token refused: the storage credential does not belong to this job" \
         "$XC|a proxy that expired before the job ran|delegated X.509 proxy refused (nothing was read): the X.509 proxy expired at 2020-01-02 00:00:00 UTC"; do
    IFS='|' read -r id what want <<<"$x"
    if wait_state "$id" failed 60 bob; then
        e=$(field "$id" error bob)
        [[ $e == *"$want"* ]] && ok "$what: the job fails: $e" || bad "$what" "error=$e"
    else bad "$what" "id=$id state=$(field "$id" state bob)"; fi
done
[ "$(xlogins)" = "$n0" ] && ok "no forged job logged in to the storage" || bad "forged jobs read nothing" "$(grep " login as " "$XT"/t/*.log | tail -n 3)"

# --- a workflow cannot name an XrdCl credential itself
id6=$(as_bob --no-wait "$TMP/inject.json" 2>"$TMP/submit.err"); rc=$?
if [ -n "$id6" ] && wait_state "$id6" failed 60 bob; then
    e6=$(field "$id6" error bob)
    [[ $e6 == *"xrd.* / xrdcl.* settings in a root:// URL are not allowed"* ]] && ok "a root:// URL with ?xrd.gsiusrpxy= fails the job: $e6" \
        || bad "xrd CGI in a URL" "error=$e6"
else
    [[ $(cat "$TMP/submit.err") == *"xrd."* ]] && ok "a root:// URL with ?xrd.gsiusrpxy= is refused at submission: $(cat "$TMP/submit.err")" \
        || bad "xrd CGI in a URL" "id=$id6 rc=$rc $(cat "$TMP/submit.err")"
fi

# --- the proxy is nowhere in clear; the job's copy is gone
hit=$(grep -rlF "$KEYLINE" "$S/logs" "$S/redis" 2>/dev/null)
[ -z "$hit" ] && ok "the proxy's key is in no log of the stack and nowhere in Redis" || bad "proxy in clear" "$hit"
for id in "$id1" "$id2" "$id5"; do as_alice --json status "$id"; as_alice logs "$id"; done >"$TMP/records" 2>&1
grep -qF "$KEYLINE" "$TMP/records" && bad "proxy not echoed" "in status/logs" || ok "the proxy is echoed by no status or log of the jobs"
grep -q "reading with the X.509 proxy its owner delegated" "$TMP/records" \
    && ok "the job's log says it read with a delegated proxy" || bad "job log line" "$(head -c 600 "$TMP/records")"
left=$(find "$TMPDIR" -name x509up 2>/dev/null)
[ -z "$left" ] && ok "the job's proxy file is removed when the job ends" || bad "proxy file left" "$left"
