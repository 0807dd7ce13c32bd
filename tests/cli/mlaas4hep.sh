#!/usr/bin/env bash
# mlaas4hep.sh - MLaaS4HEP's inputs, unchanged. The example files of tests/data/mlaas4hep
# (files.txt and labels.txt line by line, params.json with "redirector": "" and the other
# keys of MLaaS4HEP's example, preproc.json with new branches and cuts, a Keras model.py
# and a PyTorch model.py written as MLaaS4HEP's examples write them) train end to end:
# through mlhep-run with MLaaS4HEP's flags (--files --labels --model --params --preproc;
# params.json taken from the current directory when --params is left out, as upstream),
# and through the service with the same flags on mlhep-submit. The workflow built is what
# the files say (--print-workflow); model.py problems name the file and the line; a
# workflow naming a model file instead of holding the model gets a hint. The ROOT files
# are made here (mlhep-root gen, ttH-like signal and background, tree Events).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../service_lib.sh"
FIX=$TOP/tests/data/mlaas4hep
mkdir -p "$TMP/data" "$TMP/out" && cd "$TMP/data" || exit 1
"$BIN/mlhep-root" gen --events 1500 --class signal --out ttH_signal.root --preset tth --seed 1 > gen.log 2>&1 &&
    "$BIN/mlhep-root" gen --events 1500 --class background --out ttbar_background.root --preset tth --seed 2 >> gen.log 2>&1 ||
    { bad "input files" "$(cat gen.log)"; exit 1; }
FLAGS=(--files "$FIX/files.txt" --labels "$FIX/labels.txt" --params "$FIX/params.json" --preproc "$FIX/preproc.json")

# --- the workflow MLaaS4HEP's inputs become
"$BIN/mlhep-run" --print-workflow "${FLAGS[@]}" --model "$FIX/keras_model.py" > wf.json 2> wf.err; rc=$?
if [ $rc = 0 ] && jq -e '.name == "keras_model" and .files == ["ttH_signal.root", "ttbar_background.root"] and .labels == [1, 0]
        and .params.redirector == "" and .params.branch == "Events" and .params.epochs == 2
        and (.preproc.new_branch | has("log_HT"))
        and .model == {"type": "mlp", "layers": [{"dense": 64, "activation": "relu"}, {"dropout": 0.3},
                       {"dense": 32, "activation": "relu"}, {"dropout": 0.3}, {"dense": 1, "activation": "sigmoid"}],
                       "optimizer": {"adam": {"lr": 0.001}}, "loss": "binary_crossentropy", "metrics": ["accuracy", "auc"]}' wf.json >/dev/null; then
    ok "MLaaS4HEP inputs -> workflow (files, labels, params with redirector \"\", preproc, Keras model.py)"
else bad "print-workflow" "rc=$rc $(cat wf.err) $(head -c 600 wf.json)"; fi

# --- Keras model.py through mlhep-run
"$BIN/mlhep-run" --quiet --out "$TMP/out/keras" "${FLAGS[@]}" --model "$FIX/keras_model.py" > k.out 2> k.err; rc=$?
K=$TMP/out/keras
if [ $rc = 0 ] && [ -s "$K/model.mlhep" ] && [ -s "$K/model.onnx" ] && jq -e '.epochs | length == 2' "$K/metrics.json" >/dev/null &&
   [ -d "$K/pdfs" ] && jq -e '[.features[].name] | (index("log_HT") != null) and (index("log_Jet_pt") != null) and (index("Jet_pt") == null) and (index("run") == null)' "$K/specs.json" >/dev/null; then
    ok "Keras model.py trains through mlhep-run (2 epochs, preproc's new branches in, removed ones out, hists in pdfs/)"
else bad "keras mlhep-run" "rc=$rc $(cat k.err) $(ls "$K" 2>&1)"; fi

# --- PyTorch model.py, params.json from the current directory (no --params), as upstream
cp "$FIX/params.json" params.json
"$BIN/mlhep-run" --print-workflow --files "$FIX/files.txt" --labels "$FIX/labels.txt" --model "$FIX/torch_model.py" > twf.json 2>&1
"$BIN/mlhep-run" --quiet --out "$TMP/out/torch" --files "$FIX/files.txt" --labels "$FIX/labels.txt" --model "$FIX/torch_model.py" > t.out 2> t.err; rc=$?
if [ $rc = 0 ] && [ -s "$TMP/out/torch/model.onnx" ] && jq -e '.epochs | length == 2' "$TMP/out/torch/metrics.json" >/dev/null &&
   jq -e '.params.epochs == 2 and .model.loss == "binary_crossentropy" and .model.layers[2].batchnorm.momentum == 0.9 and .model.layers[4] == {"dense": 1, "activation": "sigmoid"}' twf.json >/dev/null; then
    ok "PyTorch model.py trains through mlhep-run (./params.json used; BatchNorm1d momentum 0.1 -> 0.9; sigmoid output)"
else bad "torch mlhep-run" "rc=$rc $(cat t.err) $(head -c 400 twf.json)"; fi
rm params.json

# --- what cannot be read is named, with the file and the line
printf 'from tensorflow import keras\n\ndef model(idim):\n    m = keras.Sequential()\n    m.add(keras.layers.Dense(8, input_shape=(idim,)))\n    m.add(keras.layers.Conv2D(4, 3))\n    return m\n' > conv_model.py
"$BIN/mlhep-run" "${FLAGS[@]}" --model conv_model.py > /dev/null 2> e1; rc1=$?
printf 'def model(idim):\n    return keras.Sequential([\n' > broken.py
"$BIN/mlhep-run" "${FLAGS[@]}" --model broken.py > /dev/null 2> e2; rc2=$?
if [ $rc1 = 5 ] && grep -q "conv_model.py:6: Conv2D is not supported (mlhep trains dense networks: Dense, Dropout, BatchNormalization and activations)" e1 &&
   [ $rc2 = 5 ] && grep -q "broken.py:2: bracket opened here is never closed" e2; then
    ok "model.py problems named with file and line (exit 5)"
else bad "model.py errors" "$rc1 $rc2 $(cat e1 e2)"; fi
"$BIN/mlhep-run" --files "$FIX/files.txt" --model "$FIX/keras_model.py" > /dev/null 2> e3; rc3=$?
"$BIN/mlhep-run" --files "$FIX/files.txt" --labels 1,0,1 --model "$FIX/keras_model.py" --params "$FIX/params.json" > /dev/null 2> e4; rc4=$?
"$BIN/mlhep-run" "${FLAGS[@]}" --model nothere.py > /dev/null 2> e5; rc5=$?
if [ $rc3 = 2 ] && grep -q "need --files, --labels and --model" e3 && [ $rc4 = 5 ] && grep -q "labels" e4 &&
   [ $rc5 = 5 ] && grep -q -- "--model nothere.py: No such file" e5; then
    ok "missing flag (exit 2), labels not matching the files, missing model file (exit 5)"
else bad "flag errors" "$rc3 $rc4 $rc5 $(cat e3 e4 e5)"; fi
jq '.model = "model.py"' wf.json > named.json
"$BIN/mlhep-run" named.json > /dev/null 2> e6; rc=$?
if [ $rc = 5 ] && grep -q '/model: "model.py" names a file, but a workflow holds the model itself' e6 && grep -q -- "--model model.py" e6; then
    ok "\"model\": \"model.py\" in a workflow: a hint instead of a type error"
else bad "model file hint" "rc=$rc $(cat e6)"; fi

# --- through the service: the same flags on mlhep-submit
svc_up --workers 1 --users alice --data-roots "$TMP/data"
ids=()
for m in keras_model torch_model; do
    id=$(as_alice --no-wait "${FLAGS[@]}" --model "$FIX/$m.py" 2> "sub-$m.err"); rc=$?
    if [ $rc = 0 ] && [[ $id =~ ^[0-9a-f]{32}$ ]]; then ids+=("$m:$id"); else bad "submit $m" "rc=$rc $(cat "sub-$m.err")"; fi
done
for x in "${ids[@]}"; do
    m=${x%%:*}; id=${x#*:}
    as_alice watch --timeout 120 "$id" > "watch-$m.out" 2>&1; rc=$?
    as_alice --json result "$id" > "res-$m.json" 2>&1
    if [ $rc = 0 ] && jq -e '[.files[].name] | index("model.onnx") != null and index("model.mlhep") != null' "res-$m.json" >/dev/null &&
       [ "$(field "$id" name)" = "$m" ] && [ "$(field "$id" epochs)" = 2 ]; then
        ok "$m.py with MLaaS4HEP's flags trains through the service (mlhep-submit, 2 epochs, model.onnx)"
    else bad "service $m" "rc=$rc $(tail -n 3 "watch-$m.out") $(as_alice logs "$id" 2>&1 | tail -n 3)"; fi
done
out=$(as_alice "${FLAGS[@]}" --model conv_model.py 2>&1); rc=$?
if [ $rc = 5 ] && [[ $out == *"conv_model.py:6: Conv2D is not supported"*"nothing was queued"* ]]; then ok "mlhep-submit: a model.py problem is named, nothing queued (exit 5)"; else bad "submit bad model" "rc=$rc $out"; fi
if ! grep -q "AddressSanitizer\|runtime error" ./*.err e? 2>/dev/null; then ok "sanitizer-clean"; else bad "sanitizer" "$(grep -h -A5 "AddressSanitizer\|runtime error" ./*.err e? | head -20)"; fi
