# infer_service.sh - the inference service end to end on a real RabbitMQ (one stack, 2
# inference workers; users' requests go through the gateway over HTTPS, operators' over
# the broker directly, and both give the same answers): models made by test_predict
# --make-models are placed as job artifacts and named with `models tag`; `models
# features --full` prints the whole features document (the same through the service and
# --local); requests of
# every form (keys/values, rows, columns) through the service give exactly the
# in-process (--local) predictions for an
# MLP, a 3-class MLP (by job id) and boosted trees (by name@latest); bad requests get
# error replies naming the problem and the workers stay up; another user's model is
# refused until shared; versions and deletion; ROOT scoring writes a friend tree with one
# score per entry, identical to local scoring; every worker SIGKILLed mid-stream and one
# restarted: the stream completes (redelivered requests) with the same scores. Binary
# columnar requests (tests/py/colreq.py writes them independently of the C writer): the
# same predictions as JSON, and every malformed layout refused with a message naming it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../service_lib.sh"

svc_up --workers 0 --infer 2 --users alice,bob
M=$TMP/models; mkdir -p "$M"
if "$TOP/build/asan/tests/test_predict" --make-models "$M" 2>"$TMP/make.err"; then ok "test models made (mlp, mlp3, gbdt)"; else bad "test models" "$(cat "$TMP/make.err")"; exit 1; fi
J1=11111111111111111111111111111111; J2=22222222222222222222222222222222; J3=33333333333333333333333333333333
for j in $J1:mlp $J2:mlp3 $J3:gbdt; do mkdir -p "$S/artifacts/alice/${j%%:*}"; cp "$M/${j#*:}.mlhep" "$S/artifacts/alice/${j%%:*}/model.mlhep"; done
for _ in $(seq 100); do [ "$(grep -l ' ready: ' "$S"/logs/infer-*.log 2>/dev/null | wc -l)" = 2 ] && break; sleep 0.1; done
AUTHARGS=(); [ -f "$S/infer-auth.json" ] && AUTHARGS=(--auth "$S/infer-auth.json")
# each worker runs one consumer thread (one connection) per CPU up to 4; every thread logs "ready"
NCONS=$(cat "$S"/logs/infer-*.log | grep -c ' ready: ')
if "$BIN/mlhep-infer" --config "$S/infer.conf" "${AUTHARGS[@]}" --check > "$TMP/check.out" 2>&1 && grep -q "($NCONS consumers" <(sed 's/.*ready, /(/' "$TMP/check.out") && [ "$NCONS" -ge 2 ] && [ "$(grep -l ' ready: ' "$S"/logs/infer-*.log | wc -l)" = 2 ]; then ok "--check: 2 inference workers consuming ($NCONS threads)"; else bad "--check" "$NCONS ready threads; $(cat "$TMP/check.out"; tail -n 5 "$S"/logs/infer-*.log)"; fi

# --- names and versions
v1=$(as_alice models tag $J1 ttH 2>&1); v2=$(as_alice models tag $J3 ttH 2>&1)
if [ "$v1" = ttH@1 ] && [ "$v2" = ttH@2 ]; then ok "models tag: ttH@1 (mlp), ttH@2 (gbdt)"; else bad "models tag" "$v1 / $v2"; fi
as_alice models list > "$TMP/list.out" 2>&1
if grep -q '^ttH@1 .*alice .*no .*mlp .* 51' "$TMP/list.out" && grep -q '^ttH@2 .*gbdt' "$TMP/list.out" && grep -q "^$J2 .*(job)" "$TMP/list.out"; then ok "models list: versions with owner, kind, features; jobs with models"; else bad "models list" "$(cat "$TMP/list.out")"; fi
# --- features: the branches; --full: the whole features document, as the model file holds it
as_alice models features ttH@2 > "$TMP/feat.out" 2>&1
as_alice models features ttH@2 --full > "$TMP/full.out" 2>&1
as_alice models features --local --full "$M/gbdt.mlhep" > "$TMP/full-local.out" 2>&1
if jq -e '.kind == "gbdt" and (.features | length) == 51 and (.features[0] | has("sub") | not)' "$TMP/feat.out" >/dev/null &&
   jq -e '.format == "mlhep-features" and (.features | length) == 51 and (.features[0] | has("sub") and has("scale") and has("offset")) and has("pad")' "$TMP/full.out" >/dev/null &&
   cmp -s "$TMP/full.out" "$TMP/full-local.out"; then ok "models features: branches; --full: the whole features document (service == --local)"; else bad "models features --full" "$(head -c 300 "$TMP/feat.out") / $(head -c 300 "$TMP/full.out")"; fi

# --- every request form: broker == in-process
same=1
for f in values rows columns; do
    for m in "ttH@1:mlp" "ttH:gbdt" "$J2:mlp3"; do
        ref=${m%%:*}; file=${m#*:}
        as_alice predict --model "$ref" "$M/req-$f.json" > "$TMP/r.txt" 2>"$TMP/r.err" || { same=0; bad "predict $f $ref" "$(cat "$TMP/r.err")"; continue; }
        as_alice predict --local --model "$M/$file.mlhep" "$M/req-$f.json" > "$TMP/l.txt" 2>&1
        n=$(wc -l < "$TMP/r.txt"); want=25; [ $f = values ] && want=1
        if ! cmp -s "$TMP/r.txt" "$TMP/l.txt" || [ "$n" != $want ]; then same=0; bad "predict $f $ref" "broker $(head -c 200 "$TMP/r.txt") vs local $(head -c 200 "$TMP/l.txt")"; fi
    done
done
[ $same = 1 ] && ok "keys/values, rows, columns x (mlp, gbdt @latest, 3-class by job id): service == in-process"
# the two ways in: the gateway (users) and the broker directly (operators)
if cmp -s <(as_alice predict --model ttH@1 "$M/req-rows.json") <(as_operator predict --model ttH@1 "$M/req-rows.json") &&
   cmp -s <(as_alice predict --model $J2 "$M/req-columns.json") <(as_operator predict --model $J2 "$M/req-columns.json") &&
   cmp -s <(as_alice models list) <(as_operator models list) &&
   cmp -s <(as_alice models features ttH@1 | jq -S .) <(as_operator models features ttH@1 | jq -S 'del(.ok)'); then
    ok "through the gateway == over the broker: predictions, models list, features"
else
    bad "gateway vs broker" "$(diff <(as_alice models list) <(as_operator models list))"
fi
out=$(as_alice --json predict --model $J2 "$M/req-values.json")
if [ "$(jq -c '[.model, (.predictions[0]|length), .classes]' <<< "$out")" = "[\"$J2\",3,[\"bkg\",\"ttH\",\"ttbb\"]]" ]; then ok "3-class reply: probabilities and class names"; else bad "3-class reply" "$out"; fi
if [ "$(as_alice --json predict --model ttH "$M/req-values.json" | jq -r .model)" = ttH@2 ]; then ok "reply names the version used (ttH -> ttH@2)"; else bad "version in reply" "$(as_alice --json predict --model ttH "$M/req-values.json")"; fi
# TFaaS-style document piped on stdin, model inside
if jq '.model="ttH@1"' "$M/req-values.json" | as_alice predict - | cmp -s - <(as_alice predict --local --model "$M/mlp.mlhep" "$M/req-values.json"); then ok "stdin, model named in the document"; else bad "stdin" "differs"; fi

# --- bad requests: error replies naming the problem, workers stay up
expect() { # NAME EXIT NEEDLE CMD...
    local name=$1 want=$2 needle=$3; shift 3
    local out rc; out=$("$@" 2>&1); rc=$?
    if [ $rc = "$want" ] && [[ $out == *"$needle"* ]]; then ok "$name (exit $rc)"; else bad "$name" "rc=$rc out=$out"; fi
}
jq '.keys[0]="bogus"' "$M/req-values.json" > "$TMP/b1.json"
jq '.rows[3]|=del(.NJet)' "$M/req-rows.json" > "$TMP/b2.json"
jq '.values[0]="x"' "$M/req-values.json" > "$TMP/b3.json"
jq '.values[0]=[1]' "$M/req-values.json" > "$TMP/b4.json"
jq '.columns.Jet_Px[2]=5' "$M/req-columns.json" > "$TMP/b5.json"
jq '.columns.NJet=[1]' "$M/req-columns.json" > "$TMP/b6.json"
echo '{"model":"ttH","keys":["a"]}' > "$TMP/b7.json"
expect "unknown branch named" 5 "unknown branch 'bogus'" as_alice predict --model ttH@1 "$TMP/b1.json"
expect "missing branch named" 5 "row 3: missing 1 branch the model needs: 'NJet'" as_alice predict --model ttH@1 "$TMP/b2.json"
expect "non-numeric value" 5 "expected array or number, got string" as_alice predict --model ttH@1 "$TMP/b3.json"
expect "list for a flat branch" 5 "branch 'NJet' is flat: expected a number, got a list" as_alice predict --model ttH@1 "$TMP/b4.json"
expect "number for a jagged branch" 5 "row 2: branch 'Jet_Px' is jagged" as_alice predict --model ttH@1 "$TMP/b5.json"
expect "columns of different lengths" 5 "other columns have" as_alice predict --model ttH@1 "$TMP/b6.json"
expect "schema: keys without values" 5 "requires property" as_alice predict "$TMP/b7.json"
expect "unknown model" 8 "unknown model 'nope'" as_alice predict --model nope "$M/req-values.json"
expect "unknown version" 8 "version 7 does not exist" as_alice predict --model ttH@7 "$M/req-values.json"
expect "bad token" 4 "unauthorized" env MLHEP_TOKEN=alice "$BIN/mlhep-submit" --config "$S/users/alice.conf" predict --model ttH "$M/req-values.json"
# options: numbers checked (base/numarg), usage exit code 2, nothing sent; --help prints the command's usage
expect "--batch abc refused" 2 "--batch: 'abc' is not a whole number" as_alice predict --model ttH@1 --root "$DATA/uproot-HZZ.root" --tree events --out "$TMP/u.root" --batch abc
expect "--window 0 refused" 2 "--window: 0 is out of range (1 to 1024)" as_alice predict --model ttH@1 --root "$DATA/uproot-HZZ.root" --tree events --out "$TMP/u.root" --window 0
expect "--timeout x refused" 2 "--timeout: 'x' is not a number" as_alice --timeout x predict --model ttH@1 "$M/req-values.json"
expect "--timeout 0 refused" 2 "--timeout: 0 is out of range" as_alice models list --timeout 0
[ ! -e "$TMP/u.root" ] && ok "no scores file written on option errors" || bad "option errors" "$TMP/u.root written"
expect "predict --help: options and an example" 0 "mlhep-submit predict --model ttH --root events.root" as_alice predict --help
expect "models --help: operations and an example" 0 "mlhep-submit models tag " as_alice models --help
if as_alice predict --help | grep -q -- "--window W" && ! as_alice models --help | grep -q -- "--window"; then ok "predict and models each print their own usage"; else bad "--help" "$(as_alice models --help)"; fi
a1=1; for p in "$S"/pids/infer-*.pid; do alive "$(cat "$p")" || a1=0; done
if [ $a1 = 1 ] && as_alice predict --model ttH@1 "$M/req-values.json" >/dev/null; then ok "workers alive and serving after bad requests"; else bad "workers after bad requests" "$(tail -n 5 "$S"/logs/infer-*.log)"; fi

# --- binary columnar requests (application/x-mlhep-columns, common/infer/colreq.h): the same
# predictions as the JSON columns form; every malformed request refused, naming the problem
PY=/usr/bin/python3; CQ=$TOP/tests/py/colreq.py
$PY "$CQ" "$M/req-columns.json" "$TMP/c64.bin" && $PY "$CQ" "$M/req-columns.json" "$TMP/c32.bin" --type f32
same=1
for m in "ttH@1:mlp" "ttH:gbdt" "$J2:mlp3"; do
    ref=${m%%:*}; file=${m#*:}
    as_alice predict --model "$ref" "$TMP/c64.bin" > "$TMP/rb.txt" 2>"$TMP/rb.err" || { same=0; bad "binary predict $ref" "$(cat "$TMP/rb.err")"; continue; }
    as_alice predict --model "$ref" "$M/req-columns.json" > "$TMP/rj.txt" 2>&1
    as_alice predict --local --model "$M/$file.mlhep" "$TMP/c64.bin" > "$TMP/lb.txt" 2>&1
    if ! cmp -s "$TMP/rb.txt" "$TMP/rj.txt" || ! cmp -s "$TMP/rb.txt" "$TMP/lb.txt" || [ "$(wc -l < "$TMP/rb.txt")" != 25 ]; then same=0; bad "binary predict $ref" "binary $(head -c 200 "$TMP/rb.txt") vs json $(head -c 200 "$TMP/rj.txt")"; fi
done
[ $same = 1 ] && ok "binary float64 columns x (mlp, gbdt @latest, 3-class by job id): broker == JSON columns == in-process"
out=$(as_alice --json predict --model ttH "$TMP/c32.bin" 2>&1)
if [ "$(jq -c '[.model, (.predictions|length), (.predictions[0]|type)]' <<< "$out")" = '["ttH@2",25,"number"]' ] && [ "$(as_alice predict --model ttH "$TMP/c32.bin" | wc -l)" = 25 ]; then ok "binary float32 columns: 25 scores, reply names the version used"; else bad "binary float32" "$out"; fi
for mm in "version:version 2 not supported" "flags:reserved flags" "zero-rows:row count 0" "huge-cols:column count 4000000000" \
          "truncated:truncated values" "trailing:3 bytes after the last column" "offsets-start:offsets[0] is 1" \
          "offsets-decrease:offsets decrease at row 1" "offsets-end:offsets end at" "bad-type:unknown type 99" \
          "bad-kind:unknown kind 2" "empty-name:name of 0 bytes" "unknown-branch:unknown branch 'bogus'" \
          "missing-branch:missing 1 branch the model needs: 'NJet'" "duplicate-branch:branch 'NJet' given twice" \
          "flat-as-jagged:branch 'NJet' is flat in the model" "jagged-as-flat:branch 'Jet_Px' is jagged in the model"; do
    $PY "$CQ" "$M/req-columns.json" "$TMP/bad.bin" --mutate "${mm%%:*}"
    expect "binary: ${mm%%:*} refused" 5 "${mm#*:}" as_alice predict --model ttH@1 "$TMP/bad.bin"
done
expect "binary: unknown model" 8 "unknown model 'nope'" as_alice predict --model nope "$TMP/c64.bin"
expect "binary: bad token" 4 "unauthorized" env MLHEP_TOKEN=alice "$BIN/mlhep-submit" --config "$S/users/alice.conf" predict --model ttH "$TMP/c64.bin"
a1=1; for p in "$S"/pids/infer-*.pid; do alive "$(cat "$p")" || a1=0; done
if [ $a1 = 1 ] && as_alice predict --model ttH@1 "$TMP/c64.bin" >/dev/null; then ok "workers alive and serving after bad binary requests"; else bad "workers after bad binary requests" "$(tail -n 5 "$S"/logs/infer-*.log)"; fi

# --- access: bob
expect "bob: alice's model refused" 4 "belongs to another user and is not shared" as_bob predict --model ttH "$M/req-values.json"
expect "bob: alice's job id unknown to him" 8 "no job of yours" as_bob predict --model $J1 "$M/req-values.json"
mkdir -p "$S/artifacts/bob/$J1"; cp "$M/mlp.mlhep" "$S/artifacts/bob/$J1/model.mlhep"
expect "bob cannot add versions to alice's name" 4 "model name 'ttH' belongs to another user" as_bob models tag $J1 ttH
out=$(as_alice models share ttH on 2>&1)
if as_bob predict --model ttH@1 "$M/req-values.json" | cmp -s - <(as_alice predict --model ttH@1 "$M/req-values.json"); then ok "shared: bob gets the same predictions"; else bad "shared model for bob" "$out"; fi
expect "bob cannot delete a shared model" 4 "only its owner deletes it" as_bob models delete ttH@1

# --- ROOT scoring: friend tree, entries line up, same as local
HZZ=$DATA/uproot-HZZ.root
# (same batch size on both sides: BLAS blocking makes the last float bit depend on it)
as_alice predict --model ttH@1 --root "$HZZ" --tree events --out "$TMP/s.root" --batch 25 2>"$TMP/s.err"; rc=$?
as_alice predict --local --model "$M/mlp.mlhep" --root "$HZZ" --tree events --out "$TMP/l.root" --batch 25 2>>"$TMP/s.err"
"$BIN/mlhep-root" dump "$TMP/s.root" --tree events --branch score --csv > "$TMP/s.csv" 2>>"$TMP/s.err"
"$BIN/mlhep-root" dump "$TMP/l.root" --tree events --branch score --csv > "$TMP/l.csv" 2>>"$TMP/s.err"
n=$(tail -n +2 "$TMP/s.csv" | wc -l)
if [ $rc = 0 ] && [ "$n" = 2421 ] && "$BIN/mlhep-root" ls "$TMP/s.root" | grep -q 'tree events  (2421 entries' && cmp -s "$TMP/s.csv" "$TMP/l.csv"; then ok "ROOT scoring: friend tree events with 2421 scores (one per entry), broker == local"; else bad "ROOT scoring" "rc=$rc n=$n $(cat "$TMP/s.err")"; fi
# entry k of the friend tree is entry k of the input: the rows request of entries 0..24
if [ "$(sed -n 2,26p "$TMP/s.csv" | cut -d, -f2)" = "$(as_alice predict --model ttH@1 "$M/req-rows.json")" ]; then ok "friend entries 0..24 == predictions for input entries 0..24"; else bad "entry alignment" "$(sed -n 2,4p "$TMP/s.csv") vs $(as_alice predict --model ttH@1 "$M/req-rows.json" | head -3)"; fi
as_alice predict --model ttH@1 --root "$HZZ" --tree events --out "$TMP/sj.root" --batch 25 --wire json 2>"$TMP/sj.err"
"$BIN/mlhep-root" dump "$TMP/sj.root" --tree events --branch score --csv > "$TMP/sj.csv" 2>>"$TMP/sj.err"
if cmp -s "$TMP/sj.csv" "$TMP/s.csv"; then ok "ROOT scoring: binary requests (default) == JSON columns requests (--wire json)"; else bad "ROOT scoring --wire json" "$(cat "$TMP/sj.err")"; fi
as_operator predict --model ttH@1 --root "$HZZ" --tree events --out "$TMP/so.root" --batch 25 2>"$TMP/so.err"
"$BIN/mlhep-root" dump "$TMP/so.root" --tree events --branch score --csv > "$TMP/so.csv" 2>>"$TMP/so.err"
if cmp -s "$TMP/so.csv" "$TMP/s.csv"; then ok "ROOT scoring through the gateway (HTTPS, 4 requests in flight) == over the broker"; else bad "ROOT scoring gateway vs broker" "$(cat "$TMP/so.err")"; fi
as_alice predict --model $J2 --root "$HZZ" --tree events --out "$TMP/s3.root" 2>"$TMP/s3.err"
if "$BIN/mlhep-root" ls "$TMP/s3.root" 2>&1 | grep -q 'score .*float32\[3\]'; then ok "3-class scoring: branch score[3]"; else bad "3-class ROOT" "$(cat "$TMP/s3.err"; "$BIN/mlhep-root" ls "$TMP/s3.root" 2>&1)"; fi
expect "ROOT file without the model's branches" 5 "has no numeric branch" as_alice predict --model ttH@1 --root "$DATA/uproot-Zmumu.root" --tree events --out "$TMP/z.root"

# --- every worker killed mid-stream, one restarted: the stream completes
# (the workers are paused while the client starts, then run for 50 ms and are killed:
# some replies delivered, requests in flight, whatever the speed of the machine)
for p in "$S"/pids/infer-*.pid; do kill -STOP "$(cat "$p")" 2>/dev/null; done
as_alice predict --model ttH@1 --root "$HZZ" --tree events --out "$TMP/k.root" --batch 5 --window 4 --timeout 60 2>"$TMP/k.err" &
cpid=$!
sleep 0.5
for p in "$S"/pids/infer-*.pid; do kill -CONT "$(cat "$p")" 2>/dev/null; done
sleep 0.05
for p in "$S"/pids/infer-*.pid; do kill -KILL "$(cat "$p")" 2>/dev/null; rm -f "$p"; done
sleep 0.5
alive $cpid && killed_mid=1 || killed_mid=0
"$TOP/deploy/local/up.sh" --state "$S" --bin "$BIN" --add-infer 1 > /dev/null
wait $cpid; rc=$?
"$BIN/mlhep-root" dump "$TMP/k.root" --tree events --branch score --csv > "$TMP/k.csv" 2>&1
as_alice predict --local --model "$M/mlp.mlhep" --root "$HZZ" --tree events --out "$TMP/l5.root" --batch 5 2>/dev/null
"$BIN/mlhep-root" dump "$TMP/l5.root" --tree events --branch score --csv > "$TMP/l5.csv" 2>&1
if [ $rc = 0 ] && [ $killed_mid = 1 ] && [ "$(wc -l < "$TMP/k.csv")" = 2422 ] && cmp -s "$TMP/k.csv" "$TMP/l5.csv"; then ok "workers SIGKILLed mid-stream, one restarted: all 2421 scores, same as local"; else bad "restart mid-stream" "rc=$rc killed_mid=$killed_mid $(cat "$TMP/k.err")"; fi

# --- deletion
as_alice models delete ttH@1 >/dev/null; sleep 1.2   # the worker's resolution cache lives 1 s
expect "deleted version is gone" 8 "version 1 does not exist" as_alice predict --model ttH@1 "$M/req-values.json"
if as_alice predict --model ttH "$M/req-values.json" >/dev/null; then ok "other version still served"; else bad "ttH@2 after delete" ""; fi

# --- clean shutdown
"$TOP/deploy/local/down.sh" --state "$S" > /dev/null 2>&1
if grep -q "signal 15: stopping" "$S"/logs/infer-3.log && ! grep -q "AddressSanitizer\|runtime error" "$S"/logs/infer-*.log; then ok "inference worker stops on SIGTERM, sanitizer-clean"; else bad "infer shutdown" "$(tail -n 5 "$S"/logs/infer-*.log)"; fi
