#!/usr/bin/env bash
# bench/bench_headline.sh - issue 21's headline: MLaaS4HEP's thesis workload end to end
# (28.5M ttH(bb)-shaped events, 74 branches: 22 flat + 52 jagged) on this machine, at a
# scale that fits the disk and the time, extrapolated linearly in events (the specs pass
# and each epoch are single passes over the events; the extrapolation says so).
#   workload: bin/mlhep-root gen (tth preset, zlib) EVENTS signal + EVENTS background
#   events; bin/mlhep-run as a user runs it (its default threads): the specs pass, then
#   5 epochs of the reference MLP (128 relu, dropout 0.5, 64 relu, 1 sigmoid; Adam;
#   batch 100; chunk 100,000) with validation after each epoch, then the final figures.
#   figures: wall time of the run, and of the headline's part (specs + 5 epochs with
#   validation, from metrics.json's timing), events/s, and the extrapolation to 28.5M
#   events against the aim (5 minutes) and against MLaaS4HEP's published chunk-creation
#   rate (1.1k-1.2k events/s: 7+ hours for chunk creation alone).
# Env: EVENTS (500000 per class), KEEP=1 keeps the generated files in build/bench/headline.
set -u
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-500000}
make -s all || exit 1
W=build/bench/headline
mkdir -p "$W"
N=$((2 * EVENTS))
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -s "$W/S.root" ] || [ ! -s "$W/B.root" ] || [ "$(cat "$W/events" 2>/dev/null)" != "$EVENTS" ]; then
    rm -f "$W/S.root" "$W/B.root"
    bin/mlhep-root gen --events "$EVENTS" --class signal --seed 1 --compression zlib --out "$W/S.root" >/dev/null 2>&1 &&
        bin/mlhep-root gen --events "$EVENTS" --class background --seed 2 --compression zlib --out "$W/B.root" >/dev/null 2>&1 ||
        { echo "bench_headline: generating the sample failed"; exit 1; }
    echo "$EVENTS" > "$W/events"
fi
echo "sample: $N events ($EVENTS signal + $EVENTS background), $(du -cm "$W/S.root" "$W/B.root" | tail -1 | cut -f1) MB zlib"
cat > "$W/workflow.json" <<'EOF'
{
  "name": "headline",
  "files": [{"path": "S.root", "label": 1}, {"path": "B.root", "label": 0}],
  "tree": "Events",
  "params": {"epochs": 5, "batch_size": 100, "chunk_size": 100000, "validation_fraction": 0.2},
  "model": {"type": "mlp",
            "layers": [{"dense": 128, "activation": "relu"}, {"dropout": 0.5}, {"dense": 64, "activation": "relu"},
                       {"dense": 1, "activation": "sigmoid"}],
            "optimizer": {"adam": {"lr": 0.001}}, "loss": "binary_crossentropy"}
}
EOF
rm -rf "$W/run"
t0=$(date +%s.%N)
bin/mlhep-run --out "$W/run" --data-root "$W" "$W/workflow.json" > "$W/run.log" 2>&1 || { tail -5 "$W/run.log"; exit 1; }
t1=$(date +%s.%N)
m=$W/run/metrics.json
F=$(jq -r '.width' "$W/run/specs.json" 2>/dev/null)
B=$(jq -r '.features | length' "$W/run/specs.json" 2>/dev/null)
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
specs=$(jq -r '.timing.specs_s' "$m"); train=$(jq -r '.timing.training_s' "$m")
echo "mlhep-run: ${wall} s wall in all; specs pass ${specs} s, 5 epochs with validation ${train} s (${B:-?} branches read, ${F:-?} inputs per row after padding; validation AUC $(jq -r '.validation.auc' "$m"))"
jq -r '.epochs[] | "  epoch \(.epoch): \(.seconds * 10 | round / 10) s, val AUC \(.val_auc * 10000 | round / 10000)"' "$m"
awk -v n="$N" -v w="$wall" -v s="$specs" -v t="$train" 'BEGIN {
    h = s + t; full = 28.5e6 / n;
    printf "# headline part (specs + 5 epochs): %.0f events/s per pass over the data (6 passes); 28.5M events extrapolated (linear in events): %.1f min (aim <= 5 min: %.2f of the aim)\n", n * 6 / h, h * full / 60, (h * full / 60) / 5;
    printf "# whole run, final figures included: %.1f min for 28.5M events extrapolated\n", w * full / 60;
    printf "# MLaaS4HEP chunk creation alone at 1.2k events/s: %.1f h for 28.5M events; mlhep end to end is %.0fx faster\n", 28.5e6 / 1200 / 3600, (28.5e6 / 1200) / (h * full) }'
echo "machine load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
