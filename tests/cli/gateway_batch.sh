# gateway_batch.sh - small predictions of one user that wait together at the gateway travel
# as one broker message (common/service/rpcbatch.h, gateway_predict_batch), and every one of
# them still gets exactly its own answer. One stack (1 inference worker), users alice and
# bob. (1) mlhep-infer over the real broker, with the batch format written independently
# (tests/py/rpcbatch_call.py): each item of a batch (keys/values, rows, binary columns, an
# unknown branch, text that is not JSON) answered as the same request alone; a damaged
# batch, another format version and a bad token each get one refusal naming it. (2)
# Through the gateway: 1,650 requests of two users (TFaaS /json, /v1/predict JSON and
# binary, KServe v2 JSON, two models, unknown branch, unknown model, not JSON, bob asking for alice's
# model) from 48 threads at once, each answer equal to the answer alone; the gateway's
# /metrics show that predictions did travel in batches; bob never gets alice's answers. (3)
# gateway_predict_batch = 1: every prediction its own message, the same answers.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../service_lib.sh"
PY=/usr/bin/python3
$PY -c 'import pika' 2>/dev/null || { bad batch_setup "python3-pika missing (deploy/packages.txt)"; exit 1; }

svc_up --workers 0 --infer 1 --users alice,bob
M=$TMP/models; mkdir -p "$M"
if "$TOP/build/asan/tests/test_predict" --make-models "$M" 2>"$TMP/make.err"; then ok "test models made"; else bad "test models" "$(cat "$TMP/make.err")"; exit 1; fi
J1=11111111111111111111111111111111; J3=33333333333333333333333333333333
for j in $J1:mlp $J3:gbdt; do mkdir -p "$S/artifacts/alice/${j%%:*}"; cp "$M/${j#*:}.mlhep" "$S/artifacts/alice/${j%%:*}/model.mlhep"; done
wait_until 30 grep -q ' ready: ' "$S"/logs/infer-1.log || { bad "infer ready" "$(tail -n 5 "$S"/logs/infer-1.log)"; exit 1; }
v1=$(as_alice models tag $J1 ttH 2>&1); v2=$(as_alice models tag $J3 bdt 2>&1)
if [ "$v1" = ttH@1 ] && [ "$v2" = bdt@1 ]; then ok "models tagged (ttH: mlp, bdt: gbdt)"; else bad "models tag" "$v1 / $v2"; exit 1; fi

# the requests
R=$TMP/req; mkdir -p "$R"
jq -c '.model="ttH@1"' "$M/req-values.json" > "$R/values.json"
jq -c '.model="bdt"' "$M/req-values.json" > "$R/values-bdt.json"
jq -c '.model="ttH@1"' "$M/req-rows.json" > "$R/rows.json"
jq -c '.model="ttH@1" | .keys[0]="bogus"' "$M/req-values.json" > "$R/bogus.json"
jq -c '.model="nosuch"' "$M/req-values.json" > "$R/nomodel.json"
printf 'this is not JSON' > "$R/text.json"
jq -c '.model="ttH@1"' "$M/req-columns.json" > "$R/columns.json"
$PY "$TOP/tests/py/colreq.py" "$R/columns.json" "$R/columns.bin" || { bad "colreq.py" "failed"; exit 1; }
# KServe v2 JSON, 25 rows (jagged padded with null): the gateway packs it into a small
# binary columnar request, which travels in batches like the others
$PY "$TOP/bench/v2_request.py" "$R/columns.json" 1 "$R/v2.json" "$R/v2.hlen" --json || { bad "v2_request.py" "failed"; exit 1; }

# (1) the worker, over the broker
$PY "$TOP/tests/py/rpcbatch_call.py" --port "$AMQP_PORT" --user operator --password-file "$S/secrets/broker-operator.pw" \
    --token-file "$S/users/alice.token" -- -="$R/values.json" -="$R/rows.json" application/x-mlhep-columns="$R/columns.bin" \
    -="$R/bogus.json" -="$R/nomodel.json" -="$R/text.json" -="$R/values-bdt.json" > "$TMP/call.out" 2>&1
rc=$?
if [ $rc = 0 ] && [ "$(grep -c "^ok " "$TMP/call.out")" = 12 ]; then
    ok "mlhep-infer: each of 7 batched items (values, rows, binary columns, unknown branch, unknown model, not JSON, gbdt) answered as alone; damaged, other-version and bad-token batches refused once, naming why"
else
    bad "mlhep-infer batches" "$(cat "$TMP/call.out"; tail -n 5 "$S"/logs/infer-1.log)"
fi

# (2) through the gateway, many at once
TA=$S/users/alice.token; TB=$S/users/bob.token
REQS=("$TA,/json,-,$R/values.json" "$TA,/json,-,$R/values-bdt.json" "$TA,/predict/json,-,$R/bogus.json"
      "$TA,/json,-,$R/nomodel.json" "$TA,/json,-,$R/text.json" "$TA,/v1/predict,-,$R/rows.json"
      "$TA,/v1/predict,application/x-mlhep-columns,$R/columns.bin" "$TB,/json,-,$R/values.json"
      "$TB,/v1/predict,-,$R/rows.json" "$TA,/v1/predict,-,$R/values-bdt.json" "$TA,/v2/models/ttH/infer,-,$R/v2.json")
metric() { gw_curl alice "$GW_URL/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
b0=$(metric mlhep_gateway_predict_batched_total)
$PY "$TOP/tests/py/batch_mix.py" --url "$GW_URL" --ca "$S/tls/ca.pem" --rounds 150 --threads 48 "${REQS[@]}" > "$TMP/mix.out" 2>&1
rc=$?
b1=$(metric mlhep_gateway_predict_batched_total); nb=$(metric mlhep_gateway_predict_batches_total)
if [ $rc = 0 ] && grep -q '^1650 requests (11 kinds, statuses alone \[200, 400, 403, 404\]), 0 answers differ' "$TMP/mix.out"; then
    ok "gateway: 1650 predictions of 2 users, 11 kinds (TFaaS, mlhep JSON and binary, KServe v2), from 48 threads: each answer equal to the answer alone"
else
    bad "gateway mixed predictions" "$(cat "$TMP/mix.out")"
fi
if [ -n "$b1" ] && awk -v a="${b0:-0}" -v b="$b1" 'BEGIN{exit !(b - a >= 2)}'; then
    ok "gateway: $(( ${b1%.*} - ${b0%.*} )) of them travelled in batches ($nb batch messages)"
else
    bad "gateway batches" "mlhep_gateway_predict_batched_total $b0 -> $b1"
fi
out=$(gw_curl bob -X POST "$GW_URL/v1/predict" --data-binary @"$R/rows.json")
if jq -e '.error and (.predictions | not)' <<< "$out" >/dev/null; then ok "bob asking for alice's model: refused ($(jq -r .code <<< "$out"))"; else bad "bob" "$out"; fi

# (3) batches off: the same answers, one message each
GW_PID=$(cat "$S/pids/gateway.pid")
kill -TERM "$GW_PID"; wait_until 10 sh -c "! kill -0 $GW_PID 2>/dev/null"
echo "gateway_predict_batch = 1" >> "$S/gateway.conf"
rm -f "$TMP/gw.port"
"$BIN/mlhep-gateway" --config "$S/gateway.conf" --port-file "$TMP/gw.port" --quiet > "$TMP/gw1.log" 2>&1 &
GW1=$!; echo "$GW1" > "$S/pids/gateway.pid"
wait_until 20 test -s "$TMP/gw.port" || { bad "gateway restart" "$(cat "$TMP/gw1.log")"; exit 1; }
GW1_URL="https://127.0.0.1:$(cat "$TMP/gw.port")"
$PY "$TOP/tests/py/batch_mix.py" --url "$GW1_URL" --ca "$S/tls/ca.pem" --rounds 20 --threads 48 "${REQS[@]}" > "$TMP/mix1.out" 2>&1
rc=$?
nb1=$(gw_curl alice "$GW1_URL/metrics" | awk '$1 == "mlhep_gateway_predict_batches_total" {print $2}')
if [ $rc = 0 ] && grep -q ', 0 answers differ' "$TMP/mix1.out" && [ "$nb1" = 0 ]; then
    ok "gateway_predict_batch = 1: no batch message, the same answers"
else
    bad "batches off" "$(cat "$TMP/mix1.out") batches: $nb1"
fi
