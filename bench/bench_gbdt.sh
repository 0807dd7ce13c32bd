#!/usr/bin/env bash
# bench/bench_gbdt.sh - mlhep GBDT against XGBoost tree_method="hist", measured in the
# same run on the same synthetic HEP-like data and on third-party-style data (below) (overlapping signal/background: heavy-
# tailed momenta, a resonance over a falling continuum, angular correlations, an
# interaction only the trees can see, missing values, noise features).
#
# Same rounds, depth, eta, bins, lambda, min_child_weight, thread count for both. Each
# trainer runs REPEATS times (interleaved); the fastest run counts. Time is wall clock
# from float matrix to trained model (XGBoost: DMatrix + train; mlhep: cuts + binning +
# train); CPU time (user+system, all threads) is printed too, as it is less
# disturbed when other work shares the cores. AUC on a held-out set, computed by
# sklearn for both.
# Knobs (environment): ROWS COLS TREES DEPTH ETA BINS REPEATS TEST_ROWS, and THREADS
# (a list of thread counts, default "1 2"; both trainers get the same count).
set -eu
cd "$(dirname "$0")/.."
ROWS=${ROWS:-200000} COLS=${COLS:-50} TREES=${TREES:-100} DEPTH=${DEPTH:-6} ETA=${ETA:-0.3}
BINS=${BINS:-256} THREADS=${THREADS:-"1 2"} REPEATS=${REPEATS:-3} TEST_ROWS=${TEST_ROWS:-100000}
PY=/usr/bin/python3
if ! $PY -c 'import xgboost, sklearn, numpy' 2>/dev/null; then
    echo "bench_gbdt: FAIL: python3-xgboost / python3-sklearn / python3-numpy missing (deploy/packages-bench.txt)"
    exit 1
fi
make -s build/libmlhep.a
work=$(mktemp -d /tmp/mlhep-bench-gbdt.XXXXXX)
trap 'rm -rf "$work"' EXIT
make -s build/bench/gbdt_bench || exit 1
cp build/bench/gbdt_bench "$work/gbdt_bench"

$PY - "$work" "$ROWS" "$TEST_ROWS" "$COLS" <<'EOF'
import sys, numpy as np
work, n_train, n_test, ncols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(20240601)
n = n_train + n_test
y = (rng.random(n) < 0.5).astype(np.float32)
s = y > 0
X = np.empty((n, ncols), dtype=np.float32)
k = 0
def put(col):
    global k
    if k < ncols:
        X[:, k] = col
        k += 1
# jet / lepton momenta: exponential-like, signal slightly harder
for j in range(6):
    scale = np.where(s, 60.0 + 8 * j, 50.0 + 8 * j)
    put(rng.gamma(2.0, scale / 2.0))
# etas and phis
etas = [rng.normal(0, np.where(s, 1.1, 1.4)) for _ in range(4)]
for e in etas:
    put(e)
phis = [rng.uniform(-np.pi, np.pi, n) for _ in range(4)]
# signal: phi0 and phi1 back to back more often (an interaction of two features)
dphi = np.where(s & (rng.random(n) < 0.35), np.pi + rng.normal(0, 0.4, n), rng.uniform(-np.pi, np.pi, n))
phis[1] = np.angle(np.exp(1j * (phis[0] + dphi)))
for p in phis:
    put(p)
# resonance over a falling continuum
mass = np.where(s & (rng.random(n) < 0.5), rng.normal(125, 12, n), 60 + rng.exponential(80, n))
put(mass)
put(mass * rng.normal(1, 0.1, n))
# |delta phi| as physicists compute it
put(np.abs(np.angle(np.exp(1j * (phis[0] - phis[1])))))
# correlated pair: same-sign shift for signal plus a correlation only signal has
a = rng.normal(np.where(s, 0.3, 0.0), 1, n)
b = np.where(s, 0.7 * a + 0.71 * rng.normal(0, 1, n), rng.normal(0, 1, n))
put(a); put(b)
# third jet, missing (NaN) in 30% of events, more often in background
j3 = rng.gamma(2.0, np.where(s, 25.0, 20.0))
j3[rng.random(n) < np.where(s, 0.2, 0.4)] = np.nan
put(j3)
# b-tag like discrete variable
put(rng.integers(0, 4, n) + s * (rng.random(n) < 0.3))
# correlated combinations, then noise
base = X[:, :min(k, 6)].copy()
while k < ncols - max(0, ncols // 3):
    w = rng.normal(0, 1, base.shape[1])
    put(base @ w / 100.0 + rng.normal(0, 0.5, n))
while k < ncols:
    put(rng.normal(0, 1, n))
X[:n_train].tofile(f"{work}/train_x.f32"); y[:n_train].tofile(f"{work}/train_y.f32")
X[n_train:].tofile(f"{work}/test_x.f32"); y[n_train:].tofile(f"{work}/test_y.f32")
EOF

# Third-party-style data (issue 21: the HEP-like data above flatter the trees): correlated
# Gaussians (an AR(1) covariance, rho 0.6), features whose width differs by class,
# heavy-tailed (Student t, 3 degrees of freedom) features shifted for the signal, noise;
# 11% signal.
mkdir -p "$work/tp"
$PY - "$work/tp" "$ROWS" "$TEST_ROWS" "$COLS" <<'EOF'
import sys, numpy as np
work, n_train, n_test, ncols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(20261207)
n = n_train + n_test
y = (rng.random(n) < 0.11).astype(np.float32)
s = y > 0
X = np.empty((n, ncols), dtype=np.float32)
ng = ncols * 2 // 5            # correlated Gaussians, a few shifted for the signal
nw = ncols // 5                # width-shifted
nt = ncols // 5                # heavy-tailed
idx = np.arange(ng)
chol = np.linalg.cholesky(0.6 ** np.abs(idx[:, None] - idx[None, :]))
shift = np.zeros(ng)
shift[::3] = rng.normal(0, 0.35, len(shift[::3]))
X[:, :ng] = rng.standard_normal((n, ng)) @ chol.T + np.outer(s, shift)
k = ng
for j in range(nw):
    X[:, k] = rng.normal(0, np.where(s, 1.0 + 0.25 * (j % 3 + 1), 1.0), n); k += 1
for j in range(nt):
    X[:, k] = rng.standard_t(3, n) * (1 + 0.5 * (j % 2)) + np.where(s, 0.3 * (j % 3), 0.0); k += 1
while k < ncols:
    X[:, k] = rng.normal(0, 1, n); k += 1
X[:n_train].tofile(f"{work}/train_x.f32"); y[:n_train].tofile(f"{work}/train_y.f32")
X[n_train:].tofile(f"{work}/test_x.f32"); y[n_train:].tofile(f"{work}/test_y.f32")
EOF

echo "gbdt: load average before the timed runs: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
for data in hep third-party; do
d="$work"; [ "$data" = third-party ] && d="$work/tp"
[ "$d" = "$work" ] || cp -f "$work/gbdt_bench" "$d/gbdt_bench"
for nthreads in $THREADS; do
$PY - "$d" "$COLS" "$TREES" "$DEPTH" "$ETA" "$BINS" "$nthreads" "$REPEATS" "$data" <<'EOF'
import sys, time, subprocess, numpy as np, xgboost as xgb
from sklearn.metrics import roc_auc_score
work, ncols, trees, depth, eta, bins, threads, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
dname = sys.argv[9]
X = np.fromfile(f"{work}/train_x.f32", dtype=np.float32).reshape(-1, ncols)
y = np.fromfile(f"{work}/train_y.f32", dtype=np.float32)
Xt = np.fromfile(f"{work}/test_x.f32", dtype=np.float32).reshape(-1, ncols)
yt = np.fromfile(f"{work}/test_y.f32", dtype=np.float32)
params = dict(objective="binary:logistic", tree_method="hist", max_depth=depth, eta=eta,
              max_bin=bins, nthread=threads, min_child_weight=1, reg_lambda=1, gamma=0,
              subsample=1, colsample_bytree=1, base_score=0.5, seed=0)
t_x, t_m, c_x, c_m = [], [], [], []
for r in range(reps):
    t0, c0 = time.perf_counter(), time.process_time()
    d = xgb.DMatrix(X, label=y, missing=np.nan, nthread=threads)
    bst = xgb.train(params, d, num_boost_round=trees)
    t_x.append(time.perf_counter() - t0)
    c_x.append(time.process_time() - c0)
    out = subprocess.run([f"{work}/gbdt_bench", work, str(ncols), str(trees), str(depth), str(eta),
                          str(bins), str(threads)], check=True, capture_output=True, text=True).stdout
    t_m.append(float(out.split("train_seconds ")[1].split()[0]))
    c_m.append(float(out.split("train_cpu_seconds ")[1].split()[0]))
px = bst.predict(xgb.DMatrix(Xt, missing=np.nan))
pm = np.fromfile(f"{work}/test_pred_mlhep.f32", dtype=np.float32)
auc_x, auc_m = roc_auc_score(yt, px), roc_auc_score(yt, pm)
tx, tm, cx, cm = min(t_x), min(t_m), min(c_x), min(c_m)
print(f"gbdt data ({dname}): {len(y)} train rows x {ncols} features, {len(yt)} test rows; "
      f"{trees} trees, depth {depth}, eta {eta}, {bins} bins, {threads} threads; best of {reps}")
print(f"RESULT gbdt {dname} {threads} threads: train time mlhep {tm:.3f} s, xgboost {xgb.__version__} hist {tx:.3f} s, "
      f"ratio mlhep/xgboost {tm / tx:.3f} (aim <= 0.8)  [all runs mlhep {['%.2f' % t for t in t_m]}, xgboost {['%.2f' % t for t in t_x]}]")
print(f"gbdt train CPU time (all threads): mlhep {cm:.3f} s, xgboost {cx:.3f} s, ratio {cm / cx:.3f}")
print(f"RESULT gbdt {dname} {threads} threads: test AUC mlhep {auc_m:.5f}, xgboost {auc_x:.5f}, difference {auc_m - auc_x:+.5f} (aim |d| <= 0.005)")
ok = tm / tx <= 0.8 and abs(auc_m - auc_x) <= 0.005
print(f"gbdt bench ({dname}, {threads} threads): " + ("within aims" if ok else "OUTSIDE aims"))
EOF
done
done
