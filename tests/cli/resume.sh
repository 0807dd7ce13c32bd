# resume.sh - a stopped mlhep-run keeps its checkpoint (the model with the optimiser
# state) and `mlhep-run --resume DIR` continues it to the same final weights as a run
# that was never stopped: bit for bit (model.mlhep and model.onnx compared byte for
# byte, the per-epoch figures of metrics.json too). Stops at a known point with
# --stop-after-epoch (the SIGINT path) and with a real SIGTERM once the first checkpoint
# file exists; refusals (exit 16) of a directory without a checkpoint, a corrupt one,
# another workflow's and changed inputs; the progress output with and without a TTY
# (script(1) gives the pseudo-terminal): ETA, the epoch lines kept above the bar, and no
# carriage return or escape sequence when the output is not a terminal.
. "$(dirname "$0")/../lib.sh"
cd "$TMP" || exit 1
mkdir -p data && cp "$DATA/uproot-HZZ.root" "$DATA/uproot-HZZ-zstd.root" data/
wf() { # EPOCHS LR PATIENCE
    printf '{"name": "hzz", "tree": "events", "files": [{"path": "uproot-HZZ.root", "label": 1}, {"path": "uproot-HZZ-zstd.root", "label": 0}], "params": {"epochs": %s, "chunk_size": 700, "batch_size": 64}, "model": {"type": "mlp", "layers": [{"dense": 16, "activation": "relu"}, {"dropout": 0.25}, {"dense": 8, "activation": "tanh"}, {"dense": 1, "activation": "sigmoid"}], "optimizer": {"adam": {"lr": %s}}, "early_stopping": {"patience": %s}}}\n' "$1" "$2" "$3"
}
wf 6 0.01 4 > data/hzz.json
wf 6 0.02 4 > data/other.json
wf 40 0.01 0 > data/long.json
same_epochs() { # DIR1 DIR2: the per-epoch figures of metrics.json agree (all but the seconds)
    python3 - "$1/metrics.json" "$2/metrics.json" <<'EOF'
import json, sys
a, b = (json.load(open(p))["epochs"] for p in sys.argv[1:3])
strip = lambda v: [{k: x for k, x in e.items() if k != "seconds"} for e in v]
sys.exit(0 if len(a) > 0 and strip(a) == strip(b) else 1)
EOF
}

# --- the reference: one run, never stopped
"$BIN/mlhep-run" --out full data/hzz.json > full.out 2> full.err; rc=$?
if [ $rc = 0 ] && [ -s full/model.mlhep ] && [ ! -e full/checkpoint.mlhep ]; then ok "uninterrupted run: exit 0, no checkpoint left"; else bad "uninterrupted run" "rc=$rc $(tail -n 5 full.err)"; fi

# --- stopped after epoch 2 (the Ctrl-C path), then resumed
"$BIN/mlhep-run" --out part --stop-after-epoch 2 data/hzz.json > part.out 2> part.err; rc=$?
if [ $rc = 10 ] && [ -s part/checkpoint.mlhep ] && grep -q "interrupted after .* s; kept part/checkpoint.mlhep (epoch 2/6 done, with the optimiser state); resume with: mlhep-run --resume part$" part.err && [ "$(grep -c '^mlhep-run: interrupted' part.err)" = 1 ]; then ok "stopped after epoch 2: exit 10, checkpoint kept, one line with the resume command"; else bad "stop" "rc=$rc $(ls part) $(tail -n 3 part.err)"; fi
"$BIN/mlhep-run" --out part data/hzz.json > /dev/null 2> again.err; rc=$?
if [ $rc = 12 ] && grep -q "it holds a stopped run's checkpoint: continue it with mlhep-run --resume part$" again.err && [ -s part/checkpoint.mlhep ]; then ok "a new run into the stopped run's directory: refused (exit 12), pointing to --resume"; else bad "run into stopped dir" "rc=$rc $(cat again.err)"; fi
cp -r part spare   # for the refusals below
"$BIN/mlhep-run" --resume part > res.out 2> res.err; rc=$?
if [ $rc = 0 ] && grep -q "resumed in part after epoch 2/6" res.err && grep -q "resuming from checkpoint.mlhep: epoch 2/6 done" res.err && ! grep -q "^epoch [12]/6:" res.err && grep -q "^epoch 3/6:" res.err && [ ! -e part/checkpoint.mlhep ] && [ -s part/MANIFEST.json ]; then ok "--resume: exit 0, epochs 3.. only, checkpoint removed, MANIFEST written"; else bad "resume" "rc=$rc $(tail -n 5 res.err)"; fi
if cmp -s full/model.mlhep part/model.mlhep && cmp -s full/model.onnx part/model.onnx && same_epochs full part; then ok "resumed = uninterrupted: model.mlhep and model.onnx bit-identical, same per-epoch figures"; else bad "resumed weights" "$(cmp full/model.mlhep part/model.mlhep)"; fi
if [ "$(sed -n 's/^job *//p' part.out)" = "" ] && [ "$(sed -n 's/^job *//p' res.out)" = "$(sed -n 's/^mlhep-run: job \([0-9a-f]*\) .*/\1/p' part.err)" ]; then ok "the resumed run keeps the job id"; else bad "job id" "$(cat res.out | head -2) / $(head -1 part.err)"; fi

# --- a real SIGTERM once the first checkpoint exists (wherever it lands), then resumed
"$BIN/mlhep-run" --out long-full data/long.json > /dev/null 2> long-full.err
"$BIN/mlhep-run" --out long data/long.json > long.out 2> long.err & pid=$!
for _ in $(seq 600); do [ -e long/checkpoint.mlhep ] && break; sleep 0.05; done
kill -TERM $pid; wait $pid; rc=$?
ep=$(sed -n 's/.*(epoch \([0-9]*\)\/40 done.*/\1/p' long.err)
if [ $rc = 10 ] && [ -n "$ep" ] && grep -q "resume with: mlhep-run --resume long$" long.err; then ok "SIGTERM after a checkpoint: exit 10, epoch $ep/40 kept"; else bad "SIGTERM" "rc=$rc $(tail -n 3 long.err)"; fi
"$BIN/mlhep-run" --resume long data/long.json > /dev/null 2> long-res.err; rc=$?
if [ $rc = 0 ] && cmp -s long-full/model.mlhep long/model.mlhep && same_epochs long-full long; then ok "resumed after SIGTERM (workflow given again) = uninterrupted, bit-identical"; else bad "SIGTERM resume" "rc=$rc $(tail -n 3 long-res.err)"; fi

# --- refusals: exit 16 with the reason
mkdir empty
"$BIN/mlhep-run" --resume empty > /dev/null 2> r1.err; rc1=$?
cp -r spare corrupt
python3 -c "import sys; p='corrupt/checkpoint.mlhep'; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=1; open(p,'wb').write(b)"
"$BIN/mlhep-run" --resume corrupt > /dev/null 2> r2.err; rc2=$?
cp -r spare other
"$BIN/mlhep-run" --resume other data/other.json > /dev/null 2> r3.err; rc3=$?
if [ "$rc1$rc2$rc3" = 161616 ] && grep -q "cannot resume empty: no checkpoint empty/checkpoint.mlhep" r1.err && grep -q "cannot resume corrupt: checkpoint unusable: .*checksum mismatch" r2.err && grep -q "cannot resume other: other/checkpoint.mlhep was written for another workflow" r3.err && [ -s other/checkpoint.mlhep ]; then ok "no checkpoint, a corrupt one, another workflow's: refused (exit 16), nothing touched"; else bad "refusals" "$rc1 $rc2 $rc3 $(cat r1.err r2.err r3.err)"; fi
cp -r spare changed
touch -d '2001-01-01' data/uproot-HZZ.root
"$BIN/mlhep-run" --resume changed > /dev/null 2> r4.err; rc=$?
cp "$DATA/uproot-HZZ.root" data/uproot-HZZ.root
if [ $rc = 16 ] && grep -q "the inputs changed since changed/checkpoint.mlhep was written" r4.err; then ok "changed inputs refused (exit 16)"; else bad "changed inputs" "rc=$rc $(cat r4.err)"; fi
"$BIN/mlhep-run" --resume spare --out x data/hzz.json > /dev/null 2> r5.err; rc=$?
if [ $rc = 2 ] && grep -q "no --out" r5.err; then ok "--resume with --out: usage error"; else bad "--resume --out" "rc=$rc $(cat r5.err)"; fi

# --- progress: a pseudo-terminal (script) and a pipe
script -qec "'$BIN/mlhep-run' --out tty data/hzz.json" /dev/null > tty.log 2>&1; rc=$?
if [ $rc = 0 ] && grep -q $'\r\\[[#.]*\\] *[0-9]*% .*ETA [0-9?]' tty.log && grep -q $'\r\033\\[Kepoch 2/6: loss [0-9.]* val_loss' tty.log && grep -q $'\r\033\\[Kepoch 3/6: loss' tty.log; then ok "TTY: bar with ETA, each epoch's line printed above the bar (bar line cleared first)"; else bad "TTY" "rc=$rc $(head -c 600 tty.log | od -c | head -20)"; fi
# what a terminal shows at the end: replay the carriage returns and line clears
python3 - tty.log > screen.txt <<'EOF'
import re, sys
lines, col = [""], 0
for tok in re.split(r"(\r|\n|\x1b\[K)", open(sys.argv[1], encoding="utf-8", errors="replace", newline="").read()):
    if tok == "\n": lines.append(""); col = 0
    elif tok == "\r": col = 0
    elif tok == "\x1b[K": lines[-1] = lines[-1][:col]
    else: lines[-1] = lines[-1][:col] + tok + lines[-1][col + len(tok):]; col += len(tok)
print("\n".join(lines))
EOF
if grep -q "^epoch 1/6: loss" screen.txt && grep -q "^epoch 2/6: loss" screen.txt && grep -q "^\\[##############################\\] 100%.*done" screen.txt; then ok "TTY screen: the epoch lines stay visible, the bar ends at 100%"; else bad "screen" "$(cat screen.txt)"; fi
"$BIN/mlhep-run" --out pipe data/hzz.json > /dev/null 2> pipe.err; rc=$?
if [ $rc = 0 ] && ! grep -q $'\r' pipe.err && ! grep -q $'\033' pipe.err && grep -q '^epoch 2/6: loss' pipe.err && grep -q '^ *[0-9]*% *[0-9.]*s  ETA [0-9?]' pipe.err; then ok "no TTY: plain lines with ETA and the epoch lines, no carriage return or escape"; else bad "pipe" "rc=$rc $(cat pipe.err)"; fi

if ! grep -q "AddressSanitizer\|runtime error\|LeakSanitizer" ./*.err tty.log; then ok "sanitizer-clean"; else bad "sanitizer" "$(grep -A5 "AddressSanitizer\|runtime error\|LeakSanitizer" ./*.err tty.log | head -20)"; fi
