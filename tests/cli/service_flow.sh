# service_flow.sh - the service end to end on a real RabbitMQ + Redis behind the gateway
# (one stack for all checks, JWT auth with RS256; users' mlhep-submit talks HTTPS to
# mlhep-gateway, operators' goes to the broker and Redis directly): submit -> succeeded
# with artifacts and status fields; invalid workflows (the model mistakes and typos of
# issue 15 each within a second, with a "did you mean"), paths outside the data roots and
# bad tokens (expired, wrongly signed, wrong audience, missing scope, alg none) refused
# with distinct exit codes and nothing queued; an unreachable gateway, a wrong CA and a
# wrong broker password (operator) refused; the worker's own refusal of /etc/shadow
# (forced into the queue by an operator) and of a symlink out of the data root; the
# queue-expiry grace of tokens; 20 jobs over 3 workers each finish exactly once; users
# hold no broker or Redis credentials and the gateway keeps them from each other's jobs;
# both ways in print the same; cancel of queued and running jobs; down.sh leaves no
# process behind. Running states are observed with the
# workers' test hold (a file $S/hold/NAME holds the job NAME at its steps), not by timing.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../service_lib.sh"

# a data root of our own: a symlink in it leads to /etc/shadow
mkdir -p "$TMP/data" && ln -s /etc/shadow "$TMP/data/evil.root"
# no clock-skew leeway and a short queue grace, so the expiry tests take seconds
export MLHEP_JWT_LEEWAY=0
# --test-hooks: the sleep jobs used here are a test hook (refused without it, service_forgery.sh)
svc_up --workers 0 --heartbeat 0.3 --users alice,bob --queue-grace 10 --data-roots "$TMP/data:$DATA" --test-hooks
hold() { echo "$2" > "$S/hold/$1"; }
release() { rm -f "$S/hold/$1"; }
# watch_until ID PATTERN OUT NAME: `watch` in the background into OUT; once a line matches
# PATTERN the hold of job NAME is released; then waits for watch to end (its exit code)
watch_until() {
    local id=$1 pat=$2 out=$3 name=$4 wp rc
    as_alice watch --timeout 120 "$id" > "$out" 2>&1 & wp=$!
    for _ in $(seq 1200); do grep -q "$pat" "$out" && break; kill -0 $wp 2>/dev/null || break; sleep 0.1; done
    release "$name"
    wait $wp; rc=$?
    return $rc
}
mint() { "$TOP/deploy/local/mint-token.sh" --key "$S/secrets/jwt-signing.key" --sub alice "$@"; }
# submit as alice with the token given as $1
as_tok() { local t=$1; shift; MLHEP_TOKEN=$t "$BIN/mlhep-submit" --config "$S/users/alice.conf" "$@"; }

# --- refusals before any worker runs: nothing may reach the queues
echo '{"name": "broken", "model": {"type": "sleep", "seconds": 1}' > "$TMP/bad.json"
out=$(as_alice "$TMP/bad.json" 2>&1); rc=$?
if [ $rc = 5 ] && [[ $out == *"bad.json:"[0-9]*":"*"invalid JSON"*"nothing was queued"* ]]; then ok "invalid JSON refused (exit 5, line:col)"; else bad "invalid JSON refused" "rc=$rc out=$out"; fi
echo '{"name": "x", "files": [{"path": "uproot-HZZ.root", "label": 1}], "model": {"type": "bdt"}}' > "$TMP/bad2.json"
out=$(as_alice "$TMP/bad2.json" 2>&1); rc=$?
if [ $rc = 5 ] && [[ $out == *'/model/type: "bdt" is not one of'*"nothing was queued"* ]]; then ok "unknown model refused by the schema (exit 5)"; else bad "unknown model refused" "rc=$rc out=$out"; fi
mlp() { printf '{"name": "%s", "tree": "events", "files": [{"path": "%s", "label": 1}, {"path": "uproot-HZZ-zstd.root", "label": 0}], "params": {"epochs": 2}, "model": {"type": "mlp", "layers": [{"dense": 8, "activation": "relu"}, {"dense": 1, "activation": "sigmoid"}]}}\n' "$1" "$2"; }
mlp shadow /etc/shadow > "$TMP/shadow.json"
out=$(as_alice "$TMP/shadow.json" 2>&1); rc=$?
if [ $rc = 15 ] && [[ $out == *"/files/0/path: '/etc/shadow' is outside the data roots"*"nothing was queued"* ]]; then ok "/etc/shadow refused by the submitter (exit 15)"; else bad "/etc/shadow submitter" "rc=$rc out=$out"; fi
mlp dotdot ../../etc/passwd > "$TMP/dotdot.json"
out=$(as_alice "$TMP/dotdot.json" 2>&1); rc=$?
if [ $rc = 15 ] && [[ $out == *"'..' is not allowed"* ]]; then ok "'..' path refused by the submitter (exit 15)"; else bad "dotdot submitter" "rc=$rc out=$out"; fi
echo '{"model": {"type": "sleep", "seconds": -1}}' > "$TMP/bad3.json"
out=$(as_alice "$TMP/bad3.json" 2>&1); rc=$?
if [ $rc = 5 ] && [[ $out == *'workflow: /: missing required property "name"'* ]]; then ok "missing name refused (exit 5)"; else bad "missing name refused" "rc=$rc out=$out"; fi
# the model mistakes of issue 15 and the silent typos: refused by mlhep-submit's own
# pipeline_validate (the worker's and the gateway's) in under a second, before queueing
L='"layers": [{"dense": 8, "activation": "relu"}, {"dense": 1, "activation": "sigmoid"}]'
while IFS='|' read -r name model params words; do
    printf '{"name": "m", "tree": "events", "files": [{"path": "uproot-HZZ.root", "label": 1}, {"path": "uproot-HZZ-zstd.root", "label": 0}], "params": {%s}, "model": %s}\n' "$params" "$model" > "$TMP/mistake.json"
    t0=$(date +%s%N); out=$(as_alice "$TMP/mistake.json" 2>&1); rc=$?; ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if [ $rc = 5 ] && [[ $out == *"$words"*"nothing was queued"* ]]; then ok "refused by the submitter (in $ms ms): $name"; else bad "submitter refusal: $name" "rc=$rc ${ms}ms out=$out"; fi
done <<MISTAKES
unknown activation|{"type": "mlp", "layers": [{"dense": 8, "activation": "sigmoidd"}]}||did you mean "sigmoid"?
layer "dens"|{"type": "mlp", "layers": [{"dens": 8}, {"dense": 1, "activation": "sigmoid"}]}||/model/layers/0/dens: unknown property (did you mean "dense"?
0 units|{"type": "mlp", "layers": [{"dense": 0}, {"dense": 1, "activation": "sigmoid"}]}||/model/layers/0/dense: 0 is less than the minimum 1
10^9 units|{"type": "mlp", "layers": [{"dense": 1000000000}, {"dense": 1, "activation": "sigmoid"}]}||/model/layers/0/dense: 1000000000 is greater than the maximum 1000000
huge max_jagged_length|{"type": "mlp", $L}|"max_jagged_length": 1000000000|/params/max_jagged_length: 1000000000 is greater than the maximum 100000
bad loss|{"type": "mlp", $L, "loss": "binary_crossentropyy"}||did you mean "binary_crossentropy"?
bad optimizer|{"type": "mlp", $L, "optimizer": "adamw"}||/model/optimizer
negative learning rate|{"type": "mlp", $L, "optimizer": {"adam": {"lr": -0.01}}}||/model/optimizer/adam/lr
huge learning rate|{"type": "mlp", $L, "optimizer": {"sgd": {"lr": 1000}}}||/model/optimizer/sgd/lr
loss against the outputs|{"type": "mlp", "layers": [{"dense": 3, "activation": "softmax"}], "loss": "binary_crossentropy"}||binary_crossentropy needs 1 output unit
parameter cap|{"type": "mlp", "layers": [{"dense": 100000}, {"dense": 100000}, {"dense": 1, "activation": "sigmoid"}]}||parameters
gbdt depth 64|{"type": "gbdt", "depth": 64}||/model/depth: 64 is greater than the maximum 24
typo class_weights|{"type": "mlp", $L, "class_weights": [1, 20]}||did you mean "class_weight"?
typo early_stoping|{"type": "mlp", $L, "early_stoping": {"patience": 2}}||did you mean "early_stopping"?
typo dropout_rate|{"type": "mlp", $L, "dropout_rate": 0.5}||/model/dropout_rate: unknown property
typo exclude_branch|{"type": "mlp", $L}|"exclude_branch": ["Jet_Px"]|did you mean "exclude_branches"?
MISTAKES
printf '{"name": "one", "tree": "events", "files": [{"path": "uproot-HZZ.root", "label": 1}, {"path": "uproot-HZZ-zstd.root", "label": 1}], "model": {"type": "gbdt"}}\n' > "$TMP/oneclass.json"
out=$(as_alice "$TMP/oneclass.json" 2>&1); rc=$?
if [ $rc = 5 ] && [[ $out == *"no file has label 0"*"nothing was queued"* ]]; then ok "a label set with one class refused by the submitter"; else bad "one class" "rc=$rc out=$out"; fi
echo '{"name": "demo", "model": {"type": "sleep", "seconds": 0.5}}' > "$TMP/wf.json"
out=$(MLHEP_TOKEN= "$BIN/mlhep-submit" --config "$S/users/alice.conf" "$TMP/wf.json" 2>&1); rc=$?
if [ $rc = 4 ] && [[ $out == *"no bearer token"* ]]; then ok "missing token refused (exit 4)"; else bad "missing token refused" "rc=$rc out=$out"; fi
out=$(as_tok alice "$TMP/wf.json" 2>&1); rc=$?
if [ $rc = 21 ] && [[ $out == *"not a JWT"* ]]; then ok "malformed token refused (exit 21)"; else bad "malformed token" "rc=$rc out=$out"; fi
out=$(as_tok dev:alice "$TMP/wf.json" 2>&1); rc=$?
if [ $rc = 4 ] && [[ $out == *"only with auth_mode=dev"* ]]; then ok "dev token refused by a JWT service (exit 4)"; else bad "dev token in jwt mode" "rc=$rc out=$out"; fi
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/other.key" 2>/dev/null
# each refusal: its exit code (20 + the verifier's reason) and words of its message
while IFS='|' read -r name code words args; do
    # shellcheck disable=SC2086
    tok=$(mint $args); out=$(as_tok "$tok" "$TMP/wf.json" 2>&1); rc=$?
    if [ "$rc" = "$code" ] && [[ $out == *"$words"* ]] && [[ $out != *"$tok"* ]]; then ok "$name token refused (exit $code)"; else bad "$name token" "rc=$rc out=$out"; fi
done <<TOKENS
expired|27|token refused (expired): token expired at|--ttl -60
wrongly signed|26|signature does not verify|--key $TMP/other.key
wrong-audience|30|audience does not include "mlhep"|--aud someone-else
missing-scope|31|lacks scope "mlhep.submit"|--scope openid
alg none|23|unsigned token (alg "none") refused|--header-alg none
wrong-issuer|29|is not the expected "https://mlhep.local"|--iss https://evil.example
not-yet-valid|28|not valid before|--nbf-in 600
TOKENS
out=$(PATH=/usr/bin:/bin "$BIN/mlhep-submit" --config "$S/users/alice.conf" --oidc alice "$TMP/wf.json" 2>&1); rc=$?
if [ $rc = 4 ] && [[ $out == *"oidc-agent is not installed"* ]]; then ok "--oidc without oidc-agent: clear error (exit 4)"; else bad "--oidc missing" "rc=$rc out=$out"; fi
out=$(MLHEP_AMQP_PASSWORD=wrong as_operator "$TMP/wf.json" 2>&1); rc=$?
if [ $rc = 6 ] && [[ $out == *"refused"* ]] && [[ $out != *wrong* ]]; then ok "operator: wrong broker password (exit 6, secret not printed)"; else bad "wrong broker password" "rc=$rc out=$out"; fi
out=$(MLHEP_GATEWAY_URL=https://127.0.0.1:1 as_alice "$TMP/wf.json" 2>&1); rc=$?
if [ $rc = 6 ] && [[ $out == *"gateway https://127.0.0.1:1"*"after 3 attempts"* ]]; then ok "gateway unreachable: submit refused (exit 6), after 3 attempts"; else bad "gateway unreachable" "rc=$rc out=$out"; fi
out=$(MLHEP_GATEWAY_URL=https://127.0.0.1:1 as_alice list 2>&1); rc=$?
if [ $rc = 7 ]; then ok "gateway unreachable: list (exit 7)"; else bad "gateway unreachable: list" "rc=$rc out=$out"; fi
out=$(MLHEP_GATEWAY_CA=/etc/ssl/certs/ca-certificates.crt as_alice "$TMP/wf.json" 2>&1); rc=$?
if [ $rc = 6 ] && [[ $out == *"certificate"*"gateway_ca"* ]]; then ok "gateway certificate not signed by the configured CA: refused (exit 6)"; else bad "wrong CA" "rc=$rc out=$out"; fi
out=$(as_alice --unchecked "$TMP/shadow.json" 2>&1); rc=$?
if [ $rc = 2 ] && [[ $out == *"the gateway checks every workflow"* ]]; then ok "--unchecked through the gateway refused (exit 2)"; else bad "--unchecked via gateway" "rc=$rc out=$out"; fi
d1=$(queue_depth jobs.train); d2=$(queue_depth jobs.registry)
if [ "$d1" = 0 ] && [ "$d2" = 0 ]; then ok "nothing queued after refusals (jobs.train=$d1 jobs.registry=$d2)"; else bad "nothing queued" "jobs.train=$d1 jobs.registry=$d2"; fi
# forced into the queue past every front-door check (an operator, directly): the worker
# refuses them itself
fs=$(as_operator --unchecked --no-wait "$TMP/shadow.json")
mlp link evil.root > "$TMP/link.json"; fl=$(as_alice --no-wait "$TMP/link.json")
# a typo in exclude_branches: the submitter sees the files here (same data roots), opens
# the first file's tree and refuses it before queueing; forced past it, the worker does
# the same before it reads any event
printf '{"name": "typo", "tree": "events", "files": [{"path": "uproot-HZZ.root", "label": 1}, {"path": "uproot-HZZ-zstd.root", "label": 0}], "params": {"exclude_branches": ["Jet_Pz", "NJett"]}, "model": {"type": "gbdt", "trees": 2}}\n' > "$TMP/typo.json"
t0=$(date +%s%N); out=$(as_alice "$TMP/typo.json" 2>&1); rc=$?; ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $rc = 5 ] && [[ $out == *"params.exclude_branches: 'NJett' matches no branch of tree 'events'"*"(did you mean 'NJet'?)"*"nothing was queued"* ]]; then ok "exclude_branches typo refused by the submitter (in $ms ms) (the files are visible here)"; else bad "exclude typo submitter" "rc=$rc ${ms}ms out=$out"; fi
printf '{"name": "typo2", "tree": "events", "files": [{"path": "uproot-HZZ.root", "label": 1}, {"path": "uproot-HZZ-zstd.root", "label": 0}], "params": {"selected_branches": ["Muon_P*", "Jet_Pxx"]}, "model": {"type": "gbdt", "trees": 2}}\n' > "$TMP/typo2.json"
out=$(as_alice "$TMP/typo2.json" 2>&1); rc=$?
if [ $rc = 5 ] && [[ $out == *"params.selected_branches: 'Jet_Pxx' matches no branch"*"nothing was queued"* ]]; then ok "selected_branches typo refused by the submitter"; else bad "selected typo submitter" "rc=$rc out=$out"; fi
d1=$(queue_depth jobs.train)
if [ "$d1" = 2 ]; then ok "branch typos: nothing queued (jobs.train holds only the two forced jobs)"; else bad "branch typos queued" "jobs.train=$d1"; fi
ft=$(as_operator --unchecked --no-wait "$TMP/typo.json")

"$TOP/deploy/local/up.sh" --state "$S" --bin "$BIN" --add-workers 3 >/dev/null
if wait_workers_ready 3 60; then ok "3 workers ready"; else bad "3 workers ready" "$(tail -n 5 "$S"/logs/worker-*.log)"; fi

# --- the two path jobs queued above: failed by the worker with the reason
wait_state "$fs" failed 30; wait_state "$fl" failed 30
e1=$(field "$fs" error); e2=$(field "$fl" error)
if [[ $e1 == "workflow refused by the worker: workflow: /files/0/path: '/etc/shadow' is outside the data roots"* ]] && [ ! -e "$S/artifacts/alice/$fs" ]; then ok "/etc/shadow forced into the queue: failed by the worker: $e1"; else bad "/etc/shadow worker" "state=$(field "$fs" state) error=$e1"; fi
if [[ $e2 == *"'evil.root' leads outside the data roots through a symbolic link"* ]]; then ok "symlink out of the data root (lexically fine, passed the submitter): failed by the worker"; else bad "symlink worker" "state=$(field "$fl" state) error=$e2"; fi
wait_state "$ft" failed 30; e3=$(field "$ft" error)
if [[ $e3 == "workflow refused by the worker: workflow: params.exclude_branches: 'NJett' matches no branch of tree 'events'"*"(did you mean 'NJet'?)"* ]]; then ok "exclude_branches typo forced past the submitter: refused by the worker before reading: $e3"; else bad "exclude typo worker" "state=$(field "$ft" state) error=$e3"; fi

# --- submit -> succeeded, with artifacts and status fields; token from oidc-agent
mkdir -p "$TMP/fakebin"
printf '#!/bin/sh\n[ "$1" = alice ] && exec cat %s\nexit 1\n' "$S/users/alice.token" > "$TMP/fakebin/oidc-token"
chmod +x "$TMP/fakebin/oidc-token"
echo '{"name": "demo", "model": {"type": "sleep", "seconds": 2}}' > "$TMP/demo.json"
hold demo train   # held at its first training step until watch has seen it running
id=$(PATH="$TMP/fakebin:$PATH" "$BIN/mlhep-submit" --config "$S/users/alice.conf" --oidc alice "$TMP/demo.json" 2>"$TMP/submit.err"); rc=$?
if [ $rc = 0 ] && [[ $id =~ ^[0-9a-f]{32}$ ]]; then ok "submit with a token from oidc-token prints a 128-bit id"; else bad "submit" "rc=$rc id=$id $(cat "$TMP/submit.err")"; fi
watch_until "$id" '^running train' "$TMP/watch.out" demo; rc=$?
if [ $rc = 0 ] && grep -q '^running train' "$TMP/watch.out" && tail -n1 "$TMP/watch.out" | grep -q '^succeeded'; then ok "watch follows to succeeded (exit 0)"; else bad "watch" "rc=$rc $(cat "$TMP/watch.out")"; fi
as_alice --json status "$id" > "$TMP/st.json"
chk=$(jq -r '[.state, .attempts, .lease, .progress, (.worker|test("^w[0-9]$")), .user, .name, (.finished|length>0), (.error // "")] | map(tostring) | join(",")' "$TMP/st.json")
if [ "$chk" = "succeeded,1,1,1,true,alice,demo,true," ]; then ok "status fields (state attempts lease progress worker user name finished)"; else bad "status fields" "$chk"; fi
art=$S/artifacts/alice/$id # the record names it by its gateway URL: the disk path is the service's
if [ "$(jq -r .artifacts "$TMP/st.json")" = "/v1/jobs/$id/artifacts" ] && [ -f "$art/model.json" ] && [ -f "$art/metrics.json" ] && [ -f "$art/job.log" ] && [ -f "$art/MANIFEST.json" ]; then ok "artifact set stored (the record gives its URL)"; else bad "artifact set" "$(jq -r .artifacts "$TMP/st.json") $art: $(ls -la "$art" 2>&1)"; fi
if (cd "$art" && jq -r '.files[] | "\(.sha256)  \(.name)"' MANIFEST.json | sha256sum -c --quiet) && [ "$(jq -r '.lease, .job' "$art/MANIFEST.json" | tr '\n' ' ')" = "1 $id " ]; then ok "manifest checksums and lease match"; else bad "manifest" "$(cat "$art/MANIFEST.json")"; fi
as_alice result "$id" --fetch "$TMP/fetch" > "$TMP/result.out"; rc=$?
if [ $rc = 0 ] && cmp -s "$art/model.json" "$TMP/fetch/$id/model.json" && grep -q '^metrics ' "$TMP/result.out"; then ok "result --fetch copies the artifacts"; else bad "result --fetch" "rc=$rc $(cat "$TMP/result.out")"; fi
if as_alice logs "$id" | grep -q 'attempt 1 on worker w'; then ok "logs"; else bad "logs" "$(as_alice logs "$id" 2>&1)"; fi

# --- a real training job: MLP over the HZZ sample (label 1) vs its zstd copy (label 0);
# held at its first epoch's end (a step with validation numbers) until watch has shown it
mlp hzz uproot-HZZ.root | jq -c '.params = {"epochs": 6, "batch_size": 8}' > "$TMP/hzz.json"
hold hzz report
h=$(as_alice --no-wait "$TMP/hzz.json"); rc=$?
watch_until "$h" 'AUC 0\.[0-9]' "$TMP/hwatch.out" hzz; wrc=$?
ha=$S/artifacts/alice/$h
if [ $rc = 0 ] && [ $wrc = 0 ] && [ "$(field "$h" state)" = succeeded ]; then ok "mlp training job succeeded through the service"; else bad "training job" "rc=$rc watch=$wrc $(cat "$TMP/hwatch.out") $(as_alice logs "$h" 2>&1 | tail -n 5)"; fi
if [ -s "$ha/model.mlhep" ] && [ -s "$ha/model.onnx" ] && jq -e '.epochs | length == 6' "$ha/metrics.json" >/dev/null 2>&1 && [ -s "$ha/loss.svg" ] && [ -s "$ha/roc.svg" ] && jq -e '[.files[].name] | index("model.mlhep")' "$ha/MANIFEST.json" >/dev/null; then ok "training artifacts: model.mlhep, model.onnx, metrics.json (6 epochs), plots, in the manifest"; else bad "training artifacts" "$(ls "$ha" 2>&1) $(head -c 300 "$ha/metrics.json" 2>&1)"; fi
if grep -q '^running training [0-9]*% .*epoch [1-6]/6 loss [0-9.]*' "$TMP/hwatch.out" && grep -q 'events [0-9]* epoch [1-6]/6 loss [0-9.]* AUC 0\.[0-9]*' "$TMP/hwatch.out"; then ok "watch shows phase, events, epoch, loss and AUC"; else bad "watch training fields" "$(cat "$TMP/hwatch.out")"; fi
if [ "$(field "$h" epochs)" = 6 ] && [ -n "$(field "$h" val_auc)" ] && as_alice status "$h" | grep -q '^training   events [0-9]* epoch 6/6 loss [0-9.]* AUC 0\.'; then ok "status record keeps epoch/epochs/loss/val_auc"; else bad "status training fields" "$(as_alice status "$h")"; fi

# --- 20 jobs over 3 workers: each finishes exactly once
echo '{"name": "small", "model": {"type": "sleep", "seconds": 0.2}}' > "$TMP/small.json"
ids=()
for i in $(seq 20); do ids+=("$(as_alice --no-wait "$TMP/small.json")"); done
all=1
for j in "${ids[@]}"; do wait_state "$j" succeeded 90 || { all=0; bad "20 jobs" "$j: $(as_alice status "$j" 2>&1)"; break; }; done
[ $all = 1 ] && ok "20 jobs over 3 workers all succeeded"
once=1
for j in "${ids[@]}"; do
    n=$(cat "$S"/logs/worker-*.log | grep -c "job $j: succeeded")
    a=$(field "$j" attempts)
    sets=$(ls -d "$S/artifacts/alice/$j" "$S/artifacts/alice/.tmp-$j"* 2>/dev/null | wc -l)
    [ "$n" = 1 ] && [ "$a" = 1 ] && [ "$sets" = 1 ] || { once=0; bad "exactly once" "$j: succeeded $n times, attempts $a, $sets dirs"; break; }
done
[ $once = 1 ] && ok "each of the 20 ran exactly once (one success, attempts 1, one artifact dir)"
used=$(for j in "${ids[@]}"; do field "$j" worker; done | sort -u | wc -l)
if [ "$used" -ge 2 ]; then ok "jobs spread over $used workers"; else bad "spread" "only $used worker used"; fi
n=$(as_alice list | grep -c small)
if [ "$n" = 20 ]; then ok "list shows the user's jobs"; else bad "list" "$n small jobs listed"; fi

# --- isolation: bob sees nothing of alice's
out=$(as_bob status "$id" 2>&1); rc=$?
if [ $rc = 8 ]; then ok "bob cannot read alice's job (exit 8)"; else bad "bob status" "rc=$rc $out"; fi
as_bob cancel "$id" >/dev/null 2>&1; rc1=$?; as_bob result "$id" >/dev/null 2>&1; rc2=$?; as_bob logs "$id" >/dev/null 2>&1; rc3=$?
if [ "$rc1$rc2$rc3" = 888 ]; then ok "bob cannot cancel, fetch or read logs of alice's job"; else bad "bob other commands" "$rc1 $rc2 $rc3"; fi
if [ -z "$(as_bob list | tail -n +2)" ]; then ok "bob's list is empty"; else bad "bob list" "$(as_bob list)"; fi
# users hold no broker or Redis credentials: their configuration names the gateway only
creds=$(grep -hE '^(amqp|redis)_' "$S"/users/*.conf; ls "$S/secrets" | grep -E '^redis-u-|submitter')
users_acl=$(grep -vE '^user (default|admin|worker|gateway|operator) ' "$S/redis/users.acl")
bu=$(ctl list_users 2>/dev/null | awk 'NR > 0 { print $1 }' | grep -v '^user$' | sort | tr '\n' ' ')
if [ -z "$creds" ] && [ -z "$users_acl" ] && [ "$(cat "$S"/users/alice.conf | cut -d' ' -f1 | tr '\n' ' ')" = "gateway_url gateway_ca " ] && [ "$bu" = "admin gateway infer operator worker " ]; then
    ok "users have no broker or Redis account (their config: gateway_url, gateway_ca; broker accounts: $bu)"
else
    bad "no user credentials" "creds=[$creds] redis users=[$users_acl] broker users=[$bu] alice.conf=$(cat "$S/users/alice.conf")"
fi
# the gateway confines them: every route of alice's job is "not found" for bob
codes=$(for r in "" /logs /events /artifacts /artifacts/model.json /archive; do gw_curl bob -o /dev/null -w '%{http_code} ' "$GW_URL/v1/jobs/$id$r"; done)
cc=$(gw_curl bob -o /dev/null -w '%{http_code}' -X POST "$GW_URL/v1/jobs/$id/cancel")
if [ "$codes$cc" = "404 404 404 404 404 404 404" ] && [ "$(field "$id" state)" = succeeded ]; then ok "gateway: bob gets 404 on every route of alice's job (status, logs, events, artifacts, archive, cancel)"; else bad "gateway confinement" "codes=$codes cancel=$cc"; fi
# the operator's Redis account reads every user's records and writes nothing
out=$(redis-cli -p "$REDIS_PORT" --user operator --pass "$(cat "$S/secrets/redis-operator.pw")" --no-auth-warning hget "mlhep:u:alice:job:$id" state 2>&1)
out2=$(redis-cli -p "$REDIS_PORT" --user operator --pass "$(cat "$S/secrets/redis-operator.pw")" --no-auth-warning hset "mlhep:u:alice:job:$id" state failed 2>&1)
if [ "$out" = succeeded ] && [[ $out2 == NOPERM* ]]; then ok "Redis ACL: the operator's account reads alice's record and cannot write"; else bad "operator Redis ACL" "$out / $out2"; fi
# both ways in print the same (gateway for users, broker and Redis for operators); not
# status --json: the gateway's numbers come back in their shortest text ("0.45", where
# Redis keeps "0.4500"); but where the artifacts are: a user gets the gateway's URL for
# them, an operator the store's directory
same=1
art_as() { sed -e "s|/v1/jobs/$id/artifacts|ARTIFACTS|" -e "s|$S/artifacts/alice/$id|ARTIFACTS|"; }
for c in "status $id" "list" "logs $id" "result $id" "--json result $id"; do
    # shellcheck disable=SC2086
    cmp -s <(as_alice $c 2>&1 | art_as) <(as_operator $c 2>&1 | art_as) || { same=0; bad "same output: $c" "$(diff <(as_alice $c 2>&1) <(as_operator $c 2>&1) | head -5)"; }
done
# shellcheck disable=SC2086
[ "$(as_alice status $id | sed -n 's/^artifacts *//p')" = "/v1/jobs/$id/artifacts" ] && [ "$(as_operator status $id | sed -n 's/^artifacts *//p')" = "$S/artifacts/alice/$id" ] || { same=0; bad "artifacts line" "$(as_alice status $id | grep ^artifacts) / $(as_operator status $id | grep ^artifacts)"; }
[ $same = 1 ] && ok "status, list, logs, result (and result --json) print the same through the gateway and directly (artifacts: the gateway's URL for users, the store's directory for operators)"
# a forged cancel (bob's token naming alice as the user) is refused by the worker
# (covered by the worker's token check; see docs/service.md)

# --- cancel: queued job skipped, running jobs stop at the next step
echo '{"name": "long", "model": {"type": "sleep", "seconds": 600}}' > "$TMP/long.json"
l1=$(as_alice --no-wait "$TMP/long.json"); l2=$(as_alice --no-wait "$TMP/long.json"); l3=$(as_alice --no-wait "$TMP/long.json")
for l in $l1 $l2 $l3; do wait_state "$l" running 30; done
# queue-expiry grace (10 s here): two jobs wait behind the 3 busy workers; their
# tokens expire while they wait (after 4 s and 11 s; both were valid when registered).
# The workers are freed 17 s in: g2's token is then past the grace (refused), g's
# within it (runs). Margins of 3-4 s, for loaded machines.
tg=$SECONDS
g2=$(as_tok "$(mint --ttl 4)" --no-wait "$TMP/wf.json"); g=$(as_tok "$(mint --ttl 11)" --no-wait "$TMP/wf.json")
wait_state "$g2" queued 10; wait_state "$g" queued 10
q=$(as_alice "$TMP/wf.json" 2>/dev/null)
wait_state "$q" queued 10
out=$(as_alice cancel "$q"); rc=$?
if [ $rc = 0 ] && [ "$out" = cancelled ] && [ "$(field "$q" state)" = cancelled ]; then ok "cancel of a queued job"; else bad "cancel queued" "rc=$rc $out state=$(field "$q" state)"; fi
while [ $((SECONDS - tg)) -lt 17 ]; do sleep 0.2; done
t0=$(date +%s%N)
for l in $l1 $l2 $l3; do as_alice cancel "$l" >/dev/null; done
stopped=1
for l in $l1 $l2 $l3; do wait_state "$l" cancelled 10 || stopped=0; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $stopped = 1 ]; then ok "3 running jobs cancelled, stopped within $ms ms"; else bad "cancel running" "$(for l in $l1 $l2 $l3; do field "$l" state; done)"; fi
# the cancelled job's delivery reaches a now idle worker, which skips it
for _ in $(seq 150); do grep -q "job $q: not run" "$S"/logs/worker-*.log && break; sleep 0.1; done
if [ "$(field "$q" attempts)" = 0 ] && [ ! -e "$S/artifacts/alice/$q" ] && grep -q "job $q: not run" "$S"/logs/worker-*.log; then ok "cancelled queued job never ran"; else bad "cancelled job ran" "attempts=$(field "$q" attempts)"; fi
wait_state "$g2" failed 20; wait_state "$g" succeeded 30
e=$(field "$g2" error)
if [ "$(field "$g2" state)" = failed ] && [[ $e == *"token refused (expired)"*"longer than the queue grace (jwt_queue_grace=10 s)"* ]]; then ok "token expired beyond the queue grace: job failed by the worker"; else bad "beyond grace" "state=$(field "$g2" state) error=$e"; fi
if [ "$(field "$g" state)" = succeeded ] && grep -q "job $g: token expired [0-9]* s ago but was valid when the job was registered" "$S"/logs/worker-*.log; then ok "token expired while queued, within the grace: job ran and succeeded"; else bad "within grace" "state=$(field "$g" state) error=$(field "$g" error)"; fi
ls "$S/artifacts/alice/" | grep -q "^\.tmp-" && bad "temp dirs" "$(ls -a "$S/artifacts/alice")" || ok "no temp dirs left behind"
as_alice cancel "$id" >/dev/null 2>&1; rc=$?
if [ $rc = 13 ]; then ok "cancel of a finished job (exit 13)"; else bad "cancel finished" "rc=$rc"; fi
as_alice watch "$l1" >/dev/null 2>&1; rc=$?
if [ $rc = 10 ]; then ok "watch of a cancelled job (exit 10)"; else bad "watch cancelled" "rc=$rc"; fi

# --- failure path
echo '{"name": "f", "model": {"type": "sleep", "seconds": 0.3, "fail": true}}' > "$TMP/fail.json"
f=$(as_alice --no-wait "$TMP/fail.json")
as_alice watch --timeout 30 "$f" >/dev/null 2>"$TMP/w.err"; rc=$?
if [ $rc = 9 ] && grep -q 'failed as requested' "$TMP/w.err" && [ "$(field "$f" attempts)" = 1 ]; then ok "failing job: failed with its error, not retried (exit 9)"; else bad "failing job" "rc=$rc $(cat "$TMP/w.err")"; fi

# --- no secrets in logs
if grep -q -F -f <(cat "$S"/secrets/*.pw) "$S"/logs/*.log "$TMP"/*.out 2>/dev/null; then bad "secrets" "a password appears in a log"; else ok "no password in worker logs or CLI output"; fi

# --- down: every process stopped by pid
pids=$(cat "$S"/pids/*.pid)
"$TOP/deploy/local/down.sh" --state "$S" > "$TMP/down.log" 2>&1
left=""; for p in $pids; do alive "$p" && left="$left $p"; done
if [ -z "$left" ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$AMQP_PORT") 2>/dev/null; then ok "down.sh stops everything (workers, broker, redis, epmd)"; else bad "down.sh" "still alive:$left"; fi
if grep -q "signal 15" "$S"/logs/worker-*.log && ! grep -q "AddressSanitizer\|runtime error" "$S"/logs/worker-*.log; then ok "workers stopped cleanly on SIGTERM, sanitizer-clean"; else bad "worker shutdown" "$(tail -n 20 "$S"/logs/worker-*.log)"; fi
