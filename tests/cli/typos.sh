#!/usr/bin/env bash
# typos.sh - wherever a user names a branch or a tree, a name that matches none is
# refused with the closest one ("did you mean", base/suggest.h's one rule): the
# workflow's branch lists, label and identifier branches, pre-processing expressions
# and cuts (mlhep-prep, mlhep-run: before any data is read), the branches a model needs
# when scoring a ROOT file (mlhep-submit predict --root), and mlhep-root's --tree and
# --branch (tests/cli/mlhep_root.sh). A name nothing is close to gets no suggestion.
. "$(dirname "$0")/../lib.sh"
cd "$TMP" || exit 1
cp "$DATA/uproot-HZZ.root" "$DATA/uproot-HZZ-zlib.root" .

# refused NAME WANT COMMAND...: a non-zero exit and WANT in the messages
refused() {
    local n=$1 want=$2 out rc
    shift 2
    out=$("$@" 2>&1); rc=$?
    if [ $rc != 0 ] && printf '%s' "$out" | grep -qF -- "$want"; then ok "$n"; else bad "$n" "rc=$rc: $out"; fi
}
wf() { # FILE PARAMS-EXTRA [TOP-LEVEL-EXTRA]
    cat > "$1" <<J
{"name": "typo", "tree": "events", "files": [{"path": "uproot-HZZ.root", "label": 1}, {"path": "uproot-HZZ-zlib.root", "label": 0}],
 "params": {"epochs": 1, "selected_branches": ["NJet", "MET_px", "Jet_Px"] $2} $3,
 "model": {"type": "mlp", "layers": [{"dense": 4, "activation": "relu"}, {"dense": 1, "activation": "sigmoid"}]}}
J
}
wf sel.json '' && sed -i 's/"MET_px", "Jet_Px"/"MET_pxx", "Jet_Px"/' sel.json
refused "selected_branches typo (mlhep-prep)" "params.selected_branches: 'MET_pxx' matches no branch of tree 'events' in" \
    "$BIN/mlhep-prep" sel.json --out o1
refused "selected_branches typo: did you mean" "(did you mean 'MET_px'?)" "$BIN/mlhep-prep" sel.json --out o1
wf ex.json ', "exclude_branches": ["jet_px"]'
refused "exclude_branches typo, case only (mlhep-run)" "'jet_px' matches no branch of tree 'events' in $TMP/uproot-HZZ.root (did you mean 'Jet_Px'?)" \
    "$BIN/mlhep-run" --quiet --out r1 ex.json
wf id.json ', "identifier": ["NMuonn"]'
refused "identifier branch typo" "identifier branch 'NMuonn' not found (or not flat) in tree 'events' (did you mean 'NMuon'?)" \
    "$BIN/mlhep-prep" id.json --out o2
cat > lab.json <<'J'
{"name": "typo", "tree": "events", "files": ["uproot-HZZ.root"], "labels": "NJett",
 "params": {"selected_branches": ["MET_px", "Jet_Px"]}, "model": {"type": "gbdt", "trees": 2}}
J
refused "label branch typo" "label branch 'NJett' not found (or not flat) in tree 'events' (did you mean 'NJet'?)" \
    "$BIN/mlhep-prep" lab.json --out o3
wf expr.json '' ', "preproc": {"new_branch": {"met2": {"def": "MET_px*MET_px + MET_pyy*MET_py", "type": "flat"}}}'
refused "expression typo" "unknown branch 'MET_pyy' (did you mean 'MET_py'?)" "$BIN/mlhep-prep" expr.json --out o4
wf cut.json '' ', "preproc": {"flat_cut": {"NJett": {"cut": "NJett > 0"}}}'
refused "cut on a misspelt branch" "flat_cut 'NJett': unknown branch (did you mean 'NJet'?)" "$BIN/mlhep-prep" cut.json --out o5
wf far.json ', "exclude_branches": ["Quark_mass"]'
out=$("$BIN/mlhep-prep" far.json --out o6 2>&1)
[[ $out == *"'Quark_mass' matches no branch"* && $out != *"did you mean"* ]] && ok "nothing close: no suggestion" \
    || bad "nothing close" "$out"

# a model scoring a tree whose branch is spelt differently: the closest is named
wf good.json ''
if "$BIN/mlhep-run" --quiet --out run good.json > run.log 2>&1; then
    "$BIN/mlhep-root" gen --events 50 --class signal --out other.root > /dev/null 2>&1
    refused "predict --root: a branch the model needs, typo'd in the file" \
        "other.root: tree 'Events' has no numeric branch 'NJet', which the model needs (did you mean 'nJet'?)" \
        env MLHEP_TOKEN=local "$BIN/mlhep-submit" predict --local --model run/model.mlhep --root other.root --tree Events --out s.root
    # a prediction request naming a branch the model does not have (JSON, then binary
    # columnar through the same check): the closest of the model's branches
    echo '{"keys": ["NJet", "MET_pxx", "Jet_Px"], "values": [1, 2.5, [3.5]]}' > req.json
    refused "predict request: a misspelt branch" "unknown branch 'MET_pxx' (not a feature of this model; did you mean 'MET_px'?)" \
        env MLHEP_TOKEN=local "$BIN/mlhep-submit" predict --local --model run/model.mlhep req.json
    echo '{"rows": [{"NJet": 1, "MET_px": 2.5, "Jet_Px": [3.5], "Quark_mass": 1}]}' > req2.json
    out=$(MLHEP_TOKEN=local "$BIN/mlhep-submit" predict --local --model run/model.mlhep req2.json 2>&1)
    [[ $out == *"row 0: unknown branch 'Quark_mass' (not a feature of this model)"* ]] && ok "predict request: nothing close, no suggestion" \
        || bad "predict request, nothing close" "$out"
else
    bad "train for predict --root" "$(tail -n 3 run.log)"
fi
