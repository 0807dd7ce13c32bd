# gateway_api.sh - the HTTPS gateway on a real stack (deploy/local/up.sh: RabbitMQ, Redis,
# one worker, one inference worker, the gateway with its local CA), driven by curl: every
# route `mlhep-gateway --routes` prints answers with success, and every error status the
# gateway gives: 400 (bad JSON, bad workflow: named, nothing queued), 401 (no token,
# forged: other key, alg none, expired, wrong audience/issuer; with WWW-Authenticate),
# 403 (missing scope), 404 (route, another user's job, unknown model), 405 (Allow), 409
# (cancel of a finished job, artifacts of an unfinished one, Idempotency-Key in
# progress), 413 (body cap), 429 (rate, concurrency; Retry-After), 503 (no inference
# worker; Redis down for /readyz), 504 (inference paused with SIGSTOP). A job followed by
# Server-Sent Events to `end`, its artifacts one by one and as the archive (sha256 against
# MANIFEST.json); TFaaS /json equals /v1/predict; KServe v2 infer (JSON and the binary
# tensor extension) equals mlhep's predictions; the Python urllib client
# (tests/py/gateway_client.py); /metrics parsed by prometheus_client and counting the
# requests; Idempotency-Key replays; the gateway killed before and after publishing
# (test hook): an error for the client, and the job queued once or not at all; hostile
# cases: users' credentials cannot publish to the broker, forged and replayed-expired
# tokens refused, path tricks 4xx without touching the file system, tokens never logged,
# no CORS by default; every gateway exits clean under the sanitizers.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../service_lib.sh"
PY=/usr/bin/python3
# gateways of our own (limits, crash hooks) are stopped by PID on exit, inference workers
# paused by a check are resumed first (even on failure)
trap 'for p in "$S"/pids/infer-*.pid; do [ -f "$p" ] && kill -CONT "$(cat "$p")" 2>/dev/null; done
      for p in "$TMP"/gw-*.pid; do [ -f "$p" ] && kill -TERM "$(cat "$p")" 2>/dev/null; done
      svc_down; rm -rf "$TMP"' EXIT

export MLHEP_JWT_LEEWAY=0 # expiry checks without clock-skew allowance
svc_up --workers 1 --infer 1 --test-hooks --users alice,bob
G=$(cat "$S/gateway.url"); CA=$S/tls/ca.pem
TA=$(cat "$S/users/alice.token"); TB=$(cat "$S/users/bob.token")
mint() { "$TOP/deploy/local/mint-token.sh" --key "$S/secrets/jwt-signing.key" "$@"; }
TOKENS=("$TA" "$TB") # every token used: none may appear in a log

# req OUT METHOD URL [curl args]: body in OUT.body, headers in OUT.hdr; prints the status
# (000: no HTTP answer)
req() {
    local o=$1 m=$2 u=$3; shift 3
    local mo=(-X "$m"); [ "$m" = HEAD ] && mo=(--head)
    curl -sS --path-as-is --cacert "$CA" --max-time 60 "${mo[@]}" -o "$o.body" -D "$o.hdr" -w '%{http_code}' "$@" "$u" 2>"$o.err" || true
}
# as USER-TOKEN: the Authorization header
auth() { printf 'Authorization: Bearer %s' "$1"; }
hdr() { tr -d '\r' < "$1.hdr" | sed -n "s/^$2: //Ip" | tail -n1; }
errmsg() { jq -r '.error // empty' "$1.body" 2>/dev/null; }
# expect NAME STATUS CODE OUT [NEEDLE]: a JSON error with that status and code, message with NEEDLE
expect() {
    local n=$1 st=$2 code=$3 o=$4 needle=${5:-} got=$6
    local c m; c=$(jq -r '.code // empty' "$o.body" 2>/dev/null); m=$(errmsg "$o")
    if [ "$got" = "$st" ] && [ "$c" = "$code" ] && [[ $m == *"$needle"* ]]; then ok "$n ($st $code)"; else bad "$n" "status $got code=$c: $(head -c 400 "$o.body")"; fi
}
R=$TMP/r
section() { echo "# ${SECONDS}s: $*"; }

# --- models of every kind, placed as alice's job artifacts (no training needed)
section "models of every kind, placed as alice's job artifa"
M=$TMP/models; mkdir -p "$M"
"$TOP/build/asan/tests/test_predict" --make-models "$M" >/dev/null 2>&1 || { bad "test models" "test_predict --make-models failed"; exit 1; }
J1=11111111111111111111111111111111; J2=22222222222222222222222222222222; J3=33333333333333333333333333333333
for j in $J1:mlp $J2:mlp3 $J3:gbdt; do mkdir -p "$S/artifacts/alice/${j%%:*}"; cp "$M/${j#*:}.mlhep" "$S/artifacts/alice/${j%%:*}/model.mlhep"; done

# --- open routes, 404, 405, CORS absent
section "open routes, 404, 405, CORS absent"
NHEALTH=0
s=$(req $R GET "$G/healthz"); NHEALTH=$((NHEALTH + 1))
[ "$s" = 200 ] && [ "$(jq -r .status $R.body)" = ok ] && ok "GET /healthz 200" || bad "healthz" "$s $(cat $R.body $R.err)"
s=$(req $R HEAD "$G/healthz"); NHEALTH=$((NHEALTH + 1))
[ "$s" = 200 ] && ok "HEAD /healthz 200 (HEAD wherever GET)" || bad "HEAD healthz" "$s"
s=$(req $R GET "$G/readyz"); [ "$s" = 200 ] && ok "GET /readyz 200" || bad "readyz" "$s $(cat $R.body)"
s=$(req $R GET "$G/"); [ "$s" = 200 ] && [[ $(hdr $R Content-Type) == text/html* ]] && ok "GET / (dashboard) 200" || bad "dashboard" "$s"
s=$(req $R GET "$G/ui/index.html"); [ "$s" = 200 ] && ok "GET /ui/index.html 200" || bad "/ui/index.html" "$s"
et=$(hdr $R ETag); s=$(req $R GET "$G/ui/index.html" -H "If-None-Match: $et"); [ "$s" = 304 ] && ok "dashboard file unchanged: 304 with If-None-Match" || bad "304" "$s"
for p in /v2 /v2/health/live /v2/health/ready; do s=$(req $R GET "$G$p"); [ "$s" = 200 ] && ok "GET $p 200" || bad "GET $p" "$s $(cat $R.body)"; done
s=$(req $R GET "$G/no/such/route"); expect "unknown route" 404 not_found $R "no such endpoint" "$s"
s=$(req $R PUT "$G/v1/jobs" -H "$(auth "$TA")"); expect "PUT /v1/jobs" 405 method_not_allowed $R "" "$s"
[ "$(hdr $R Allow)" = "GET, HEAD, POST" ] && ok "405 names the methods: Allow: GET, HEAD, POST" || bad "Allow" "$(hdr $R Allow)"
s=$(req $R DELETE "$G/healthz"); [ "$s" = 405 ] && [ "$(hdr $R Allow)" = "GET, HEAD" ] && ok "DELETE /healthz 405 Allow: GET, HEAD" || bad "DELETE healthz" "$s $(hdr $R Allow)"
s=$(req $R OPTIONS "$G/v1/jobs" -H "Origin: https://evil.example" -H "Access-Control-Request-Method: POST")
s2=$(req $R.2 GET "$G/v1/whoami" -H "$(auth "$TA")" -H "Origin: https://evil.example")
if [ "$s" = 405 ] && [ "$s2" = 200 ] && ! grep -qi '^access-control-' $R.hdr $R.2.hdr; then ok "no CORS by default (no preflight, no Access-Control-* headers)"; else bad "CORS" "$s $s2 $(grep -i access-control $R.hdr $R.2.hdr)"; fi
[ "$(jq -r .user $R.2.body)" = alice ] && ok "GET /v1/whoami: alice" || bad "whoami" "$(cat $R.2.body)"
# headers: up to about 120 KB in all (a connection's 128 KiB in libmicrohttpd), beyond 431
for n in 90000 200000; do printf 'X-Pad: %s\n' "$(head -c $n /dev/zero | tr '\0' a)" > "$TMP/pad$n.h"; done
s=$(req $R GET "$G/v1/whoami" -H "$(auth "$TA")" -H @"$TMP/pad90000.h")
s2=$(req $R.2 GET "$G/v1/whoami" -H "$(auth "$TA")" -H @"$TMP/pad200000.h")
[ "$s" = 200 ] && [ "$s2" = 431 ] && ok "a 90 KB header is read, a 200 KB one refused with 431" || bad "header sizes" "$s $s2"

# --- tokens: missing, forged, wrong scope, expired replay
section "tokens"
s=$(req $R GET "$G/v1/jobs"); expect "no token" 401 unauthorized $R "bearer token is required" "$s"
[[ $(hdr $R WWW-Authenticate) == 'Bearer realm="mlhep"'* ]] && ok "401 carries WWW-Authenticate: Bearer" || bad "WWW-Authenticate" "$(hdr $R WWW-Authenticate)"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$TMP/other.key" 2>/dev/null
# the tokens of this section, minted at once (each mint is a few processes)
FORGED="signed with another key|--key $TMP/other.key
alg none (unsigned)|--header-alg none
expired|--ttl -60
wrong audience|--aud someone-else
wrong issuer|--iss https://evil.example
not yet valid|--nbf-in 600"
i=0; while IFS='|' read -r name args; do
    # shellcheck disable=SC2086
    mint --sub alice --scope "mlhep.submit mlhep.predict" $args > "$TMP/tok-$i" & i=$((i + 1))
done <<< "$FORGED"
mint --sub alice --scope "openid mlhep.submit" > "$TMP/tok-s" & mint --sub alice --scope "mlhep.predict" > "$TMP/tok-p" &
wait
i=0; while IFS='|' read -r name args; do
    tok=$(cat "$TMP/tok-$i"); i=$((i + 1)); TOKENS+=("$tok")
    s=$(req $R GET "$G/v1/jobs" -H "$(auth "$tok")")
    if [ "$s" = 401 ] && [[ $(hdr $R WWW-Authenticate) == *'error="invalid_token"'* ]] && ! grep -qF "$tok" $R.body; then ok "forged token refused with 401: $name"; else bad "forged token $name" "$s $(cat $R.body)"; fi
done <<< "$FORGED"
s=$(req $R GET "$G/v1/jobs" -H "Authorization: Bearer dev:alice"); [ "$s" = 401 ] && ok "dev token refused by a JWT gateway (401)" || bad "dev token" "$s"
s=$(req $R GET "$G/v1/jobs" -H "Authorization: Basic YWxpY2U6cGFzcw=="); [ "$s" = 401 ] && ok "Basic credentials refused (401)" || bad "basic" "$s"
TS=$(cat "$TMP/tok-s"); TP=$(cat "$TMP/tok-p"); TOKENS+=("$TS" "$TP")
s=$(req $R GET "$G/v1/models" -H "$(auth "$TS")"); expect "token without mlhep.predict on /v1/models" 403 forbidden $R "mlhep.predict" "$s"
[[ $(hdr $R WWW-Authenticate) == *'error="insufficient_scope", scope="mlhep.predict"'* ]] && ok "403 says the scope it needs" || bad "403 WWW-Authenticate" "$(hdr $R WWW-Authenticate)"
s=$(req $R POST "$G/json" -H "$(auth "$TS")" -d '{}'); [ "$s" = 403 ] && ok "token without mlhep.predict on POST /json: 403" || bad "403 /json" "$s"
s=$(req $R POST "$G/v1/jobs" -H "$(auth "$TP")" -d '{}'); expect "token without mlhep.submit on POST /v1/jobs" 403 forbidden $R "mlhep.submit" "$s"
# a token about to expire: accepted, then the very same request replayed after its exp is refused
TX=$(mint --sub alice --scope "mlhep.submit" --ttl 3); TOKENS+=("$TX")
s=$(req $R GET "$G/v1/whoami" -H "$(auth "$TX")")
replay_refused() { [ "$(req $R.x GET "$G/v1/whoami" -H "$(auth "$TX")")" = 401 ]; }
if [ "$s" = 200 ] && wait_until 10 replay_refused && [[ $(errmsg $R.x) == *expired* ]]; then ok "replayed request after the token expired: 401 (the token cache keeps no token past its exp)"; else bad "expired replay" "$s then $(cat $R.x.body)"; fi

# --- jobs: refusals before anything is queued
section "jobs"
s=$(req $R POST "$G/v1/jobs" -H "$(auth "$TA")" -d '{"name": "x", "model": {"type": "sleep"')
expect "bad JSON" 400 bad_request $R "the body is not valid JSON" "$s"
[[ $(errmsg $R) == *"line 1, column"*"nothing was queued" ]] && ok "bad JSON: position named, nothing was queued" || bad "bad JSON message" "$(errmsg $R)"
s=$(req $R POST "$G/v1/jobs" -H "$(auth "$TA")" -d '{"name": "x", "files": [{"path": "uproot-HZZ.root", "label": 1}], "model": {"type": "bdt"}}')
expect "bad workflow" 400 bad_request $R '/model/type: "bdt" is not one of' "$s"
[[ $(errmsg $R) == *"nothing was queued" ]] && ok "bad workflow: nothing was queued" || bad "bad workflow message" "$(errmsg $R)"
s=$(req $R POST "$G/v1/jobs" -H "$(auth "$TA")" -d '{"name": "x", "files": [{"path": "/etc/shadow", "label": 1}], "model": {"type": "mlp", "layers": [{"dense": 1, "activation": "sigmoid"}]}}')
expect "/etc/shadow refused at the gateway" 400 bad_request $R "outside the data roots" "$s"
s=$(req $R POST "$G/v1/jobs" -H "$(auth "$TA")"); expect "no body" 400 bad_request $R "no body" "$s"
s=$(req $R POST "$G/v1/jobs" -H "$(auth "$TA")" -H "Idempotency-Key: $(head -c 300 /dev/zero | tr '\0' k)" -d '{"name": "s", "model": {"type": "sleep", "seconds": 0}}')
expect "Idempotency-Key over 255 bytes" 400 bad_request $R "Idempotency-Key" "$s"
d1=$(queue_depth jobs.train); d2=$(queue_depth jobs.registry)
s=$(req $R GET "$G/v1/jobs" -H "$(auth "$TA")")
[ "$(jq '.jobs | length' $R.body)" = 0 ] && [ "$d1" = 0 ] && [ "$d2" = 0 ] && ok "nothing queued after the refusals (no job, jobs.train=$d1 jobs.registry=$d2)" || bad "nothing queued" "$(cat $R.body) $d1 $d2"

# --- a job with an Idempotency-Key, submitted twice: one job
section "a job with an Idempotency-Key, submitted twice"
echo '{"name": "idem", "model": {"type": "sleep", "seconds": 0.3}}' > "$TMP/sleep.json"
s=$(req $R POST "$G/v1/jobs" -H "$(auth "$TA")" -H "Idempotency-Key: key-1" --data-binary @"$TMP/sleep.json"); ID=$(jq -r .id $R.body)
[ "$s" = 202 ] && [ "$(hdr $R Location)" = "/v1/jobs/$ID" ] && [ "$(jq -r .events_url $R.body)" = "/v1/jobs/$ID/events" ] && ok "POST /v1/jobs: 202, Location /v1/jobs/$ID" || bad "submit" "$s $(cat $R.body)"
s=$(req $R POST "$G/v1/jobs" -H "$(auth "$TA")" -H "Idempotency-Key: key-1" --data-binary @"$TMP/sleep.json")
[ "$s" = 200 ] && [ "$(jq -r .id $R.body)" = "$ID" ] && [ "$(hdr $R Idempotent-Replayed)" = true ] && ok "same Idempotency-Key again: 200, Idempotent-Replayed: true, the same job" || bad "idempotent replay" "$s $(cat $R.body)"
s=$(req $R POST "$G/v1/jobs" -H "$(auth "$TB")" -H "Idempotency-Key: key-1" --data-binary @"$TMP/sleep.json"); IDB=$(jq -r .id $R.body)
[ "$s" = 202 ] && [ "$IDB" != "$ID" ] && ok "bob's key-1 is his own: a new job" || bad "keys per user" "$s $(cat $R.body)"
# followed live to its end (Server-Sent Events)
curl -sS -N --cacert "$CA" --max-time 60 -H "$(auth "$TA")" "$G/v1/jobs/$ID/events" > "$TMP/sse.txt" 2>&1
if grep -q '^event: status' "$TMP/sse.txt" && [ "$(grep '^event: ' "$TMP/sse.txt" | tail -n1)" = "event: end" ] && grep -q '^data: {"state":"succeeded"}' "$TMP/sse.txt"; then ok "GET /v1/jobs/ID/events: status events, then end (succeeded)"; else bad "SSE" "$(tail -c 600 "$TMP/sse.txt")"; fi
s=$(req $R GET "$G/v1/jobs/$ID" -H "$(auth "$TA")")
[ "$s" = 200 ] && [ "$(jq -r '[.state, (.progress|type), .user] | join(",")' $R.body)" = "succeeded,number,alice" ] && ok "GET /v1/jobs/ID: succeeded, numbers as numbers" || bad "status" "$s $(cat $R.body)"
s=$(req $R GET "$G/v1/jobs?limit=1" -H "$(auth "$TA")")
[ "$s" = 200 ] && [ "$(jq -r '.jobs | length' $R.body)" = 1 ] && [ "$(jq -r '.jobs[0].id' $R.body)" = "$ID" ] && ok "GET /v1/jobs?limit=1: alice's job only" || bad "list" "$s $(cat $R.body)"
s=$(req $R GET "$G/v1/jobs?limit=0" -H "$(auth "$TA")"); expect "limit=0" 400 bad_request $R "limit" "$s"
s=$(req $R GET "$G/v1/jobs/$ID/logs" -H "$(auth "$TA")"); [ "$s" = 200 ] && [ "$(jq '.lines | length' $R.body)" -ge 1 ] && ok "GET /v1/jobs/ID/logs (JSON)" || bad "logs" "$s $(cat $R.body)"
s=$(req $R GET "$G/v1/jobs/$ID/logs?format=text" -H "$(auth "$TA")"); [ "$s" = 200 ] && [[ $(hdr $R Content-Type) == text/plain* ]] && ok "logs ?format=text" || bad "logs text" "$s"
s=$(req $R POST "$G/v1/jobs/$ID/cancel" -H "$(auth "$TA")"); expect "cancel of a finished job" 409 conflict $R "already finished (succeeded)" "$s"
# another user's job, an unknown job, a malformed id
for p in "" /logs /artifacts /events /archive; do
    s=$(req $R GET "$G/v1/jobs/$ID$p" -H "$(auth "$TB")"); [ "$s" = 404 ] || bad "bob GET alice's job$p" "$s $(cat $R.body)"
done
s=$(req $R POST "$G/v1/jobs/$ID/cancel" -H "$(auth "$TB")"); expect "bob cannot see or cancel alice's job" 404 not_found $R "for user 'bob'" "$s"
s=$(req $R GET "$G/v1/jobs/0123456789abcdef0123456789abcdef" -H "$(auth "$TA")"); expect "unknown job" 404 not_found $R "no job" "$s"
s=$(req $R GET "$G/v1/jobs/not-an-id" -H "$(auth "$TA")"); expect "malformed job id" 400 bad_request $R "is not a job id" "$s"

# --- the MLaaS4HEP service's calls, with a real training job whose artifacts we fetch
section "the MLaaS4HEP service's calls, with a real trainin"
MLAAS='{"name": "hzz", "files": ["uproot-HZZ.root", "uproot-HZZ-zstd.root"], "labels": [1, 0], "tree": "events", "params": {"epochs": 1, "batch_size": 64, "hist": true}, "model": {"type": "mlp", "layers": [{"dense": 4, "activation": "relu"}, {"dense": 1, "activation": "sigmoid"}]}, "device": "cpu", "memory": "1G", "cpus": 1}'
s=$(req $R POST "$G/submit" -H "$(auth "$TA")" -d "$MLAAS"); PN=$(jq -r .process_name $R.body); JM=$(jq -r .job_id $R.body)
[ "$s" = 202 ] && [ "$PN" = "hzz_${JM:0:8}" ] && ok "POST /submit (MLaaS4HEP body): 202 {process_name: $PN, job_id}" || bad "/submit" "$s $(cat $R.body)"
s=$(req $R POST "$G/submit" -H "$(auth "$TA")" -d '{"name": "x", "files": ["a.root"], "labels": [1], "model": "model.py"}')
expect "/submit with a model file name" 400 bad_request $R "names a file ('model.py')" "$s"
s=$(req $R GET "$G/status_docker?process_name=$PN" -H "$(auth "$TA")"); [ "$s" = 200 ] && [ "$(jq -r .job_id $R.body)" = "$JM" ] && ok "GET /status_docker?process_name=$PN" || bad "status_docker" "$s $(cat $R.body)"
s=$(req $R GET "$G/status_docker?process_name=hzz_ffffffff" -H "$(auth "$TA")"); expect "unknown process_name" 404 not_found $R "no job with process_name" "$s"
s=$(req $R GET "$G/status_docker" -H "$(auth "$TA")"); expect "no process_name" 400 bad_request $R "process_name is required" "$s"
curl -sS -N --cacert "$CA" --max-time 120 -H "$(auth "$TA")" "$G/v1/jobs/$JM/events" > "$TMP/sse2.txt" 2>&1
if grep -q '^event: log' "$TMP/sse2.txt" && grep -q '^event: status' "$TMP/sse2.txt" && tail -n 3 "$TMP/sse2.txt" | grep -q '^data: {"state":"succeeded"}'; then ok "training job followed live: log and status events, end: succeeded"; else bad "SSE training" "$(tail -c 800 "$TMP/sse2.txt")"; fi
s=$(req $R GET "$G/logs?process_name=$PN" -H "$(auth "$TA")"); [ "$s" = 200 ] && [ -s $R.body ] && [[ $(hdr $R Content-Type) == text/plain* ]] && ok "GET /logs?process_name= (text)" || bad "mlaas logs" "$s"
s=$(req $R GET "$G/v1/jobs/$JM/artifacts" -H "$(auth "$TA")")
A=$TMP/art; mkdir -p "$A"; n=0; good=1
for f in $(jq -r '.files[].name' $R.body); do
    n=$((n + 1)); st=$(req $R.f GET "$G/v1/jobs/$JM/artifacts/$f" -H "$(auth "$TA")"); mkdir -p "$(dirname "$A/$f")"; cp $R.f.body "$A/$f"
    [ "$st" = 200 ] || { good=0; bad "artifact $f" "$st"; }
done
st=$(req $R.m GET "$G/v1/jobs/$JM/artifacts/MANIFEST.json" -H "$(auth "$TA")")
man_ok() { jq -r '.files[] | "\(.sha256)  \(.name)"' $R.m.body | (cd "$1" && sha256sum -c --quiet - >/dev/null 2>&1); }
if [ "$st" = 200 ] && [ $n -ge 4 ] && [ $good = 1 ] && man_ok "$A" && [ "$(jq -r '.files | length' $R.m.body)" = $n ]; then ok "GET /v1/jobs/ID/artifacts/FILE: $n files, each sha256 as MANIFEST.json says"; else bad "artifacts" "n=$n st=$st $(cat $R.m.body)"; fi
if jq -e '.files | map(.name) | index("hists/index.html") and (map(select(startswith("hists/") and endswith(".svg"))) | length > 0)' $R.m.body >/dev/null &&
   [ "$(req $R.h GET "$G/v1/jobs/$JM/artifacts/hists/index.html" -H "$(auth "$TA")")" = 200 ] && grep -q "Feature histograms" $R.h.body; then
    ok "params.hist's sub-directory is in MANIFEST.json and served: GET .../artifacts/hists/index.html"
else bad "artifacts in a sub-directory" "$(jq -c '[.files[].name]' $R.m.body)"; fi
s=$(req $R GET "$G/v1/jobs/$JM" -H "$(auth "$TA")")
[ "$s" = 200 ] && [ "$(jq -r .artifacts $R.body)" = "/v1/jobs/$JM/artifacts" ] && ok "the job record names its artifacts by URL, not by the service's disk path" || bad "record artifacts" "$(jq -r .artifacts $R.body)"
s=$(req $R GET "$G/v1/jobs/$JM/artifacts/roc.svg" -H "$(auth "$TA")")
[ "$s" = 200 ] && [[ $(hdr $R Content-Type) == image/svg+xml* ]] && [[ $(hdr $R Content-Security-Policy) == sandbox* ]] && ok "roc.svg as image/svg+xml, sandboxed" || bad "roc.svg" "$s $(hdr $R Content-Type)"
s=$(req $R GET "$G/v1/jobs/$JM/artifacts/worker.conf" -H "$(auth "$TA")"); expect "a file the manifest does not list" 404 not_found $R "has no artifact 'worker.conf'" "$s"
s=$(req $R GET "$G/v1/jobs/$JM/archive" -H "$(auth "$TA")"); X=$TMP/x; mkdir -p "$X"
if [ "$s" = 200 ] && [ "$(tar tzf $R.body | sort | tr '\n' ' ')" = "$( (jq -r '.files[].name' $R.m.body; echo MANIFEST.json) | sed "s|^|$JM/|" | sort | tr '\n' ' ')" ] && tar xzf $R.body -C "$X" && man_ok "$X/$JM"; then ok "GET /v1/jobs/ID/archive: tar.gz of the listed files (tar tz lists them, sha256 match)"; else bad "archive" "$s $(tar tzf $R.body 2>&1 | head)"; fi
s=$(req $R GET "$G/model?process_name=$PN" -H "$(auth "$TA")"); [ "$s" = 200 ] && tar tzf $R.body | grep -q "$JM/model.mlhep" && ok "GET /model?process_name= (the archive)" || bad "mlaas model" "$s"

# --- a long job: cancelled while it runs
section "a long job"
echo '{"name": "long", "model": {"type": "sleep", "seconds": 60}}' > "$TMP/long.json"
s=$(req $R POST "$G/v1/jobs" -H "$(auth "$TA")" --data-binary @"$TMP/long.json"); JL=$(jq -r .id $R.body)
is_running() { [ "$(req $R.w GET "$G/v1/jobs/$JL" -H "$(auth "$TA")")" = 200 ] && [ "$(jq -r .state $R.w.body)" = running ]; }
wait_until 30 is_running
s=$(req $R GET "$G/v1/jobs/$JL/artifacts" -H "$(auth "$TA")"); expect "artifacts of an unfinished job" 409 conflict $R "has no artifacts: it is running" "$s"
s=$(req $R GET "$G/v1/jobs/$JL/archive" -H "$(auth "$TA")"); expect "archive of an unfinished job" 409 conflict $R "has no artifacts" "$s"
s=$(req $R GET "$G/v1/jobs/$JL/artifacts/model.json" -H "$(auth "$TA")"); expect "an artifact of an unfinished job" 409 conflict $R "has no artifacts" "$s"
s=$(req $R POST "$G/v1/jobs/$JL/cancel" -H "$(auth "$TA")")
is_cancelled() { req $R.w GET "$G/v1/jobs/$JL" -H "$(auth "$TA")" >/dev/null; [ "$(jq -r .state $R.w.body)" = cancelled ]; }
[ "$s" = 202 ] && [ "$(jq -r .cancel $R.body)" = requested ] && wait_until 30 is_cancelled && ok "POST /v1/jobs/ID/cancel of a running job: 202, then cancelled" || bad "cancel" "$s $(cat $R.body $R.w.body)"

# --- models and predictions (mlhep, TFaaS, KServe v2)
section "models and predictions (mlhep, TFaaS, KServe v2)"
tag() { req $R POST "$G/v1/models" -H "$(auth "$TA")" -d "{\"job\": \"$1\", \"name\": \"$2\"}"; }
s1=$(tag $J1 ttH); v1=$(jq -r .model $R.body); s2=$(tag $J2 three); s3=$(tag $J3 trees)
[ "$s1" = 201 ] && [ "$v1" = ttH@1 ] && [ "$s2" = 201 ] && [ "$s3" = 201 ] && ok "POST /v1/models: tagged ttH@1 (mlp), three (3 classes), trees (gbdt)" || bad "tag" "$s1 $s2 $s3 $(cat $R.body)"
s=$(req $R POST "$G/v1/models" -H "$(auth "$TA")" -d '{"job": 5}'); expect "tag with a bad body" 400 bad_request $R "tag needs" "$s"
s=$(req $R GET "$G/v1/models" -H "$(auth "$TA")"); [ "$s" = 200 ] && jq -e '.models[] | select(.name == "ttH")' $R.body >/dev/null && ok "GET /v1/models lists ttH" || bad "models list" "$s $(cat $R.body)"
s=$(req $R GET "$G/v1/models/ttH" -H "$(auth "$TA")"); [ "$s" = 200 ] && [ "$(jq -r '.features.features | length' $R.body)" -gt 10 ] && [ "$(jq -r .registry.name $R.body)" = ttH ] && ok "GET /v1/models/ttH: features and registry entry" || bad "model show" "$s $(head -c 300 $R.body)"
s=$(req $R GET "$G/v1/models/nope" -H "$(auth "$TA")"); [ "$s" = 404 ] && [[ $(errmsg $R) == *"nope"* ]] && ok "unknown model: 404" || bad "unknown model" "$s $(cat $R.body)"
s=$(req $R POST "$G/v1/models/ttH/share" -H "$(auth "$TA")" -d '{"shared": true}'); [ "$s" = 200 ] && ok "POST /v1/models/ttH/share" || bad "share" "$s $(cat $R.body)"
s=$(req $R POST "$G/v1/models/ttH/share" -H "$(auth "$TA")" -d '{"shared": "yes"}'); expect "share with a bad body" 400 bad_request $R "shared" "$s"
s=$(req $R DELETE "$G/v1/models/trees" -H "$(auth "$TA")"); s2=$(req $R.2 GET "$G/v1/models/trees" -H "$(auth "$TA")")
[ "$s" = 200 ] && [ "$s2" = 404 ] && ok "DELETE /v1/models/trees, then 404" || bad "delete" "$s $s2 $(cat $R.body)"
s=$(req $R GET "$G/models" -H "$(auth "$TA")"); [ "$s" = 200 ] && [ "$(jq -r '.[] | select(.name == "ttH") | .model' $R.body)" = model.mlhep ] && ok "GET /models (TFaaS list)" || bad "tfaas models" "$s $(cat $R.body)"
jq '.model = "ttH@1"' "$M/req-values.json" > "$TMP/values.json"
s=$(req $R POST "$G/v1/predict" -H "$(auth "$TA")" --data-binary @"$TMP/values.json"); P1=$(jq -c '.predictions[0]' $R.body)
[ "$s" = 200 ] && [ -n "$P1" ] && [ "$P1" != null ] && ok "POST /v1/predict: $P1" || bad "v1 predict" "$s $(cat $R.body)"
as_alice predict --local --model "$M/mlp.mlhep" "$TMP/values.json" > "$TMP/local.txt" 2>&1
$PY -c "import json,sys; a=json.loads(sys.argv[1]); b=float(open(sys.argv[2]).read().split()[0]); sys.exit(0 if abs(a-b) <= 1e-6*max(1,abs(b)) else 1)" "$P1" "$TMP/local.txt" && ok "gateway prediction == in-process prediction" || bad "gateway vs local" "$P1 vs $(cat "$TMP/local.txt")"
for p in /json /predict/json; do
    s=$(req $R POST "$G$p" -H "$(auth "$TA")" --data-binary @"$TMP/values.json")
    [ "$s" = 200 ] && [ "$(jq -c . $R.body)" = "[$P1]" ] && ok "POST $p (TFaaS): bare array [$P1] == /v1/predict's first prediction" || bad "TFaaS $p" "$s $(cat $R.body)"
done
s=$(req $R POST "$G/json" -H "$(auth "$TA")" -d '{"keys": ["a"], "values": [1], "model": "nope"}')
[ "$s" = 404 ] && [ "$(jq -r 'keys | join(",")' $R.body)" = error ] && ok "TFaaS unknown model: 404 {\"error\"} only" || bad "tfaas 404" "$s $(cat $R.body)"
s=$(req $R POST "$G/json" -H "$(auth "$TA")" -d '{"keys": ['); [ "$s" = 400 ] && [ "$(jq -r 'keys | join(",")' $R.body)" = error ] && ok "TFaaS bad JSON: 400 {\"error\"}" || bad "tfaas 400" "$s $(cat $R.body)"
# mlhep's binary columnar form
jq '.model = "ttH@1"' "$M/req-columns.json" > "$TMP/columns.json"
$PY "$TOP/tests/py/colreq.py" "$TMP/columns.json" "$TMP/c.bin"
s=$(req $R POST "$G/v1/predict" -H "$(auth "$TA")" -H "Content-Type: application/x-mlhep-columns" --data-binary @"$TMP/c.bin")
[ "$s" = 200 ] && [ "$(head -c 4 $R.body)" = MLHR ] && ok "POST /v1/predict binary columnar: binary answer (MLHR)" || bad "binary predict" "$s $(head -c 200 $R.body)"
s=$(req $R POST "$G/v1/predict" -H "$(auth "$TA")" --data-binary @"$TMP/columns.json"); jq -c '.predictions' $R.body > "$TMP/p25.json"
# KServe v2: metadata, readiness, infer (JSON, binary tensors) == mlhep's predictions
s=$(req $R GET "$G/v2/models/ttH" -H "$(auth "$TA")")
[ "$s" = 200 ] && [ "$(jq -r '.inputs | length' $R.body)" -gt 10 ] && [ "$(jq -c '.outputs[0].shape' $R.body)" = "[-1,1]" ] && ok "GET /v2/models/ttH: inputs with shapes, output [-1,1]" || bad "v2 model" "$s $(head -c 300 $R.body)"
s=$(req $R GET "$G/v2/models/ttH/versions/1" -H "$(auth "$TA")"); [ "$s" = 200 ] && [ "$(jq -r '.versions[0]' $R.body)" = 1 ] && ok "GET /v2/models/ttH/versions/1" || bad "v2 version" "$s $(head -c 200 $R.body)"
s=$(req $R GET "$G/v2/models/ttH/ready" -H "$(auth "$TA")"); s2=$(req $R.2 GET "$G/v2/models/ttH/versions/1/ready" -H "$(auth "$TA")")
[ "$s" = 200 ] && [ "$s2" = 200 ] && [ "$(jq -r .ready $R.body)" = true ] && ok "GET /v2/models/ttH[/versions/1]/ready" || bad "v2 ready" "$s $s2"
s=$(req $R GET "$G/v2/models/nope" -H "$(auth "$TA")"); s2=$(req $R.2 GET "$G/v2/models/nope/ready" -H "$(auth "$TA")")
[ "$s" = 404 ] && [ "$s2" = 404 ] && ok "v2 unknown model: 404 (metadata and ready)" || bad "v2 404" "$s $s2"
$PY - "$TMP/columns.json" "$TMP/v2" <<'PYV2'
import json, struct, sys
cols = json.load(open(sys.argv[1]))["columns"]
inputs, blobs = [], []
for name, vals in cols.items():
    if isinstance(vals[0], list):  # jagged: [N, L], short rows padded with null (NaN)
        L = max(1, max(len(v) for v in vals))
        rows = [v + [None] * (L - len(v)) for v in vals]
        inputs.append({"name": name, "datatype": "FP64", "shape": [len(vals), L], "data": rows})
        flat = [float("nan") if x is None else x for r in rows for x in r]
    else:
        inputs.append({"name": name, "datatype": "FP64", "shape": [len(vals)], "data": vals})
        flat = vals
    blobs.append(struct.pack("<%dd" % len(flat), *flat))
json.dump({"id": "v2-json", "inputs": inputs}, open(sys.argv[2] + ".json", "w"))
# the binary tensor extension: JSON part without data, tensors after it, output as binary too
for i, b in zip(inputs, blobs):
    del i["data"]
    i["parameters"] = {"binary_data_size": len(b)}
head = json.dumps({"id": "v2-bin", "inputs": inputs, "outputs": [{"name": "output", "parameters": {"binary_data": True}}]}).encode()
open(sys.argv[2] + ".bin", "wb").write(head + b"".join(blobs))
open(sys.argv[2] + ".len", "w").write(str(len(head)))
PYV2
same32() { $PY -c "
import json, struct, sys
want = [x if isinstance(x, float) or isinstance(x, int) else x[0] for x in json.load(open(sys.argv[1]))]
got = json.load(open(sys.argv[2]))
f = lambda v: struct.unpack('<f', struct.pack('<f', v))[0]
sys.exit(0 if len(got) == len(want) and all(f(a) == f(b) for a, b in zip(got, want)) else 1)" "$1" "$2"; }
s=$(req $R POST "$G/v2/models/ttH/infer" -H "$(auth "$TA")" -H "Content-Type: application/json" --data-binary @"$TMP/v2.json")
jq -c '.outputs[0].data' $R.body > "$TMP/v2out.json" 2>/dev/null
[ "$s" = 200 ] && [ "$(jq -r .id $R.body)" = v2-json ] && [ "$(jq -c '.outputs[0].shape' $R.body)" = "[25,1]" ] && same32 "$TMP/p25.json" "$TMP/v2out.json" && ok "POST /v2/models/ttH/infer (JSON, 25 rows, jagged padded with null) == /v1/predict" || bad "v2 infer JSON" "$s $(head -c 300 $R.body)"
s=$(req $R POST "$G/v2/models/ttH/versions/1/infer" -H "$(auth "$TA")" -H "Content-Type: application/octet-stream" -H "Inference-Header-Content-Length: $(cat "$TMP/v2.len")" --data-binary @"$TMP/v2.bin")
jl=$(hdr $R Inference-Header-Content-Length)
$PY -c "
import json, struct, sys
b = open(sys.argv[1], 'rb').read(); n = int(sys.argv[2]); h = json.loads(b[:n])
assert h['id'] == 'v2-bin' and h['outputs'][0]['parameters']['binary_data_size'] == len(b) - n
json.dump(list(struct.unpack('<%df' % ((len(b) - n) // 4), b[n:])), open(sys.argv[3], 'w'))" $R.body "${jl:-0}" "$TMP/v2bin.json" 2>"$TMP/v2bin.err"
[ "$s" = 200 ] && [ -n "$jl" ] && same32 "$TMP/p25.json" "$TMP/v2bin.json" && ok "POST /v2/models/ttH/versions/1/infer (binary tensors in and out, Inference-Header-Content-Length) == /v1/predict" || bad "v2 infer binary" "$s jl=$jl $(head -c 300 $R.body) $(cat "$TMP/v2bin.err")"
# binary requests are packed while they arrive (kserve_stream): its refusals are the whole parse's
$PY - "$TMP/v2.bin" "$(cat "$TMP/v2.len")" "$TMP/v2x" <<'PYX'
import json, struct, sys
b = open(sys.argv[1], "rb").read(); n = int(sys.argv[2]); h = json.loads(b[:n]); out = sys.argv[3]
def write(name, head, data):
    hj = json.dumps(head).encode()
    open("%s.%s.bin" % (out, name), "wb").write(hj + data)
    open("%s.%s.len" % (out, name), "w").write(str(len(hj)))
rows = h["inputs"][0]["shape"][0]
bogus = dict(h, inputs=h["inputs"] + [{"name": "bogus", "datatype": "FP32", "shape": [rows], "parameters": {"binary_data_size": 4 * rows}}])
write("bogus", bogus, b[n:] + struct.pack("<%df" % rows, *([1.0] * rows)))
write("short", h, b[n:-4])
flat = next(i for i in h["inputs"] if len(i["shape"]) == 1)
sz = flat["parameters"]["binary_data_size"]
wide = dict(h, inputs=[dict(i, shape=[rows, 2], parameters={"binary_data_size": 2 * sz}) if i is flat else i for i in h["inputs"]])
off = n
for i in h["inputs"]:
    if i is flat: break
    off += i["parameters"]["binary_data_size"]
write("wide", wide, b[n:off] + b[off:off + sz] * 2 + b[off + sz:])
PYX
v2x() { req $R POST "$G/v2/models/ttH/infer" -H "$(auth "$TA")" -H "Inference-Header-Content-Length: $(cat "$TMP/v2x.$1.len")" --data-binary @"$TMP/v2x.$1.bin"; }
s=$(v2x bogus); expect "v2 binary input the model lacks" 400 unknown_branch $R "'bogus' is not a branch of the model" "$s"
s=$(v2x short); expect "v2 binary data shorter than announced" 400 bad_request $R "binary data ends early" "$s"
s=$(v2x wide); expect "v2 binary [N, 2] tensor of a flat branch" 400 bad_request $R "is a flat branch: shape must be [N] or [N, 1]" "$s"
s=$(req $R POST "$G/v2/models/ttH/infer" -H "Inference-Header-Content-Length: $(cat "$TMP/v2.len")" --data-binary @"$TMP/v2.bin")
expect "v2 binary request without a token" 401 unauthorized $R "bearer token" "$s"
printf 'not json' > "$TMP/v2x.nj.bin"; echo 4 > "$TMP/v2x.nj.len"
s=$(v2x nj); expect "v2 binary request whose JSON part is not JSON" 400 bad_request $R "not valid JSON" "$s"
s=$(req $R POST "$G/v2/models/ttH/infer" -H "$(auth "$TA")" -d '{"inputs": [{"name": "bogus", "datatype": "FP32", "shape": [1], "data": [1]}]}')
expect "v2 input the model lacks" 400 unknown_branch $R "'bogus' is not a branch of the model" "$s"
s=$(req $R POST "$G/v2/models/ttH/infer" -H "$(auth "$TA")" -d '{"inputs": [{"name": "NJet", "datatype": "FP16", "shape": [1], "data": [1]}]}')
expect "v2 FP16 refused by name" 400 bad_request $R "datatype FP16 is not supported" "$s"
s=$(req $R POST "$G/v2/models/ttH/infer" -H "$(auth "$TA")" -H "Inference-Header-Content-Length: 999999" -d '{}')
expect "v2 Inference-Header-Content-Length beyond the body" 400 bad_request $R "Inference-Header-Content-Length" "$s"
s=$(req $R POST "$G/v2/models/nope/infer" -H "$(auth "$TA")" -d '{"inputs": []}'); [ "$s" = 404 ] && ok "v2 infer of an unknown model: 404" || bad "v2 infer 404" "$s $(cat $R.body)"

# --- many predictions at once: each answer goes to the request that asked (the pump
# writes several requests at a time, or a caller writes its own), and a request larger
# than a broker frame (128 KiB) is framed whole
section "concurrent predictions"
$PY - "$TMP/columns.json" "$TMP/p25.json" "$TMP/conc" <<'PYC'
import json, sys
doc = json.load(open(sys.argv[1])); cols = doc["columns"]; want = json.load(open(sys.argv[2]))
for i in range(len(want)):  # one request per row
    json.dump(dict(doc, columns={k: [v[i]] for k, v in cols.items()}), open("%s.%d.json" % (sys.argv[3], i), "w"))
json.dump(dict(doc, columns={k: v * 40 for k, v in cols.items()}), open(sys.argv[3] + ".big.json", "w"))
PYC
cpids=()
for k in 1 2 3 4; do
    for i in $(seq 0 24); do
        curl -sS --cacert "$CA" --max-time 60 -o "$TMP/conc.out.$i.$k" -H "$(auth "$TA")" --data-binary @"$TMP/conc.$i.json" "$G/v1/predict" 2>/dev/null & cpids+=($!)
    done
    curl -sS --cacert "$CA" --max-time 60 -o "$TMP/conc.big.$k" -H "$(auth "$TA")" --data-binary @"$TMP/conc.big.json" "$G/v1/predict" 2>/dev/null & cpids+=($!)
done
wait "${cpids[@]}"
if out=$($PY - "$TMP/p25.json" "$TMP/conc" "$(wc -c < "$TMP/conc.big.json")" <<'PYK'
import json, sys
want = [x[0] if isinstance(x, list) else x for x in json.load(open(sys.argv[1]))]
close = lambda a, b: abs(a - b) <= 1e-6 * max(1.0, abs(b))
flat = lambda p: [x[0] if isinstance(x, list) else x for x in p]
# the rows' predictions differ from one another, so a crossed answer would show
assert all(not close(a, b) for i, a in enumerate(want) for b in want[i + 1:]), "rows with equal predictions"
bad = []
for k in range(1, 5):
    for i in range(len(want)):
        try:
            got = flat(json.load(open("%s.out.%d.%d" % (sys.argv[2], i, k)))["predictions"])
            if len(got) != 1 or not close(got[0], want[i]):
                bad.append("row %d copy %d: %s" % (i, k, got))
        except Exception as e:
            bad.append("row %d copy %d: %r" % (i, k, e))
    try:
        got = flat(json.load(open("%s.big.%d" % (sys.argv[2], k)))["predictions"])
        if len(got) != 40 * len(want) or not all(close(a, b) for a, b in zip(got, want * 40)):
            bad.append("big request %d: %d predictions" % (k, len(got)))
    except Exception as e:
        bad.append("big request %d: %r" % (k, e))
print("; ".join(bad[:5]) if bad else "%s bytes" % sys.argv[3])
sys.exit(1 if bad else 0)
PYK
); then ok "100 single-row predictions and 4 of 1000 rows ($out) at once: each answer is its own request's"; else bad "concurrent predictions" "$out"; fi

# --- the Python client (standard library only)
section "the Python client (standard library only)"
if out=$($PY "$TOP/tests/py/gateway_client.py" "$G" "$S/users/alice.token" "$CA" "$TMP/sleep.json" ttH "$TMP/values.json" "$TMP" 2>&1) &&
   [ "$(jq -r '[.state, .listed, (.log_lines > 0), (.artifacts | index("MANIFEST.json") == null and length >= 2)] | map(tostring) | join(",")' <<< "$out")" = "succeeded,true,true,true" ] &&
   [ "$(jq -c .tfaas <<< "$out")" = "[$P1]" ] && $PY -c "import json,sys,struct; d=json.loads(sys.argv[1]); f=lambda v: struct.unpack('<f', struct.pack('<f', v))[0]; sys.exit(0 if f(d['tfaas'][0]) == f(d['v2'][0]) else 1)" "$out"; then
    ok "Python urllib client: submit, poll, list, logs, artifacts, TFaaS predict == v2 infer"
else bad "Python client" "$out"; fi

# --- path tricks: 4xx, and the gateway opens no file for them (strace)
section "path tricks"
CANARY=canary-$RANDOM$RANDOM; echo "$CANARY" > "$S/artifacts/alice/canary.txt"
GWPID=$(cat "$S/pids/gateway.pid")
strace -f -qq -e trace=open,openat,openat2,stat,newfstatat,statx,readlink -p "$GWPID" -o "$TMP/strace.txt" 2>/dev/null & SPID=$!
# traced() N: the trace holds N opens of the finished job's MANIFEST.json: a request that
# opens it is a marker - seen in the trace, strace is attached (and everything the
# gateway did before that request's answer is written)
marker() { req $R.mk GET "$G/v1/jobs/$JM/artifacts/MANIFEST.json" -H "$(auth "$TA")" >/dev/null; }
traced() { [ "$(grep -c 'MANIFEST\.json' "$TMP/strace.txt" 2>/dev/null)" -ge "$1" ]; }
attached=0; for _ in $(seq 50); do marker; if wait_until 1 traced 1; then attached=1; break; fi; done
long=$(head -c 5000 /dev/zero | tr '\0' a); huge=$(head -c 100000 /dev/zero | tr '\0' a)
allbad=1
for p in "/v1/jobs/../x" "/v1/jobs/%2e%2e/artifacts" "/v1/jobs/$ID/artifacts/..%2F..%2Fcanary.txt" "/v1/jobs/$ID/artifacts/%2e%2e" \
         "/v1/jobs/$ID%2Fartifacts" "/v1/jobs/$ID/artifacts/..%2f..%2f..%2fworker.conf" "/ui/..%2F..%2Fgateway.conf" "/ui/%2e%2e" \
         "/ui/.%2e/.%2e/etc/passwd" "/v1/jobs/$ID/artifacts/x%00.json" "/$long" "/v1/jobs/$huge" "/%0d%0aX-Injected:%201" "//etc/passwd" "/v1/models/..%2F..%2Fsecrets"; do
    s=$(req $R GET "$G$p" -H "$(auth "$TA")")
    if [[ $s != 4?? ]] || grep -q "$CANARY" $R.body; then allbad=0; bad "path trick ${p:0:60}" "status $s $(head -c 200 $R.body)"; fi
done
s=$(req $R GET "$G/healthz" -H $'X-A: b\r\nX-Injected: 1' -H $'Authorization: Bearer x\r\nX-Mlhep-Test-Crash: before-publish'); s2=$(req $R.2 GET "$G/healthz")
[ "$s" = 200 ] && NHEALTH=$((NHEALTH + 1)); [ "$s2" = 200 ] && NHEALTH=$((NHEALTH + 1))
[ "$s2" = 200 ] || { allbad=0; bad "header injection" "gateway answers $s2 after it"; }
n0=$(grep -c 'MANIFEST\.json' "$TMP/strace.txt"); marker; wait_until 20 traced $((n0 + 1)) # the tricks' calls are all written
kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
if [ $allbad = 1 ]; then ok "path tricks (.., %2e%2e, %2F, NUL, 5 kB and 100 kB paths, CRLF) and header injection: all 4xx"; fi
if [ $attached = 1 ]; then
    if grep -E 'canary|passwd|gateway\.conf|worker\.conf|secrets|\.\./' "$TMP/strace.txt" | grep -v -- '--- SIG' | head -n 3 | grep -q .; then bad "path tricks touched the file system" "$(grep -E 'canary|passwd|gateway\.conf|worker\.conf|secrets|\.\./' "$TMP/strace.txt" | head -n 5)"
    else ok "path tricks: the gateway opened or looked up no file they name (strace: $(wc -l < "$TMP/strace.txt") calls seen)"; fi
else bad "path tricks: strace" "never saw the gateway open MANIFEST.json (strace not attached: $(head -c 200 "$TMP/strace.txt"))"; fi

# --- limits: a second gateway with a 1 MiB body cap, 1 request/s (burst 1), 1 at a time, 2 s predictions
section "limits"
gw_start() { # NAME CONFIG-LINES: a gateway of our own (its URL in $GWU)
    { grep -v '^test_hooks' "$S/gateway.conf"; printf '%s\n' "$2"; } > "$TMP/gw-$1.conf"
    rm -f "$TMP/gw-$1.port"
    "$BIN/mlhep-gateway" --config "$TMP/gw-$1.conf" --port-file "$TMP/gw-$1.port" >> "$TMP/gw-$1.log" 2>&1 &
    echo $! > "$TMP/gw-$1.pid"
    wait_until 30 test -s "$TMP/gw-$1.port" || { bad "gateway $1 start" "$(tail -n 5 "$TMP/gw-$1.log")"; return 1; }
    GWU=https://127.0.0.1:$(cat "$TMP/gw-$1.port")
    local rz; rz() { [ "$(req $R.rz GET "$GWU/readyz")" = 200 ]; }; wait_until 30 rz
}
gw_stop() { local p; p=$(cat "$TMP/gw-$1.pid" 2>/dev/null) || return 0; kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; rm -f "$TMP/gw-$1.pid"; }
gw_start lim "gateway_max_body_mb = 1
gateway_rate = 1
gateway_burst = 1
gateway_concurrency = 1
gateway_predict_timeout = 2
test_hooks = 0"
L=$GWU
head -c 1500000 /dev/zero | tr '\0' ' ' > "$TMP/big.json"
# (bob's requests: alice's one token per second stays for her prediction below)
s=$(req $R POST "$L/v1/jobs" -H "$(auth "$TB")" --data-binary @"$TMP/big.json"); expect "1.5 MB body to a 1 MiB gateway" 413 too_large $R "larger than the gateway takes (1 MiB)" "$s"
s=$(req $R POST "$L/v1/jobs" -H "$(auth "$TB")" -H "Transfer-Encoding: chunked" --data-binary @"$TMP/big.json"); [ "$s" = 413 ] && ok "1.5 MB chunked body (no Content-Length): 413" || bad "chunked 413" "$s $(cat $R.body $R.err)"
s=$(req $R GET "$L/v1/whoami" -H "$(auth "$TB")"); s2=$(req $R.2 GET "$L/v1/whoami" -H "$(auth "$TB")")
ra=$(hdr $R.2 Retry-After)
[ "$s" = 200 ] || [ "$s" = 429 ] # bob's token bucket may still be empty from the 413 above
expect "rate: bob's second request within the second" 429 too_many_requests $R.2 "the limit is 1 per second" "$s2"
[[ $ra =~ ^[1-9][0-9]*$ ]] && ok "429 carries Retry-After: $ra" || bad "Retry-After" "'$ra'"
# concurrency: alice's prediction waits for a paused inference worker; her next request is refused
IPIDS=$(cat "$S"/pids/infer-*.pid); for p in $IPIDS; do kill -STOP "$p"; done
req $R.slow POST "$L/json" -H "$(auth "$TA")" --data-binary @"$TMP/values.json" > "$TMP/slow.status" &
SLOW=$!
# in flight: her prediction and this /metrics request itself (which counts too: waiting for
# 1 let her next request overtake the prediction and take her one token of the second)
inflight() { req $R.m GET "$L/metrics" >/dev/null; awk '/^mlhep_gateway_inflight /{f = $2 >= 2} END{exit !f}' $R.m.body; }
wait_until 10 inflight
s=$(req $R GET "$L/v1/whoami" -H "$(auth "$TA")")
expect "concurrency: alice's second request while her first waits" 429 too_many_requests $R "at once (the limit is 1)" "$s"
wait "$SLOW"
[ "$(cat "$TMP/slow.status")" = 504 ] && [[ $(errmsg $R.slow) == *"no answer from the prediction service within 2 s"* ]] && ok "prediction with the inference worker paused: 504 after gateway_predict_timeout" || bad "504" "$(cat "$TMP/slow.status") $(cat $R.slow.body)"
for p in $IPIDS; do kill -CONT "$p"; done

# --- Redis stopped: /readyz 503 naming it, back to 200 after a restart
section "Redis stopped"
. "$S/ports"; RPID=$(cat "$S/pids/redis.pid"); kill -TERM "$RPID"; wait_until 10 eval '! kill -0 '"$RPID"' 2>/dev/null'
s=$(req $R GET "$G/readyz"); [ "$s" = 503 ] && [[ $(jq -r .reason $R.body) == *Redis* ]] && ok "Redis stopped: /readyz 503 ($(jq -r .reason $R.body | head -c 80))" || bad "readyz 503" "$s $(cat $R.body)"
s=$(req $R GET "$G/v1/jobs" -H "$(auth "$TA")"); expect "Redis stopped: job list" 503 unavailable $R "status store" "$s"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$S/redis" --daemonize yes --pidfile "$S/redis/redis.pid" --logfile "$S/redis/redis.log" --aclfile "$S/redis/users.acl" --appendonly yes --appendfsync everysec --save "" >/dev/null
wait_until 10 test -s "$S/redis/redis.pid"; cp "$S/redis/redis.pid" "$S/pids/redis.pid"
ready() { [ "$(req $R GET "$G/readyz")" = 200 ]; }
wait_until 20 ready && s=$(req $R GET "$G/v1/jobs/$ID" -H "$(auth "$TA")") && [ "$s" = 200 ] && ok "Redis back: /readyz 200 and the records are there" || bad "readyz after restart" "$(cat $R.body)"

# --- idempotency and crashes: gateways with the test hook, killed before or after publishing
section "idempotency and crashes"
# pending keys are held 30 s (the default) by gateway "hold", taken over after 1 s by "fast"
HOLD="test_hooks = 1"; FAST="test_hooks = 1
gateway_idem_stale = 1"
jobs_now() { req $R.j GET "$G/v1/jobs?limit=1000" -H "$(auth "$TA")" >/dev/null; jq -r '.jobs[].id' $R.j.body | sort; }
state_is() { req $R.w GET "$G/v1/jobs/$1" -H "$(auth "$TA")" >/dev/null; [ "$(jq -r .state $R.w.body)" = "$2" ]; }
dead() { ! kill -0 "$(cat "$TMP/gw-$1.pid")" 2>/dev/null; }
before=$(jobs_now)
gw_start hold "$HOLD"
s=$(req $R POST "$GWU/v1/jobs" -H "$(auth "$TA")" -H "Idempotency-Key: crash-1" -H "X-Mlhep-Test-Crash: before-publish" --data-binary @"$TMP/sleep.json")
[ "$s" = 000 ] && wait_until 10 dead hold && ok "gateway killed before publishing: the client gets a connection error ($(head -c 60 $R.err))" || bad "before-publish" "$s"
rm -f "$TMP/gw-hold.pid"; gw_start hold "$HOLD"
# the key the dead gateway claimed: 409 while its request may still be in flight
s=$(req $R POST "$GWU/v1/jobs" -H "$(auth "$TA")" -H "Idempotency-Key: crash-1" --data-binary @"$TMP/sleep.json")
expect "retry while the key is pending (restarted gateway)" 409 conflict $R "is in progress" "$s"
[ "$(hdr $R Retry-After)" = 1 ] && ok "409 in progress carries Retry-After: 1" || bad "409 Retry-After" "$(hdr $R Retry-After)"
s=$(req $R POST "$GWU/v1/jobs" -H "$(auth "$TA")" --data-binary @"$TMP/sleep.json"); MARK=$(jq -r .id $R.body)
wait_until 30 state_is "$MARK" succeeded
new=$(comm -13 <(echo "$before") <(jobs_now) | tr '\n' ' ')
[ "$new" = "$MARK " ] && ok "before-publish: no job exists (a later job ran; it is the only new one)" || bad "before-publish left a job" "new: $new mark $MARK"
gw_stop hold
# once the pending key is stale (gateway_idem_stale), a retry takes it over and queues the job
gw_start fast "$FAST"
taken() { s=$(req $R POST "$GWU/v1/jobs" -H "$(auth "$TA")" -H "Idempotency-Key: crash-1" --data-binary @"$TMP/sleep.json"); [ "$s" = 202 ]; }
wait_until 10 taken && K1=$(jq -r .id $R.body) && ok "a stale pending key (gateway_idem_stale) is taken over by the retry: 202, job $K1" || bad "stale takeover" "$s $(cat $R.body)"
wait_until 30 state_is "$K1" succeeded || bad "taken-over job" "$(cat $R.w.body)"
before=$(jobs_now)
s=$(req $R POST "$GWU/v1/jobs" -H "$(auth "$TA")" -H "Idempotency-Key: crash-2" -H "X-Mlhep-Test-Crash: after-publish" --data-binary @"$TMP/sleep.json")
[ "$s" = 000 ] && wait_until 10 dead fast && ok "gateway killed after publishing: the client gets a connection error" || bad "after-publish" "$s"
queued() { [ -n "$(comm -13 <(echo "$before") <(jobs_now))" ]; }
wait_until 30 queued; JQ=$(comm -13 <(echo "$before") <(jobs_now) | tr -d '\n')
[ ${#JQ} = 32 ] && ok "after-publish: the job is queued all the same ($JQ)" || bad "after-publish job" "'$JQ'"
rm -f "$TMP/gw-fast.pid"; gw_start fast "$FAST"
retried() { s=$(req $R POST "$GWU/v1/jobs" -H "$(auth "$TA")" -H "Idempotency-Key: crash-2" --data-binary @"$TMP/sleep.json"); [ "$s" = 202 ] || [ "$s" = 200 ]; }
wait_until 15 retried && [ "$(jq -r .id $R.body)" = "$JQ" ] && ok "retry with the same key against a restarted gateway: the same job id ($s)" || bad "retry after-publish" "$s $(cat $R.body) want $JQ"
drained() { [ "$(queue_depth jobs.train)" = 0 ] && [ "$(queue_depth jobs.registry)" = 0 ]; }
dup_seen() { grep -q "$JQ.*duplicate delivery" "$S"/logs/worker-*.log; }
if wait_until 30 state_is "$JQ" succeeded && wait_until 30 drained && wait_until 10 dup_seen && [ "$(jobs_now | grep -c "$JQ")" = 1 ] &&
   [ "$(jq -r .attempts $R.w.body)" = 1 ] && [ "$(ls "$S/artifacts/alice/$JQ" | grep -c MANIFEST.json)" = 1 ] && [ "$(comm -13 <(echo "$before") <(jobs_now) | wc -l)" = 1 ]; then
    ok "exactly one job ran: one record (1 attempt), one artifact set, the second copy skipped as a duplicate, queues drained"
else bad "one job" "state $(jq -r .state $R.w.body) attempts $(jq -r .attempts $R.w.body) new: $(comm -13 <(echo "$before") <(jobs_now)) worker: $(grep "$JQ" "$S"/logs/worker-*.log | tail -n 3)"; fi
gw_stop fast

# --- no inference worker at all: 503 at once (not a timeout)
section "no inference worker at all"
for f in "$S"/pids/infer-*.pid; do p=$(cat "$f"); kill -TERM "$p"; wait_until 20 eval '! kill -0 '"$p"' 2>/dev/null'; rm -f "$f"; done
noconsumer() { req $R.m GET "$G/metrics" >/dev/null; grep -q '^mlhep_queue_consumers{queue="predict.requests"} 0$' $R.m.body; }
wait_until 10 noconsumer
# the gateway lets requests wait in the queue for a few seconds after the last consumer
# left (a restarting worker comes back); after that grace they fail at once
fast503() { t0=$(date +%s%N); s=$(req $R POST "$G/json" -H "$(auth "$TA")" --data-binary @"$TMP/values.json" --max-time 2); ms=$(( ($(date +%s%N) - t0) / 1000000 )); [ "$s" = 503 ] && [[ $(errmsg $R) == *"not deployed"* ]]; }
wait_until 30 fast503
[ "$s" = 503 ] && [[ $(errmsg $R) == *"not deployed"* ]] && [ $ms -lt 2000 ] && ok "no inference worker: 503 in $ms ms ($(errmsg $R))" || bad "503 no inference" "$s in $ms ms: $(cat $R.body)"
s=$(req $R POST "$G/v2/models/ttH/infer" -H "$(auth "$TA")" --data-binary @"$TMP/v2.json"); [ "$s" = 503 ] && ok "v2 infer without inference workers: 503" || bad "v2 503" "$s"

# --- users hold no broker credentials: alice's config and token cannot publish
section "users hold no broker credentials"
$PY - "$S" "$AMQP_PORT" > "$TMP/broker.txt" 2>&1 <<'PYAMQP'
import os, re, sys, pika
S, port = sys.argv[1], int(sys.argv[2])
conf = dict(re.findall(r"^(\w+)\s*=\s*(.*)$", open(f"{S}/users/alice.conf").read(), re.M))
token = open(f"{S}/users/alice.token").read().strip()
tries = [("alice", token), ("alice", "alice"), ("gateway", token), ("guest", "guest")]
if conf.get("amqp_user"):  # whatever broker account the user's config names
    pw = conf.get("amqp_password") or (open(conf["amqp_password_file"]).read().strip() if conf.get("amqp_password_file") else "")
    tries.insert(0, (conf["amqp_user"], pw))
for user, pw in tries:
    try:
        c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port, "mlhep", pika.PlainCredentials(user, pw), connection_attempts=1))
    except Exception as e:
        print(f"login {user}: refused ({type(e).__name__})")
        continue
    ch = c.channel(); ch.confirm_delivery()
    try:
        ch.basic_publish("jobs", "train", b'{"id":"00000000000000000000000000000000"}', mandatory=True)
        print(f"PUBLISHED as {user}")
    except Exception as e:
        print(f"publish as {user}: refused ({type(e).__name__})")
PYAMQP
if grep -q '^login\|^publish' "$TMP/broker.txt" && ! grep -q PUBLISHED "$TMP/broker.txt"; then ok "alice's config and token cannot publish to the broker ($(tr '\n' ';' < "$TMP/broker.txt"))"
else bad "users' credentials publish to the broker" "$(tr '\n' ';' < "$TMP/broker.txt") - users/alice.conf: $(grep -E '^(amqp|redis)_user' "$S/users/alice.conf" | tr '\n' ' ')"; fi
if ! grep -qE '^amqp_(user|password)' "$S/users/alice.conf" && ! grep -qE '^redis_(user|password)' "$S/users/alice.conf"; then ok "users' configs name no broker or Redis account"; else bad "users' configs still hold service accounts" "$(grep -E '^(amqp|redis)_(user|password)' "$S/users/alice.conf" | tr '\n' ' ')"; fi
GPW=$(cat "$S/secrets/broker-gateway.pw"); leak=$(find "$S" -type f -perm -o=r -not -path "$S/rabbitmq/*" -exec grep -lF "$GPW" {} + 2>/dev/null; grep -rlF "$GPW" "$S/users" 2>/dev/null)
[ -z "$leak" ] && [ "$(stat -c %a "$S/secrets")" = 700 ] && ok "the gateway's broker password is in no user-readable file of the state dir (secrets/ is 0700)" || bad "gateway password readable" "$leak $(stat -c %a "$S/secrets")"

# --- /metrics: valid Prometheus text, counting what was asked
section "/metrics"
s=$(req $R GET "$G/metrics")
$PY - "$R.body" "$NHEALTH" > "$TMP/metrics.txt" 2>&1 <<'PYM'
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
def val(fam, suffix="", **labels):
    return sum(s.value for s in fams[fam].samples if s.name == fam + suffix and all(s.labels.get(k) == v for k, v in labels.items()))
checks = {
    "healthz 200 counted": val("mlhep_gateway_requests", "_total", route="healthz", code="200") == int(sys.argv[2]),
    "v2 infer 200s": val("mlhep_gateway_requests", "_total", route="v2_infer", code="200") >= 3,
    "429s do not reach this gateway": val("mlhep_gateway_requests", "_total", code="429") == 0,
    "401s counted": val("mlhep_gateway_requests", "_total", code="401") >= 8,
    "latency histogram": val("mlhep_gateway_request_seconds", "_count", route="jobs_submit") >= 5,
    "inference ok": val("mlhep_gateway_inference", "_total", outcome="ok") >= 5,
    "inference unavailable": val("mlhep_gateway_inference", "_total", outcome="unavailable") >= 1,
    "jobs by state": val("mlhep_jobs", state="succeeded") >= 4 and val("mlhep_jobs", state="cancelled") >= 1,
    "queue consumers": val("mlhep_queue_consumers", queue="predict.requests") == 0,
}
for k, v in checks.items():
    print(("ok " if v else "NO ") + k)
PYM
if [ "$s" = 200 ] && ! grep -qv '^ok ' "$TMP/metrics.txt"; then ok "/metrics parses (prometheus_client) and counts: $(sed 's/^ok //' "$TMP/metrics.txt" | tr '\n' ';')"; else bad "/metrics" "$s $(cat "$TMP/metrics.txt")"; fi

# --- every route of --routes answered with success at least once (access logs of all gateways)
section "every route of --routes answered with success at l"
gw_stop lim
kill -TERM "$(cat "$S/pids/gateway.pid")"; wait_until 20 eval '! kill -0 '"$(cat "$S/pids/gateway.pid")"' 2>/dev/null'
LOGS=("$S/logs/gateway.log" "$TMP"/gw-*.log)
missing=
while read -r meth pat scope; do
    re="^${pat//\{[a-z]*\}/[^/? ]+}$"; [ "$pat" = / ] && re='^/$'
    # access-log lines: STAMP gateway PEER USER METHOD PATH STATUS ...
    awk -v m="$meth" -v re="$re" '$2 == "gateway" && $5 == m && $7 ~ /^(2..|304)$/ { p = $6; sub(/\?.*/, "", p); if (p ~ re) { found = 1; exit } } END { exit !found }' "${LOGS[@]}" || missing="$missing $meth $pat;"
done < <("$BIN/mlhep-gateway" --routes)
n=$("$BIN/mlhep-gateway" --routes | wc -l)
[ -z "$missing" ] && ok "every route of mlhep-gateway --routes ($n) answered with success" || bad "routes never answered with success" "$missing"
# tokens never logged; no sanitizer report from any gateway
logged=
for t in "${TOKENS[@]}"; do
    sig=${t##*.}; pl=${t#*.}; pl=${pl%%.*} # the payload and signature parts tell tokens apart (headers repeat)
    for part in "$t" "$pl" ${sig:+"$sig"}; do grep -qF -- "$part" "${LOGS[@]}" && logged="$logged ${part:0:16}..."; done
done
[ -z "$logged" ] && ok "no token (${#TOKENS[@]} used) in any gateway log" || bad "token in a log" "$logged"
if grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "${LOGS[@]}" >/dev/null; then bad "sanitizers" "$(grep -hE -A 12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "${LOGS[@]}" | head -n 40)"; else ok "gateways stopped clean (no AddressSanitizer, LeakSanitizer or UBSan report)"; fi
