# physics_sklearn.sh - the training report's numbers equal an independent computation on
# the rows it scored: mlhep-run trains on generated ttH-like events - a weighted binary
# MLP (weights from an expression with negative values, a scale per file), an
# unweighted binary GBDT, multiclass and regression models of both kinds - and for each
# the figures of metrics.json are recomputed with scikit-learn, scipy and numpy from the
# saved scores (scores_test.npy, scores_validation.npy, scores_train_sample.npy: label,
# event weight, outputs): ROC AUC, log loss, accuracy, confusion matrix, working points,
# the overtraining check's Kolmogorov-Smirnov statistics and p-values, one-vs-rest AUCs,
# MSE and MAE. The last epoch's validation figures are the final model's. Needs
# python3-sklearn and python3-scipy (deploy/packages.txt): missing is a failure.
. "$(dirname "$0")/../lib.sh"
cd "$TMP" || exit 1
if ! /usr/bin/python3 -c 'import sklearn, numpy, scipy' 2>/dev/null; then
    bad "physics vs sklearn" "python3-sklearn / python3-numpy / python3-scipy not installed (deploy/packages.txt)"; exit 0
fi
"$BIN/mlhep-root" gen --events 3000 --class signal --seed 3 --out S.root >/dev/null 2>&1
"$BIN/mlhep-root" gen --events 3000 --class background --seed 4 --out B.root >/dev/null 2>&1
GEN='"run", "event", "luminosityBlock", "genWeight", "LHE*", "nGenPart", "GenPart_*", "Jet_hadronFlavour", "Jet_partonFlavour"'
# NAME FILES-AND-LABELS PARAMS MODEL
wf() {
    printf '{"name": "%s", %s, "params": {"epochs": 3, "batch_size": 128, "chunk_size": 2000, "max_jagged_length": 3, "normalisation": "standard", %s}, "model": %s}\n' "$1" "$2" "$3" "$4" > "$1.json"
}
FL='"files": [{"path": "S.root", "label": 1, "scale": 0.4}, {"path": "B.root", "label": 0, "scale": 1.5}]'
FU='"files": [{"path": "S.root", "label": 1}, {"path": "B.root", "label": 0}]'
MLP='{"type": "mlp", "layers": [{"dense": 16, "activation": "relu"}, {"dense": 1, "activation": "sigmoid"}], "optimizer": {"adam": {"lr": 0.005}}}'
wf mlp_weighted "$FL" "\"weight\": \"genWeight * (0.5 + nJet / 4)\", \"test_fraction\": 0.25, \"exclude_branches\": [$GEN]" "$MLP"
wf gbdt_plain "$FU" "\"exclude_branches\": [$GEN]" '{"type": "gbdt", "trees": 20, "depth": 3}'
ML='"files": ["S.root", "B.root"], "labels": "nElectron"'
wf mlp_multiclass "$ML" "\"weight\": \"1 + MET_pt / 200\", \"exclude_branches\": [$GEN, \"Electron_*\", \"nLepton\"]" \
   '{"type": "mlp", "layers": [{"dense": 16, "activation": "relu"}, {"dense": 3, "activation": "softmax"}]}'
wf gbdt_multiclass "$ML" "\"exclude_branches\": [$GEN, \"Electron_*\", \"nLepton\"]" '{"type": "gbdt", "trees": 8, "depth": 3, "num_class": 3}'
RL='"files": ["S.root", "B.root"], "labels": "HT"'
wf mlp_regression "$RL" "\"weight\": \"1 + nJet\", \"exclude_branches\": [$GEN, \"HT\", \"ST\"]" \
   '{"type": "mlp", "layers": [{"dense": 16, "activation": "relu"}, {"dense": 1}], "loss": "mse", "optimizer": {"adam": {"lr": 0.01}}}'
wf gbdt_regression "$RL" "\"exclude_branches\": [$GEN, \"HT\", \"ST\"]" '{"type": "gbdt", "trees": 20, "depth": 3, "objective": "regression"}'
for n in mlp_weighted gbdt_plain mlp_multiclass gbdt_multiclass mlp_regression gbdt_regression; do
    if ! "$BIN/mlhep-run" --quiet --out "out/$n" "$n.json" > "$n.out" 2> "$n.err"; then
        bad "$n trains" "$(cat "$n.out" "$n.err" | tail -5)"
    fi
done
/usr/bin/python3 - <<'PY'
import json, os
import numpy as np
from scipy.stats import ks_2samp, kstwobign
from sklearn.metrics import (roc_auc_score, roc_curve, log_loss, accuracy_score, confusion_matrix,
                             mean_squared_error, mean_absolute_error)


def load(run):
    d = f"out/{run}"
    m = json.load(open(f"{d}/metrics.json"))
    sets = {k: np.load(f"{d}/scores_{k}.npy").astype(np.float64)
            for k in ("test", "validation", "train_sample") if os.path.exists(f"{d}/scores_{k}.npy")}
    return m, sets


def close(errs, what, ours, ref, tol=1e-9):
    if ours is None or not np.isfinite(ref) or abs(ours - ref) > tol * max(1.0, abs(ref)):
        errs.append(f"{what}: mlhep {ours!r} vs reference {ref!r}")


def ks_ref(a, wa, b, wb, weighted):
    """statistic and p-value: scipy's ks_2samp + kstwobign without weights, numpy with"""
    if not weighted:
        d = ks_2samp(a, b).statistic
        return d, kstwobign.sf(d * np.sqrt(len(a) * len(b) / (len(a) + len(b))))
    vals = np.unique(np.concatenate([a, b]))
    oa, ob = np.argsort(a, kind="stable"), np.argsort(b, kind="stable")
    ca = np.concatenate([[0], np.cumsum(wa[oa])])[np.searchsorted(a[oa], vals, side="right")] / wa.sum()
    cb = np.concatenate([[0], np.cumsum(wb[ob])])[np.searchsorted(b[ob], vals, side="right")] / wb.sum()
    d = np.abs(ca - cb).max()
    ea, eb = wa.sum() ** 2 / (wa ** 2).sum(), wb.sum() ** 2 / (wb ** 2).sum()
    return d, kstwobign.sf(d * np.sqrt(ea * eb / (ea + eb)))


def wp(y, s, w, eps):
    f, t, _ = roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    i = np.searchsorted(f, eps, side="right") - 1
    if i + 1 >= len(f) or f[i] >= eps:
        return t[i]
    return t[i] + (eps - f[i]) / (f[i + 1] - f[i]) * (t[i + 1] - t[i])


def check(run, task, weighted):
    errs = []
    m, sets = load(run)
    fin, val = m["final"], m["validation"]
    te = sets["test"] if fin["set"] == "test" else sets["validation"]
    y, w, S = te[:, 0], te[:, 1], te[:, 2:]
    if weighted and np.all(w == w[0]):
        errs.append("the weights are all equal: the weighted case is not exercised")
    if m["task"] != task:
        errs.append(f"task {m['task']} (want {task})")
    close(errs, "rows", fin["rows"], len(y), 0)
    if task == "binary":
        s = S[:, 0]
        close(errs, "test AUC", fin["auc"], roc_auc_score(y, s, sample_weight=w))
        close(errs, "test log loss", fin["loss"], log_loss(y, s, sample_weight=w))
        thr = fin["confusion"]["threshold"]
        close(errs, "test accuracy", fin["accuracy"], accuracy_score(y, s >= thr, sample_weight=w))
        tn, fp, fn, tp = confusion_matrix(y, s >= thr, labels=[0, 1], sample_weight=w).ravel()
        for k, ref in (("tn", tn), ("fp", fp), ("fn", fn), ("tp", tp)):
            close(errs, f"confusion {k}", fin["confusion"][k], ref, 1e-6)
        for p in fin["working_points"]:
            close(errs, f"signal efficiency at {p['background_efficiency']}", p["signal_efficiency"],
                  wp(y, s, w, p["background_efficiency"]))
        v = sets["validation"]
        close(errs, "validation AUC", val["auc"], roc_auc_score(v[:, 0], v[:, 2], sample_weight=v[:, 1]))
        if m["model"] == "mlp":
            close(errs, "last epoch's val_auc = the final model's", m["epochs"][-1]["val_auc"], val["auc"], 0)
    elif task == "multiclass":
        k = S.shape[1]
        pred = np.argmax(S, axis=1)
        close(errs, "accuracy", fin["accuracy"], accuracy_score(y, pred, sample_weight=w))
        close(errs, "cross-entropy", fin["loss"], log_loss(y, S, labels=list(range(k)), sample_weight=w), 1e-6)
        aucs = [roc_auc_score(y == c, S[:, c], sample_weight=w) for c in range(k)]
        for c in range(k):
            close(errs, f"one-vs-rest AUC {c}", fin["per_class"][c]["auc"], aucs[c])
        close(errs, "mean AUC", fin["auc"], np.mean(aucs))
        cm = confusion_matrix(y, pred, labels=list(range(k)), sample_weight=w)
        if np.abs(np.array(fin["confusion_matrix"]) - cm).max() > 1e-6 * max(1, cm.max()):
            errs.append(f"confusion matrix {fin['confusion_matrix']} vs sklearn {cm.tolist()}")
    else:
        p = S[:, 0]
        close(errs, "MSE", fin["mse"], mean_squared_error(y, p, sample_weight=w))
        close(errs, "MAE", fin["mae"], mean_absolute_error(y, p, sample_weight=w))
        r = p - y
        mu = np.average(r, weights=w)
        close(errs, "residual mean", fin["residual_mean"], mu)
        close(errs, "residual std", fin["residual_std"], np.sqrt(np.average((r - mu) ** 2, weights=w)), 1e-6)
    # the overtraining check against the training sample
    tr = sets["train_sample"]
    for i, c in enumerate(m["overtraining"]["classes"]):
        if task == "regression":
            a, wa, b, wb = tr[:, 2] - tr[:, 0], tr[:, 1], S[:, 0] - y, w
        else:
            cls = m["classes"].index(c["class"])
            col = 0 if task == "binary" else cls
            ia = (tr[:, 0] >= 0.5) == bool(cls) if task == "binary" else tr[:, 0] == cls
            ib = (y >= 0.5) == bool(cls) if task == "binary" else y == cls
            a, wa, b, wb = tr[ia, 2 + col], tr[ia, 1], S[ib, col], w[ib]
        d, p = ks_ref(a, wa, b, wb, weighted)
        close(errs, f"KS statistic ({c['class']})", c["ks_statistic"], d, 1e-9)
        close(errs, f"KS p-value ({c['class']})", c["ks_pvalue"], p, 1e-8)
    print(f"PASS {run}: metrics.json equals sklearn/scipy on the saved scores" if not errs
          else f"FAIL {run}: " + "; ".join(errs))


for run, task, weighted in (("mlp_weighted", "binary", True), ("gbdt_plain", "binary", False),
                            ("mlp_multiclass", "multiclass", True), ("gbdt_multiclass", "multiclass", False),
                            ("mlp_regression", "regression", True), ("gbdt_regression", "regression", False)):
    try:
        check(run, task, weighted)
    except Exception as ex:
        print(f"FAIL {run}: {type(ex).__name__}: {ex}")
PY
if ! grep -q "AddressSanitizer\|runtime error" ./*.err; then ok "sanitizer-clean"; else bad "sanitizer" "$(grep -A5 "AddressSanitizer\|runtime error" ./*.err | head -20)"; fi
