#!/usr/bin/env bash
# bench/bench_mlp.sh - MLP training speed and quality, mlhep against PyTorch measured in the
# same run: the reference model of issue 5 (dense 128 relu, dropout .5, dense 64 relu,
# dropout .5, dense 1 sigmoid; Adam 0.001) on synthetic data (NTRAIN rows x NFEAT
# features, non-linear signal), batch 100 and 1000, ONE thread each
# (OPENBLAS_NUM_THREADS=1, torch.set_num_threads(1)), EPOCHS epochs; prints samples/s
# of both (wall clock, and per CPU second of the process, which is robust when other
# processes share the 2 cores), their ratios, and the validation ROC AUC of both.
# Note: at batch 1000, 5 epochs are only 500 steps; the AUC then varies by about
# +-0.008 from seed to seed for both (SEED=n selects another seed for both).
# Env: NTRAIN (100000), NVAL (20000), NFEAT (80), EPOCHS (5).
set -u
cd "$(dirname "$0")/.."
NTRAIN=${NTRAIN:-100000}; NVAL=${NVAL:-20000}; NFEAT=${NFEAT:-80}; EPOCHS=${EPOCHS:-5}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
make -s build/libmlhep.a || exit 1
mkdir -p build/bench
gcc -std=c17 -O2 -D_GNU_SOURCE -Icommon bench/bench_mlp.c build/libmlhep.a \
    -ljansson -lxxhash -lopenblas -lm -lpthread -o build/bench/bench_mlp || exit 1
b=build/bench/bench_mlp
dir=build/bench/mlp-data
mkdir -p "$dir"
$b gen "$dir" "$NTRAIN" "$NVAL" "$NFEAT" || exit 1
echo "openblas core: $($b corename) (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset})"
echo "data: $NTRAIN train rows, $NVAL validation rows, $NFEAT features; $EPOCHS epochs per run"
have_torch=1
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    have_torch=0
    echo "PyTorch peer: python3-torch is NOT installed (deploy/packages-bench.txt); no ratio measured"
else
    echo "PyTorch peer: torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), 1 thread"
fi
for bs in 100 1000; do
    m=$($b train "$dir" "$NFEAT" "$bs" "$EPOCHS") || { echo "mlhep run failed"; exit 1; }
    echo "$m"
    ms=$(echo "$m" | sed -n 's/.* samples_per_s=\([0-9.]*\).*/\1/p')
    mc=$(echo "$m" | sed -n 's/.*cpu_samples_per_s=\([0-9.]*\).*/\1/p')
    ma=$(echo "$m" | sed -n 's/.*auc=\([0-9.]*\).*/\1/p')
    if [ "$have_torch" = 1 ]; then
        t=$(/usr/bin/python3 bench/bench_mlp.py "$dir" "$NFEAT" "$bs" "$EPOCHS") || { echo "torch run failed"; exit 1; }
        echo "$t"
        ts=$(echo "$t" | sed -n 's/.* samples_per_s=\([0-9.]*\).*/\1/p')
        tc=$(echo "$t" | sed -n 's/.*cpu_samples_per_s=\([0-9.]*\).*/\1/p')
        ta=$(echo "$t" | sed -n 's/.*auc=\([0-9.]*\).*/\1/p')
        awk -v b="$bs" -v ms="$ms" -v ts="$ts" -v mc="$mc" -v tc="$tc" -v ma="$ma" -v ta="$ta" 'BEGIN {
            printf "RESULT mlp batch=%d: wall mlhep %.0f vs torch %.0f samples/s = %.2fx; per CPU second mlhep %.0f vs torch %.0f = %.2fx; AUC mlhep %.4f torch %.4f (diff %+.4f)\n",
                   b, ms, ts, ms / ts, mc, tc, mc / tc, ma, ta, ma - ta }'
    fi
done
