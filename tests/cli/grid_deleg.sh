#!/usr/bin/env bash
# Per-user delegation of a storage token (issue 18, part 3), with the real stack
# (deploy/local/up.sh) and a loopback HTTPS server (private CA) that checks bearer tokens.
# The stack has no service token: only a token a user hands the job can read the data.
# - alice hands her job a token (mlhep-submit --storage-token-file, through the gateway
#   and in the operators' broker mode): the job reads https:// with it and succeeds (the
#   server saw the token); the same job without one fails naming the 401 and that no
#   token was sent;
# - a token sealed for alice's job does not open for bob's job (a forged, correctly
#   signed job message carrying it), nor does an altered box: both fail the job saying so;
# - an expired token: refused at submission (nothing queued); one sealed into a job that
#   runs after it expired fails the job saying it expired;
# - the token is in no log of the stack, no job record and nowhere in Redis's files.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../service_lib.sh"
. "$(dirname "$0")/../remote/https.sh"
trap 'https_stop ST; svc_down; rm -rf "$TMP"' EXIT
PY=/usr/bin/python3
P="$TMP/pki"
pki_make "$P" || { bad deleg_setup "openssl could not make the test CA"; exit 1; }
mkdir -p "$TMP/files"
cp "$DATA/uproot-HZZ.root" "$DATA/uproot-HZZ-zstd.root" "$TMP/files/"
ATOK=$(jwt_token 3600 alice)
echo "$ATOK" >"$TMP/alice.tok"
echo "$ATOK" >"$TMP/accepted"
EXPIRED=$(jwt_token -60 bob)
echo "$EXPIRED" >"$TMP/expired.tok"
https_start ST "$P" "$TMP/files" --tokens "$TMP/accepted" --log "$TMP/st.log" || { bad deleg_setup "https server"; exit 1; }
unset MLHEP_HTTP_TOKEN BEARER_TOKEN BEARER_TOKEN_FILE MLHEP_REMOTE_TOKEN_PATH X509_USER_PROXY
export MLHEP_REMOTE_CA_BUNDLE="$P/ca.pem" MLHEP_REMOTE_ATTEMPTS=3 MLHEP_REMOTE_BACKOFF_MS=500
svc_up --workers 1 --heartbeat 0.3 --users alice,bob --data-hosts "127.0.0.1:$ST_PORT"
wait_workers_ready 1 60 || { bad deleg_setup "worker not ready"; exit 1; }
U="https://127.0.0.1:$ST_PORT"
WF='{"name": "deleg", "tree": "events", "files": [{"path": "%s/uproot-HZZ.root", "label": 1}, {"path": "%s/uproot-HZZ-zstd.root", "label": 0}], "params": {"epochs": 1}, "model": {"type": "mlp", "layers": [{"dense": 4, "activation": "relu"}, {"dense": 1, "activation": "sigmoid"}]}}'
printf "$WF\n" "$U" "$U" >"$TMP/wf.json"

# --- alice's token through the gateway
: >"$TMP/st.log"
id1=$(as_alice --no-wait --storage-token-file "$TMP/alice.tok" "$TMP/wf.json" 2>"$TMP/submit.err")
if [ -n "$id1" ] && wait_state "$id1" succeeded 120 && grep -q 'auth=sent status=206' "$TMP/st.log" \
    && ! grep -q 'auth=none' "$TMP/st.log"; then
    ok "alice's job reads https:// with the token she delegated (gateway; the server saw it)"
    # 2 files = fanout_min_files (the default): a job with a delegated token is not fanned out
    grep -q "sub-task [0-9]*/[0-9]* of job $id1" "$S"/logs/worker-*.log \
        && bad "delegated job not fanned out" "$(grep "sub-task" "$S"/logs/worker-*.log | head -n 3)" \
        || ok "the delegated job read its files itself (no fan-out sub-tasks)"
else bad "delegated token through the gateway" "id=$id1 state=$(field "$id1" state) error=$(field "$id1" error) $(cat "$TMP/submit.err"); server: $(tail -n 3 "$TMP/st.log")"; fi

# --- the same job without a token
: >"$TMP/st.log"
id2=$(as_alice --no-wait "$TMP/wf.json" 2>"$TMP/submit.err")
if [ -n "$id2" ] && wait_state "$id2" failed 60; then
    e2=$(field "$id2" error)
    [[ $e2 == *"HTTP 401"*"no bearer token was sent"* ]] && grep -q 'auth=none status=401' "$TMP/st.log" \
        && ! grep -q 'auth=sent' "$TMP/st.log" \
        && ok "without a delegated token the job (same worker process, after alice's) fails, nothing sent: $e2" \
        || bad "job without a token" "error=$e2; server: $(cat "$TMP/st.log")"
else bad "job without a token" "id=$id2 state=$(field "$id2" state) $(cat "$TMP/submit.err")"; fi

# --- operators' way: the broker directly (sealed by mlhep-submit itself)
: >"$TMP/st.log"
id3=$(OP_USER=alice as_operator --no-wait --storage-token-file "$TMP/alice.tok" "$TMP/wf.json" 2>"$TMP/submit.err")
if [ -n "$id3" ] && wait_state "$id3" succeeded 120 && grep -q 'auth=sent status=206' "$TMP/st.log"; then
    ok "a job submitted through the broker (operators) reads with its delegated token"
else bad "delegated token, broker mode" "id=$id3 state=$(field "$id3" state) error=$(field "$id3" error) $(cat "$TMP/submit.err")"; fi

# --- an expired token is refused at submission, nothing queued
out=$(as_alice --no-wait --storage-token-file "$TMP/expired.tok" "$TMP/wf.json" 2>&1); rc=$?
[ $rc = 2 ] && [[ $out == *"storage token expired at "*"nothing was queued"* ]] && [[ $out != *"$EXPIRED"* ]] \
    && ok "an expired storage token is refused at submission (exit 2): $out" || bad "expired token at submission" "rc=$rc $out"
out=$(gw_curl alice -X POST -H "X-Storage-Token: $EXPIRED" --data-binary @"$TMP/wf.json" "$GW_URL/v1/jobs" 2>&1)
[[ $out == *'"bad_request"'* ]] && [[ $out == *"expired at"* ]] && [[ $out != *"$EXPIRED"* ]] \
    && ok "the gateway refuses an expired X-Storage-Token (400)" || bad "gateway expired token" "$out"

# --- forged job messages (signed with the service key, as a compromised component could):
# bob's job carrying a box sealed for alice's job; an altered box; an expired token
BOB=$(cat "$S/users/bob.token")
newid() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
seal() { printf '%s' "$4" | $PY "$MLHEP_TOP/tests/py/credbox_seal.py" --key-file "$S/secrets/service.key" --job "$1" --owner "$2" --kind "$3"; }
jobmsg() { # ID USER TOKEN BOX
    jq -cn --arg id "$1" --arg user "$2" --arg tok "$3" --arg box "$4" --argjson wf "$(cat "$TMP/wf.json")" \
        '{v: 1, id: $id, user: $user, token: $tok, submitted: now, workflow: $wf, storage_cred: $box}'
}
forge() {
    $PY "$MLHEP_TOP/tests/py/amqp_forge.py" --port "$AMQP_PORT" --user operator --password-file "$S/secrets/broker-operator.pw" \
        --exchange jobs --key train --body "$1" --sign-kind job --key-file "$S/secrets/service.key"
}
XA=$(newid)
jobmsg "$XA" bob "$BOB" "$(seal "$XA" alice token "$ATOK")" >"$TMP/f1.json"
XB=$(newid)
# flip one character in the middle of bob's box (one sealed for XB itself)
BOX=$(seal "$XB" bob token "$ATOK"); c=${BOX:30:1}; [ "$c" = A ] && r=B || r=A
jobmsg "$XB" bob "$BOB" "${BOX:0:30}$r${BOX:31}" >"$TMP/f2.json"
XC=$(newid)
jobmsg "$XC" bob "$BOB" "$(seal "$XC" bob token "$EXPIRED")" >"$TMP/f3.json"
: >"$TMP/st.log"
forge "$TMP/f1.json" && forge "$TMP/f2.json" && forge "$TMP/f3.json" || bad "forge" "amqp_forge.py failed"
for x in "$XA|alice's token sealed for alice's job id, in bob's job" "$XB|an altered box"; do
    id=${x%%|*}; what=${x#*|}
    if wait_state "$id" failed 60 bob; then
        e=$(field "$id" error bob)
        [[ $e == *"delegated storage token refused: the storage credential does not belong to this job (or was altered)"* ]] \
            && ok "$what: the job fails: $e" || bad "$what" "error=$e"
    else bad "$what" "id=$id state=$(field "$id" state bob)"; fi
done
if wait_state "$XC" failed 60 bob; then
    e=$(field "$XC" error bob)
    [[ $e == *"delegated storage token refused (nothing was read): the storage token expired at "*"get a fresh one"* ]] \
        && [[ $e != *"$EXPIRED"* ]] \
        && ok "a delegated token that expired before the job ran fails it: $e" || bad "expired delegated token" "error=$e"
else bad "expired delegated token" "id=$XC state=$(field "$XC" state bob)"; fi
grep -q 'auth=sent' "$TMP/st.log" && bad "forged jobs read nothing" "$(cat "$TMP/st.log")" \
    || ok "no forged job sent a token to the storage"

# --- the token is nowhere in clear: logs, records, Redis's files
hit=$(grep -rlF "$ATOK" "$S/logs" "$S/redis" 2>/dev/null)
[ -z "$hit" ] && ok "alice's token is in no log of the stack and nowhere in Redis" || bad "token in clear" "$hit"
for id in "$id1" "$id3"; do as_alice --json status "$id"; as_alice logs "$id"; done >"$TMP/records" 2>&1
grep -qF "$ATOK" "$TMP/records" && bad "token not echoed" "in status/logs" || ok "the token is echoed by no status or log of the jobs"
grep -q "reading with the storage token its owner delegated" "$TMP/records" \
    && ok "the job's log says it read with a delegated token" || bad "job log line" "$(head -c 600 "$TMP/records")"
