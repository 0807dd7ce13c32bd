#!/usr/bin/env bash
# bench/bench_mlp.sh - MLP training speed and quality, mlhep against PyTorch and against
# its own ceiling, all measured in the same run (issue 21): the reference model (dense 128
# relu, dropout .5, dense 64 relu, dropout .5, dense 1 sigmoid; Adam 0.001, binary
# cross-entropy) on synthetic data (NTRAIN rows x NFEAT features, non-linear signal).
#
# Per batch size (100 and 1000), interleaved, best of REPEATS:
# - mlhep on 1 thread and on a team of 2 (the data-parallel step the training driver
#   uses; BLAS one thread per thread, set by the library as mlhep-run does: no
#   OPENBLAS_NUM_THREADS here), PyTorch 1.13 on 1 thread (torch.set_num_threads(1),
#   OMP_NUM_THREADS=1 for it alone);
# - the ceiling: the GEMMs of one training step alone (same shapes, same OpenBLAS).
# Printed: samples/s (wall clock, and per CPU second of the process, which is robust
# when other processes share the 2 cores), mlhep / PyTorch, the step as a fraction of
# the ceiling (CPU time of the steps alone), 2 threads / 1 thread (wall; only
# meaningful on a machine whose load leaves two cores free: the load is printed).
# Then the validation ROC AUC of mlhep and PyTorch at batch 1000 after AUC_EPOCHS epochs
# for each seed of SEEDS (mlhep on 1 and on 2 threads).
# Env: NTRAIN (100000), NVAL (20000), NFEAT (300), EPOCHS (3), REPEATS (2), SEEDS ("1 2 3 4"),
# AUC_EPOCHS (5).
set -u
cd "$(dirname "$0")/.."
NTRAIN=${NTRAIN:-100000}; NVAL=${NVAL:-20000}; NFEAT=${NFEAT:-300}; EPOCHS=${EPOCHS:-3}
REPEATS=${REPEATS:-2}; SEEDS=${SEEDS:-1 2 3 4}; AUC_EPOCHS=${AUC_EPOCHS:-5}
unset OPENBLAS_NUM_THREADS
make -s build/libmlhep.a || exit 1
mkdir -p build/bench
make -s build/bench/bench_mlp || exit 1
b=build/bench/bench_mlp
dir=build/bench/mlp-data-$NFEAT
mkdir -p "$dir"
$b gen "$dir" "$NTRAIN" "$NVAL" "$NFEAT" || exit 1
echo "openblas core: $($b corename) (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset})"
echo "data: $NTRAIN train rows, $NVAL validation rows, $NFEAT features; $EPOCHS epochs per speed run, best of $REPEATS"
echo "load: $(uptime)"
have_torch=1
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    have_torch=0
    echo "PyTorch peer: python3-torch is NOT installed (deploy/packages-bench.txt); no ratio measured"
else
    echo "PyTorch peer: torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), 1 thread"
fi
torch_run() { OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 /usr/bin/python3 bench/bench_mlp.py "$@"; }
field() { echo "$1" | sed -n "s/.* $2=\([0-9.]*\).*/\1/p"; }
max() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }

for bs in 100 1000; do
    steps=$((NTRAIN * EPOCHS / bs))
    m1w=0 m1c=0 m1s=0 m2w=0 m2c=0 tw=0 tc=0 cw=0 cc=0
    for rep in $(seq "$REPEATS"); do
        c=$($b ceiling "$NFEAT" "$bs" "$steps") || exit 1
        cw=$(max "$cw" "$(field "$c" samples_per_s)"); cc=$(max "$cc" "$(field "$c" cpu_samples_per_s)")
        m=$($b train "$dir" "$NFEAT" "$bs" "$EPOCHS") || { echo "mlhep run failed"; exit 1; }
        echo "$m"
        m1w=$(max "$m1w" "$(field "$m" samples_per_s)"); m1c=$(max "$m1c" "$(field "$m" cpu_samples_per_s)")
        m1s=$(max "$m1s" "$(field "$m" step_cpu_samples_per_s)")
        m=$(THREADS=2 $b train "$dir" "$NFEAT" "$bs" "$EPOCHS") || { echo "mlhep run failed"; exit 1; }
        echo "$m"
        m2w=$(max "$m2w" "$(field "$m" samples_per_s)"); m2c=$(max "$m2c" "$(field "$m" cpu_samples_per_s)")
        if [ "$have_torch" = 1 ]; then
            t=$(torch_run "$dir" "$NFEAT" "$bs" "$EPOCHS") || { echo "torch run failed"; exit 1; }
            echo "$t"
            tw=$(max "$tw" "$(field "$t" samples_per_s)"); tc=$(max "$tc" "$(field "$t" cpu_samples_per_s)")
        fi
    done
    echo "ceiling batch=$bs samples_per_s=$cw cpu_samples_per_s=$cc"
    awk -v b="$bs" -v m1w="$m1w" -v m1c="$m1c" -v m1s="$m1s" -v m2w="$m2w" -v m2c="$m2c" -v tw="$tw" -v tc="$tc" \
        -v cc="$cc" -v ld="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
        if (tw > 0)
            printf "RESULT mlp batch=%d vs PyTorch (1 thread each): wall %.0f vs %.0f samples/s = %.2fx; per CPU second %.0f vs %.0f = %.2fx (aim %s)\n",
                   b, m1w, tw, m1w / tw, m1c, tc, m1c / tc, b == 100 ? ">= 4x" : ">= 2.5x"
        printf "RESULT mlp batch=%d fraction of the ceiling (steps alone, CPU time): %.0f of %.0f samples/s = %.0f%% (aim >= 85%%)\n",
               b, m1s, cc, 100 * m1s / cc
        printf "RESULT mlp batch=%d 2 threads vs 1: wall %.0f vs %.0f samples/s = %.2fx (aim >= 1.7x; load %s); CPU per sample %.2fx of 1 thread\n",
               b, m2w, m1w, m2w / m1w, ld, m1c / m2c }'
done

# AUC at batch 1000 after AUC_EPOCHS epochs, per seed
for s in $SEEDS; do
    m1=$(SEED=$s $b train "$dir" "$NFEAT" 1000 "$AUC_EPOCHS") || exit 1
    m2=$(SEED=$s THREADS=2 $b train "$dir" "$NFEAT" 1000 "$AUC_EPOCHS") || exit 1
    a1=$(field "$m1" auc); a2=$(field "$m2" auc); ta=""
    if [ "$have_torch" = 1 ]; then
        t=$(SEED=$s torch_run "$dir" "$NFEAT" 1000 "$AUC_EPOCHS") || exit 1
        ta=$(field "$t" auc)
    fi
    awk -v s="$s" -v a1="$a1" -v a2="$a2" -v ta="$ta" -v ep="$AUC_EPOCHS" 'BEGIN {
        if (ta != "")
            printf "RESULT mlp AUC seed %s, batch 1000, %d epochs: mlhep %.4f (2 threads %.4f) torch %.4f: diff %+.4f (2 threads %+.4f; aim within +-0.005)\n",
                   s, ep, a1, a2, ta, a1 - ta, a2 - ta
        else
            printf "RESULT mlp AUC seed %s, batch 1000, %d epochs: mlhep %.4f, 2 threads %.4f (diff %+.4f)\n", s, ep, a1, a2, a2 - a1 }'
done
