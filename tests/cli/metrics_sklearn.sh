# metrics_sklearn.sh - exact ROC AUC (plain and weighted, with many ties), ROC curve
# points, log loss, accuracy and confusion matrix equal scikit-learn's on random data;
# the working points (signal efficiency at a background efficiency, interpolated on
# sklearn's roc_curve) and the two-sample Kolmogorov-Smirnov test of the overtraining
# check equal scipy's (statistic = scipy.stats.ks_2samp's; p = kstwobign.sf, the
# asymptotic Kolmogorov distribution; weighted: the weighted ECDFs and the effective
# sample sizes computed with numpy). Needs python3-sklearn and python3-scipy
# (deploy/packages.txt): missing is a failure, not a skip.
. "$(dirname "$0")/../lib.sh"
ev="$MLHEP_TOP/build/asan/tests/test_metrics"
if [ ! -x "$ev" ]; then bad "metrics vs sklearn" "$ev not built"; exit 0; fi
if ! /usr/bin/python3 -c 'import sklearn, numpy, scipy' 2>/dev/null; then
    bad "metrics vs sklearn" "python3-sklearn / python3-numpy / python3-scipy not installed (deploy/packages.txt)"; exit 0
fi
/usr/bin/python3 - "$ev" "$TMP" <<'PY'
import sys, subprocess, numpy as np
from sklearn.metrics import roc_auc_score, roc_curve, log_loss, accuracy_score, confusion_matrix
from scipy.stats import ks_2samp, kstwobign
ev, tmp = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(11)
for case, (n, levels) in enumerate([(5000, 0), (5000, 20), (20000, 3), (7, 0)]):
    y = (rng.random(n) < 0.35).astype(np.float32)
    if n == 7: y[:2] = [0, 1]
    s = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * y)))
    if levels: s = np.round(s * levels) / levels
    s = s.astype(np.float32)
    w = (0.2 + 2 * rng.random(n)).astype(np.float32)
    np.stack([y, s, w], axis=1).astype(np.float32).tofile(f"{tmp}/m.bin")
    out = subprocess.run([ev, "--eval", f"{tmp}/m.bin"], capture_output=True, text=True)
    name = f"metrics vs sklearn case {case} (n={n}, levels={levels})"
    if out.returncode != 0:
        print(f"FAIL {name}: {out.stdout} {out.stderr[-500:]}"); continue
    kv, roc = {}, []
    for line in out.stdout.splitlines():
        p = line.split()
        if p[0] == "roc": roc.append([float(x) for x in p[1:]])
        else: kv[p[0]] = float(p[1])
    sd, wd = s.astype(np.float64), w.astype(np.float64)
    fpr, tpr, thr = roc_curve(y, sd, drop_intermediate=False)
    cm = confusion_matrix(y, sd >= 0.5, labels=[0, 1]).ravel()
    ref = dict(auc=roc_auc_score(y, sd), auc_weighted=roc_auc_score(y, sd, sample_weight=wd),
               logloss=log_loss(y, sd), logloss_weighted=log_loss(y, sd, sample_weight=wd),
               accuracy=accuracy_score(y, sd >= 0.5))
    errs = [f"{k}: {kv[k]!r} vs sklearn {v!r}" for k, v in ref.items() if abs(kv[k] - v) > 1e-9]
    errs += [f"confusion {[kv[k] for k in ('tn','fp','fn','tp')]} vs {list(cm)}"] if [kv[k] for k in ('tn','fp','fn','tp')] != list(cm) else []
    roc = np.array(roc)
    if len(roc) != len(fpr): errs.append(f"{len(roc)} ROC points vs sklearn {len(fpr)}")
    elif np.abs(roc[:, 0] - fpr).max() > 1e-12 or np.abs(roc[:, 1] - tpr).max() > 1e-12 or np.abs(roc[1:, 2] - thr[1:]).max() > 1e-7:
        errs.append("ROC points differ from sklearn.metrics.roc_curve")
    # working points: the highest tpr at fpr <= eps, interpolated towards the next point
    def wp(eps, sw):
        f, t, _ = roc_curve(y, sd, sample_weight=sw, drop_intermediate=False)
        i = np.searchsorted(f, eps, side="right") - 1
        if i + 1 >= len(f) or f[i] >= eps: return t[i]
        return t[i] + (eps - f[i]) / (f[i + 1] - f[i]) * (t[i + 1] - t[i])
    for eps in (0.01, 0.1, 0.3):
        for tag, sw in (("", None), ("_weighted", wd)):
            k = f"wp{tag}_{eps:g}"
            if abs(kv[k] - wp(eps, sw)) > 1e-12: errs.append(f"{k}: {kv[k]!r} vs {wp(eps, sw)!r}")
    # KS: signal scores against background scores
    a, b = sd[y >= 0.5], sd[y < 0.5]
    ref = ks_2samp(a, b)
    en = len(a) * len(b) / (len(a) + len(b))
    if abs(kv["ks_d"] - ref.statistic) > 1e-12: errs.append(f"ks_d {kv['ks_d']!r} vs scipy {ref.statistic!r}")
    p = kstwobign.sf(ref.statistic * np.sqrt(en))
    if abs(kv["ks_p"] - p) > 1e-10 * max(1, p): errs.append(f"ks_p {kv['ks_p']!r} vs scipy kstwobign {p!r}")
    wa, wb = wd[y >= 0.5], wd[y < 0.5]
    vals = np.unique(np.concatenate([a, b]))
    oa, ob = np.argsort(a, kind="stable"), np.argsort(b, kind="stable")
    cb = np.concatenate([[0], np.cumsum(wb[ob])])[np.searchsorted(b[ob], vals, side="right")] / wb.sum()
    ca = np.concatenate([[0], np.cumsum(wa[oa])])[np.searchsorted(a[oa], vals, side="right")] / wa.sum()
    dw = np.abs(ca - cb).max()
    ea, eb = wa.sum() ** 2 / (wa ** 2).sum(), wb.sum() ** 2 / (wb ** 2).sum()
    pw = kstwobign.sf(dw * np.sqrt(ea * eb / (ea + eb)))
    if abs(kv["ks_d_weighted"] - dw) > 1e-9: errs.append(f"ks_d_weighted {kv['ks_d_weighted']!r} vs numpy {dw!r}")
    if abs(kv["ks_p_weighted"] - pw) > 1e-8 * max(1, pw): errs.append(f"ks_p_weighted {kv['ks_p_weighted']!r} vs {pw!r}")
    print(f"PASS {name}" if not errs else f"FAIL {name}: " + "; ".join(errs))
PY
