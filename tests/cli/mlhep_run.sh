# mlhep_run.sh - embedded mode (no broker, no Redis): mlhep-run trains an MLP and a
# GBDT over the HZZ sample (label 1) and its zstd copy (label 0) with artifacts in
# ./mlhep-out/ID/ or --out; progress in plain periodic lines off a TTY; the same path
# confinement as the worker (/etc/shadow, '..', a symlink out of the data root); each
# failure with its documented exit code; SIGINT stops the run (exit 10) and keeps
# nothing when no epoch finished (resume.sh: the checkpoint kept and resumed).
. "$(dirname "$0")/../lib.sh"
cd "$TMP" || exit 1
mkdir -p data && cp "$DATA/uproot-HZZ.root" "$DATA/uproot-HZZ-zstd.root" data/
ln -s /etc/shadow data/evil.root
wf() { # NAME FILE1 MODEL-JSON [PARAMS-JSON]
    printf '{"name": "%s", "tree": "events", "files": [{"path": "%s", "label": 1}, {"path": "uproot-HZZ-zstd.root", "label": 0}], "params": %s, "model": %s}\n' \
        "$1" "$2" "${4:-{\"epochs\": 2\}}" "$3"
}
MLP='{"type": "mlp", "layers": [{"dense": 8, "activation": "relu"}, {"dense": 1, "activation": "sigmoid"}]}'
wf hzz uproot-HZZ.root "$MLP" > data/hzz.json

# --- default output dir ./mlhep-out/ID/, progress lines on a pipe
"$BIN/mlhep-run" data/hzz.json > run.out 2> run.err; rc=$?
id=$(sed -n 's/^job *//p' run.out); d=mlhep-out/$id
if [ $rc = 0 ] && [[ $id =~ ^[0-9a-f]{32}$ ]] && [ -d "$d" ]; then ok "mlp run: exit 0, artifacts in ./mlhep-out/ID/"; else bad "mlp run" "rc=$rc $(cat run.out run.err)"; fi
if [ -s "$d/model.mlhep" ] && [ -s "$d/model.onnx" ] && [ -s "$d/loss.svg" ] && [ -s "$d/auc.svg" ] && [ -s "$d/roc.svg" ] && [ -s "$d/scores.svg" ] && jq -e '.epochs | length == 2' "$d/metrics.json" >/dev/null; then ok "model.mlhep, model.onnx, metrics.json (2 epochs) and plots written"; else bad "artifacts" "$(ls "$d")"; fi
if (cd "$d" && jq -r '.files[] | "\(.sha256)  \(.name)"' MANIFEST.json | sha256sum -c --quiet) && [ "$(jq -r .mode "$d/MANIFEST.json")" = embedded ]; then ok "MANIFEST.json checksums match"; else bad "manifest" "$(cat "$d/MANIFEST.json")"; fi
if grep -q '^epoch 2/2: loss [0-9.]* val_loss [0-9.]* val_auc 0\.' run.err && grep -q '^ *[0-9]*% .*ETA [0-9?].* training events [0-9]* epoch 2/2 loss [0-9.]* val_loss [0-9.]* AUC 0\.' run.err && ! grep -q $'\r' run.err && grep -q 'epoch 2/2' "$d/job.log"; then ok "progress: plain periodic lines off a TTY (phase, ETA, events, epoch, loss, AUC) and each epoch's line; job.log"; else bad "progress" "$(cat run.err)"; fi

# --- gbdt into --out DIR (created), threads option
wf trees uproot-HZZ.root '{"type": "gbdt", "trees": 5, "depth": 3}' > data/gbdt.json
"$BIN/mlhep-run" --quiet --threads 1 --out out/gbdt data/gbdt.json > g.out 2> g.err; rc=$?
if [ $rc = 0 ] && [ -s out/gbdt/model.mlhep ] && [ -s out/gbdt/metrics.json ] && [ ! -s g.err ]; then ok "gbdt run into --out DIR (quiet)"; else bad "gbdt" "rc=$rc $(cat g.out g.err)"; fi
"$BIN/mlhep-run" --out out/gbdt data/gbdt.json > /dev/null 2> g2.err; rc=$?
if [ $rc = 12 ] && grep -q "must not exist or be empty" g2.err; then ok "non-empty --out refused (exit 12)"; else bad "non-empty out" "rc=$rc $(cat g2.err)"; fi

# --- refusals: the worker's rules, before anything is created
n0=$(ls mlhep-out | wc -l)
wf shadow /etc/shadow "$MLP" > data/shadow.json
"$BIN/mlhep-run" data/shadow.json > /dev/null 2> e1; rc1=$?
wf dots ../../../etc/passwd "$MLP" > data/dots.json
"$BIN/mlhep-run" data/dots.json > /dev/null 2> e2; rc2=$?
wf link evil.root "$MLP" > data/link.json
"$BIN/mlhep-run" data/link.json > /dev/null 2> e3; rc3=$?
if [ "$rc1$rc2$rc3" = 151515 ] && grep -q "'/etc/shadow' is outside the data roots" e1 && grep -q "'..' is not allowed" e2 && grep -q "'evil.root' leads outside the data roots through a symbolic link" e3; then ok "/etc/shadow, '..' and a symlink out of the data root refused (exit 15)"; else bad "path refusals" "$rc1 $rc2 $rc3: $(cat e1 e2 e3)"; fi
"$BIN/mlhep-run" --data-root /etc data/shadow.json > /dev/null 2> e4; rc=$?
if [ $rc = 3 ] && grep -q "system directory" e4; then ok "a system directory as data root refused (exit 3)"; else bad "system data root" "rc=$rc $(cat e4)"; fi
echo '{"name": "x", "files": [' > data/broken.json
"$BIN/mlhep-run" data/broken.json > /dev/null 2> e5; rc=$?
wf bad uproot-HZZ.root '{"type": "mlp", "layers": [{"dense": 8}]}' '{"epochs": 0}' > data/bad.json
"$BIN/mlhep-run" data/bad.json > /dev/null 2> e6; rc6=$?
if [ $rc = 5 ] && grep -q "invalid JSON" e5 && [ $rc6 = 5 ] && grep -q "/params/epochs" e6; then ok "invalid JSON and schema errors refused (exit 5)"; else bad "invalid workflows" "$rc $rc6 $(cat e5 e6)"; fi
wf nofile nothere.root "$MLP" > data/nofile.json
"$BIN/mlhep-run" data/nofile.json > /dev/null 2> e7; rc=$?
if [ $rc = 5 ] && grep -q "'nothere.root': no such file under the data roots" e7; then ok "missing input file refused (exit 5)"; else bad "missing file" "rc=$rc $(cat e7)"; fi
if [ "$(ls mlhep-out | wc -l)" = "$n0" ]; then ok "refused runs create no output directory"; else bad "no output on refusal" "$(ls mlhep-out)"; fi
"$BIN/mlhep-run" > /dev/null 2>&1; rc=$?
if [ $rc = 2 ]; then ok "usage error (exit 2)"; else bad "usage" "rc=$rc"; fi

# --- the sleep test job, and SIGINT: stops at the next step, nothing kept
echo '{"name": "nap", "model": {"type": "sleep", "seconds": 30}}' > data/nap.json
"$BIN/mlhep-run" --out out/nap data/nap.json > /dev/null 2> nap.err & pid=$!
for _ in $(seq 100); do grep -q 'step 2/' nap.err && break; sleep 0.1; done
t0=$(date +%s%N); kill -INT $pid; wait $pid; rc=$?; ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $rc = 10 ] && [ ! -e out/nap ] && grep -q "interrupted" nap.err; then ok "SIGINT: stopped in $ms ms (exit 10), nothing kept"; else bad "SIGINT" "rc=$rc $(ls out) $(tail -n 3 nap.err)"; fi
if ! grep -q "AddressSanitizer\|runtime error" run.err g.err g2.err e1 e2 e3 e4 e5 e6 e7 nap.err; then ok "sanitizer-clean"; else bad "sanitizer" "$(grep -A5 "AddressSanitizer\|runtime error" ./*.err e? | head -20)"; fi
