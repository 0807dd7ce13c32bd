#!/usr/bin/env bash
# The service credential and its renewal (issue 18, part 4), with the real stack
# (deploy/local/up.sh) and a loopback HTTPS server (private CA) that checks bearer tokens:
# - the worker reads https:// inputs with the token deploy/grid/mlhep-renew wrote to
#   remote_token_path, trusting the CA of remote_ca_bundle (config keys, given here as
#   MLHEP_<KEY> variables of the stack);
# - the storage stops accepting that token: the next job fails at once with a message
#   saying a token was sent and refused;
# - the renewer hands over a new token (temp file + rename): the next job succeeds on the
#   same worker process (no restart);
# - the renewer refuses output that is not a token, keeping the old file.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../service_lib.sh"
. "$(dirname "$0")/../remote/https.sh"
trap 'https_stop ST; svc_down; rm -rf "$TMP"' EXIT
RENEW="$MLHEP_TOP/deploy/grid/mlhep-renew"
P="$TMP/pki"
pki_make "$P" || { bad grid_setup "openssl could not make the test CA"; exit 1; }
mkdir -p "$TMP/files" "$TMP/grid"
cp "$DATA/uproot-HZZ.root" "$DATA/uproot-HZZ-zstd.root" "$TMP/files/"
echo tok-one-$RANDOM >"$TMP/src"
cp "$TMP/src" "$TMP/accepted"
https_start ST "$P" "$TMP/files" --tokens "$TMP/accepted" --log "$TMP/st.log" || { bad grid_setup "https server"; exit 1; }
"$RENEW" --once --out "$TMP/grid/token" --command "cat $TMP/src" 2>"$TMP/renew.err" && cmp -s "$TMP/src" "$TMP/grid/token" \
    && [ "$(stat -c %a "$TMP/grid/token")" = 640 ] && ! grep -q "$(cat "$TMP/src")" "$TMP/renew.err" \
    && ok "mlhep-renew writes the token (mode 0640, not logged)" || bad "mlhep-renew writes the token" "$(cat "$TMP/renew.err")"
unset MLHEP_HTTP_TOKEN BEARER_TOKEN BEARER_TOKEN_FILE
export MLHEP_REMOTE_CA_BUNDLE="$P/ca.pem" MLHEP_REMOTE_TOKEN_PATH="$TMP/grid/token" MLHEP_REMOTE_ATTEMPTS=5 MLHEP_REMOTE_BACKOFF_MS=2000
svc_up --workers 1 --heartbeat 0.3 --users alice --data-hosts "localhost:$ST_PORT"
wait_workers_ready 1 60 || { bad grid_setup "worker not ready"; exit 1; }
pid0=$(worker_pid 1)
U="https://localhost:$ST_PORT"
printf '{"name": "grid", "tree": "events", "files": [{"path": "%s/uproot-HZZ.root", "label": 1}, {"path": "%s/uproot-HZZ-zstd.root", "label": 0}], "params": {"epochs": 1}, "model": {"type": "mlp", "layers": [{"dense": 4, "activation": "relu"}, {"dense": 1, "activation": "sigmoid"}]}}\n' "$U" "$U" >"$TMP/wf.json"
submit() { as_alice --no-wait "$TMP/wf.json" 2>"$TMP/submit.err"; }

id1=$(submit)
if wait_state "$id1" succeeded 120 && grep -q 'auth=sent status=206' "$TMP/st.log"; then ok "job reads https:// with the service token (remote_token_path, remote_ca_bundle)"
else bad "job with the service token" "id=$id1 state=$(field "$id1" state) error=$(field "$id1" error) $(cat "$TMP/submit.err")"; fi

echo tok-two-$RANDOM >"$TMP/src"
cp "$TMP/src" "$TMP/accepted" # the storage now accepts only the new token
id2=$(submit)
if wait_state "$id2" failed 60; then
    e2=$(field "$id2" error)
    [[ $e2 == *"HTTP 403"*"a bearer token (remote_token_path) was sent and refused"* ]] && [[ $e2 != *attempts* ]] \
        && [[ $e2 != *tok-one* ]] && ok "a token the storage refuses fails the job at once, saying it was sent: $e2" \
        || bad "refused token" "error=$e2"
else bad "refused token" "id=$id2 state=$(field "$id2" state)"; fi

echo "not a token" >"$TMP/bad"
if ! "$RENEW" --once --out "$TMP/grid/token" --command "cat $TMP/bad" 2>"$TMP/renew.err" && ! cmp -s "$TMP/src" "$TMP/grid/token" \
    && ! ls -A "$TMP/grid" | grep -q mlhep-renew; then ok "mlhep-renew keeps the old token when the command's output is not a token"
else bad "renewer refuses bad output" "$(cat "$TMP/renew.err")"; fi
"$RENEW" --once --out "$TMP/grid/token" --command "cat $TMP/src" 2>"$TMP/renew.err" || bad "renew" "$(cat "$TMP/renew.err")"
id3=$(submit)
if wait_state "$id3" succeeded 120 && [ "$(worker_pid 1)" = "$pid0" ] && alive "$pid0"; then
    ok "the renewed token is used by the next job on the same worker process (no restart)"
else bad "renewed token picked up" "id=$id3 state=$(field "$id3" state) error=$(field "$id3" error) pid $pid0 -> $(worker_pid 1)"; fi
grep -q "tok-" "$S"/logs/*.log && bad "tokens never logged" "a token is in $(grep -l "tok-" "$S"/logs/*.log)" \
    || ok "no token in the stack's logs"
