#!/usr/bin/env bash
# docs_request.sh - the manual's way to write a prediction request from a model's
# features works: the snippet of docs/programs/mlhep-submit.md (the ```sh block after
# "<!-- snippet: request-from-features") is run as it stands against a model trained
# here, with `mlhep-submit` going to the local predictor (--local, the model name
# standing for the model file) and `mlhep-root` the programs under test; its scores must
# be those of scoring the same entries of the ROOT file directly (predict --root). The
# jq skeleton that `mlhep-submit predict --help` prints is run too: the service's
# predictor must accept the request it writes.
. "$(dirname "$0")/../lib.sh"
TOP="${MLHEP_TOP:?}"
cd "$TMP" || exit 1
PAGE="$TOP/docs/programs/mlhep-submit.md"

# the snippet, as the page has it
python3 - "$PAGE" > snippet.sh <<'PY'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
start = next(i for i, l in enumerate(lines) if l.startswith("<!-- snippet: request-from-features"))
assert lines[start + 1] == "```sh", lines[start + 1]
end = next(i for i in range(start + 2, len(lines)) if lines[i] == "```")
print("\n".join(lines[start + 2:end]))
PY
if [ ! -s snippet.sh ] || ! grep -q "models features ttH" snippet.sh || ! grep -q "predict --model ttH" snippet.sh; then
    bad "snippet found" "no request-from-features snippet in $PAGE: $(head -3 snippet.sh)"; exit 1
fi
ok "snippet found in docs/programs/mlhep-submit.md ($(wc -l < snippet.sh) lines)"

# a real model: 2000 generated events per class, an MLP reading flat and jagged branches
"$BIN/mlhep-root" gen --events 2000 --class signal --seed 1 --out events.root > /dev/null 2>&1 &&
"$BIN/mlhep-root" gen --events 2000 --class background --seed 2 --out bkg.root > /dev/null 2>&1 || {
    bad "sample" "mlhep-root gen failed"; exit 1; }
cat > wf.json <<'EOF'
{"name": "docs-request", "tree": "Events",
 "files": [{"path": "events.root", "label": 1}, {"path": "bkg.root", "label": 0}],
 "params": {"epochs": 1, "max_jagged_length": 3,
            "selected_branches": ["nJet", "HT", "MET_pt", "Jet_pt", "Jet_btagDeepB"]},
 "model": {"type": "mlp", "layers": [{"dense": 8, "activation": "relu"}, {"dense": 1, "activation": "sigmoid"}]}}
EOF
if ! "$BIN/mlhep-run" --quiet --out run wf.json > run.log 2>&1 || [ ! -s run/model.mlhep ]; then
    bad "train the model" "$(tail -n 5 run.log)"; exit 1
fi
ok "model trained (mlhep-run)"

# the snippet's programs: the builds under test; the model name ttH stands for the file
cat > prelude.sh <<EOF
mlhep-submit() {
    local a=() x
    for x in "\$@"; do [ "\$x" = ttH ] && x="$TMP/run/model.mlhep"; a+=("\$x"); done
    MLHEP_TOKEN=local "$BIN/mlhep-submit" --local "\${a[@]}"
}
mlhep-root() { "$BIN/mlhep-root" "\$@"; }
set -e
EOF
cat prelude.sh snippet.sh > run-snippet.sh
if ! bash run-snippet.sh > scores.txt 2> snippet.err; then
    bad "the snippet runs" "$(tail -n 5 snippet.err)"; exit 1
fi
n=$(wc -l < scores.txt)
[ "$n" = 5 ] && jq -e '.rows | length == 5' request.json > /dev/null && ok "the snippet wrote a rows request of 5 events and printed 5 scores" \
    || bad "snippet output" "$n scores: $(cat scores.txt) request: $(head -c 300 request.json)"

# the same entries scored straight from the ROOT file
if MLHEP_TOKEN=local "$BIN/mlhep-submit" predict --local --model run/model.mlhep --root events.root --tree Events \
    --out s.root > /dev/null 2> score.err && "$BIN/mlhep-root" dump s.root --tree Events --branch score --entries 0:5 --csv > direct.csv; then
    python3 - scores.txt direct.csv <<'PY' && ok "its scores are those of predict --root on the same entries" || bad "scores agree" "$(paste scores.txt direct.csv)"
import sys
got = [float(l) for l in open(sys.argv[1]) if l.strip()]
want = [float(l.split(",")[1]) for l in open(sys.argv[2]).readlines()[1:]]
assert len(got) == len(want) == 5, (got, want)
worst = max(abs(a - b) for a, b in zip(got, want))
assert worst <= 1e-6, worst
PY
else
    bad "predict --root" "$(tail -n 3 score.err)"
fi

# the skeleton of predict --help: its jq program, run on the model's features
prog=$(MLHEP_TOKEN=local "$BIN/mlhep-submit" predict --help | python3 -c '
import re, sys
m = re.search(r"jq (\x27.*?\x27) features\.json > request\.json", sys.stdin.read(), re.S)
print(re.sub(r"\s+", " ", m.group(1)[1:-1]) if m else "")')
if [ -z "$prog" ]; then bad "predict --help skeleton" "no jq program in predict --help"; exit 0; fi
if jq "$prog" features.json > skeleton.json && out=$(env -u MLHEP_TOKEN "$BIN/mlhep-submit" predict --local \
    --model run/model.mlhep skeleton.json 2>&1) && [ "$(echo "$out" | wc -l)" = 1 ]; then
    ok "the jq skeleton of predict --help is a request the predictor accepts (score $out)"
else
    bad "predict --help skeleton" "jq '$prog': $out $(cat skeleton.json)"
fi
# a model file needs no token; a model of the artifact store is resolved for the token's user
out=$(env -u MLHEP_TOKEN "$BIN/mlhep-submit" models features --local run/model.mlhep 2>&1) && jq -e '.kind == "mlp"' <<<"$out" > /dev/null \
    && ok "models features --local FILE without a token" || bad "features without token" "$out"
out=$(env -u MLHEP_TOKEN "$BIN/mlhep-submit" predict --local --model ttH skeleton.json 2>&1); rc=$?
[ $rc = 4 ] && grep -q "no bearer token" <<<"$out" && ok "predict --local of a stored model without a token: refused (exit 4)" \
    || bad "stored model without token" "rc=$rc $out"
