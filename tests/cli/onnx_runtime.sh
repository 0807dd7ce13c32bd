#!/usr/bin/env bash
# onnx_runtime.sh - mlhep's model.onnx runs anywhere: trained by mlhep-run (an MLP with
# batch norm on minmax rows and pad -1, a 3-class softmax MLP on standardised rows, and
# boosted trees), each export passes the ONNX checker with full checks and carries its
# metadata (tests/onnx/gen_rows.py), then runs in ONNX Runtime (npm onnxruntime-node,
# CPU; installed by tests/onnx/install.sh with `npm ci` from package-lock.json) on 10,000
# events of RAW branch values - jagged branches of 0 to len+2 values, so slots are left
# empty (NaN) or cut - and must give what `mlhep-submit predict --local` gives for the
# same events: within 1e-6 for the MLPs and the trees' probabilities, the trees' sums of
# leaf values exactly (tests/onnx/run_model.mjs). The comparison must be able to fail: a
# changed score is reported. Missing node/npm or a failed install is a FAIL, never a skip.
. "$(dirname "$0")/../lib.sh"
TOP=${MLHEP_TOP:?}
N=10000
REG_TOL=1e-6

for tool in node npm; do
    command -v "$tool" >/dev/null || { bad onnx_setup "$tool is missing (deploy/packages.txt lists nodejs, npm)"; exit 1; }
done
if ! "$TOP/tests/onnx/install.sh" > "$TMP/npm.log" 2>&1; then
    bad onnx_setup "npm ci in tests/onnx failed: $(tail -n 3 "$TMP/npm.log" | tr '\n' ' ')"; exit 1
fi
ok "onnx_setup (onnxruntime-node $(node -p 'require(process.argv[1]).version' "$TOP/tests/onnx/node_modules/onnxruntime-node/package.json"), python3-onnx $(/usr/bin/python3 -c 'import onnx; print(onnx.__version__)'))"

cd "$TMP" || exit 1
wf() { # NAME FILES-JSON PARAMS-EXTRA MODEL-JSON
    cat > "$1.json" <<EOF
{"name": "$1", "tree": "events", "files": $2,
 "params": {"epochs": 2, "selected_branches": ["NJet", "MET_px", "MET_py", "Jet_Px", "Jet_Py", "Jet_E", "Muon_Px", "Muon_E"],
            "max_jagged_length": 4 $3},
 "model": $4}
EOF
}
TWO='[{"path": "uproot-HZZ.root", "label": 1}, {"path": "uproot-HZZ-zlib.root", "label": 0}]'
THREE='[{"path": "uproot-HZZ.root", "label": "ttH"}, {"path": "uproot-HZZ-zlib.root", "label": "ttbar"}, {"path": "uproot-HZZ-zstd.root", "label": "QCD"}]'
wf mlp "$TWO" ', "nan": -1' '{"type": "mlp", "layers": [{"dense": 16, "activation": "relu"}, {"batchnorm": {}}, {"dense": 8, "activation": "tanh"}, {"dense": 1, "activation": "sigmoid"}]}'
wf mlp3 "$THREE" ', "normalisation": "standard"' '{"type": "mlp", "layers": [{"dense": 12, "activation": "elu"}, {"dense": 3, "activation": "softmax"}], "loss": "categorical_crossentropy"}'
wf gbdt "$TWO" '' '{"type": "gbdt", "trees": 40, "depth": 4}'
wf gbdt3 "$THREE" '' '{"type": "gbdt", "trees": 30, "depth": 3}'
# regression: the target is a branch (MET_py), not a feature
cat > gbdt_reg.json <<EOF
{"name": "gbdt_reg", "tree": "events", "files": ["uproot-HZZ.root", "uproot-HZZ-zlib.root"], "labels": "MET_py",
 "params": {"selected_branches": ["NJet", "MET_px", "Jet_Px", "Jet_Py", "Jet_E", "Muon_Px", "Muon_E"], "max_jagged_length": 4},
 "model": {"type": "gbdt", "trees": 30, "depth": 4, "objective": "regression"}}
EOF

for m in mlp mlp3 gbdt gbdt3 gbdt_reg; do
    if ! "$BIN/mlhep-run" --quiet --data-root "$DATA" --out "$m" "$m.json" > "$m.run" 2>&1 || [ ! -s "$m/model.onnx" ]; then
        bad "train $m" "$(tail -n 5 "$m.run")"; continue
    fi
    # checker (full), metadata, and 10,000 raw events
    if ! /usr/bin/python3 "$TOP/tests/onnx/gen_rows.py" "$m/model.onnx" "$m" $N 7 > "$m.gen" 2>&1; then
        bad "$m export checked" "$(tail -n 5 "$m.gen")"; continue
    fi
    ok "$m export: onnx.checker (full) and metadata: $(cat "$m.gen")"
    if ! MLHEP_TOKEN=local "$BIN/mlhep-submit" predict --local --model "$m/model.mlhep" "$m/req.json" > "$m/scores.txt" 2> "$m.pred"; then
        bad "$m predict --local" "$(tail -n 3 "$m.pred")"; continue
    fi
    margin=(); [ $m = gbdt ] && margin=("$TMP/$m/margin.onnx")
    tol=1e-6; [ $m = gbdt_reg ] && tol=$REG_TOL
    # shellcheck disable=SC2046
    if (cd "$TOP/tests/onnx" && node run_model.mjs "$TMP/$m/model.onnx" "$TMP/$m/raw.bin" $(cat "$TMP/$m/shape") "$TMP/$m/scores.txt" $tol "${margin[@]}") > "$m.cmp" 2>&1; then
        ok "$m in onnxruntime == mlhep-submit predict --local: $(cat "$m.cmp")"
    else
        bad "$m in onnxruntime" "$(cat "$m.cmp")"
    fi
done

# the comparison must be able to fail: one score changed by 2e-6 is reported
if [ -s mlp/scores.txt ]; then
    awk 'NR == 4321 { printf "%.9g\n", $1 + 2e-6; next } { print }' mlp/scores.txt > mlp/altered.txt
    # shellcheck disable=SC2046
    if (cd "$TOP/tests/onnx" && node run_model.mjs "$TMP/mlp/model.onnx" "$TMP/mlp/raw.bin" $(cat "$TMP/mlp/shape") "$TMP/mlp/altered.txt" 1e-6) > altered.out 2>&1; then
        bad "comparison detects a changed score" "$(cat altered.out)"
    elif grep -q "row 4320" altered.out; then
        ok "comparison detects a changed score"
    else
        bad "comparison detects a changed score" "$(cat altered.out)"
    fi
fi
if ! grep -q "AddressSanitizer\|runtime error" ./*.run ./*.pred 2>/dev/null; then ok "sanitizer-clean"; else bad "sanitizer" "$(grep -h -A5 "AddressSanitizer\|runtime error" ./*.run ./*.pred | head -20)"; fi
