"""gen_rows.py MODEL.onnx OUTDIR N SEED - raw rows for an mlhep ONNX export (run by
tests/cli/onnx_runtime.sh with Debian's python3-onnx).

Checks the export first: onnx.checker with full checks (shape inference included), and
the metadata_props mlhep writes (mlhep.version, mlhep.features, mlhep.columns, mlhep.pad,
mlhep.input, mlhep.output, mlhep.kind); mlhep.columns must spell out the layout the
features document gives (flat features, then each jagged feature's len slots).
Then draws N events of raw branch values around each feature's range (from the features
document: below the minimum and above the maximum too); a jagged branch gets 0 .. len+2
values, so some rows leave slots empty and some are cut. Writes, in OUTDIR:
  req.json  a predict request {"rows": [{branch: value or [values]}]} for
            `mlhep-submit predict --local` (values are float32 numbers printed exactly)
  raw.bin   the same rows as the ONNX input: float32 little-endian N x width, flat
            values then each jagged branch's first len values, NaN where a list ends
  shape     "N width"
  margin.onnx  (boosted trees only) the same model with the classifier's post_transform
            NONE: its probabilities hold [-margin, margin], the sum of the leaf values
            before the logistic, for run_model.mjs's exact check
Prints one line: the model kind, version, width and the number of empty slots."""
import json
import sys

import numpy as np
import onnx


def main():
    path, out, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    meta = {p.key: p.value for p in model.metadata_props}
    for k in ("mlhep.version", "mlhep.kind", "mlhep.features", "mlhep.columns", "mlhep.pad", "mlhep.input",
              "mlhep.output"):
        assert k in meta and meta[k], "metadata %s missing" % k
    assert model.producer_name == "mlhep" and model.producer_version == meta["mlhep.version"]
    doc = json.loads(meta["mlhep.features"])
    feats, width = doc["features"], doc["width"]
    cols = []
    for f in feats:
        cols += [f["name"]] if f["kind"] == "flat" else ["%s[%d]" % (f["name"], k) for k in range(f["len"])]
    assert meta["mlhep.columns"].split(",") == cols, "mlhep.columns does not match the features"
    assert float(meta["mlhep.pad"]) == doc["pad"]
    g = model.graph
    assert [i.name for i in g.input] == ["input"]
    assert g.input[0].type.tensor_type.shape.dim[1].dim_value == width
    assert g.output[0].name == "output"
    rng = np.random.default_rng(seed)
    raw = np.full((n, width), np.nan, dtype=np.float32)
    rows, empty = [], 0
    for r in range(n):
        row = {}
        for f in feats:
            lo, hi = f["min"], f["max"]
            span = (hi - lo) or 1.0
            if f["kind"] == "flat":
                v = np.float32(rng.uniform(lo - 0.2 * span, hi + 0.2 * span))
                raw[r, f["offset"]] = v
                row[f["name"]] = float(v)
            else:
                k = int(rng.integers(0, f["len"] + 3))
                vs = rng.uniform(lo - 0.2 * span, hi + 0.2 * span, size=k).astype(np.float32)
                m = min(k, f["len"])
                raw[r, f["offset"]:f["offset"] + m] = vs[:m]
                empty += f["len"] - m
                row[f["name"]] = [float(x) for x in vs]
        rows.append(row)
    with open("%s/req.json" % out, "w") as fh:
        json.dump({"rows": rows}, fh)
    raw.astype("<f4").tofile("%s/raw.bin" % out)
    if meta["mlhep.kind"] == "gbdt":
        trees = [nd for nd in g.node if nd.op_type in ("TreeEnsembleClassifier", "TreeEnsembleRegressor")]
        assert len(trees) == 1 and trees[0].domain == "ai.onnx.ml"
        post = [a for a in trees[0].attribute if a.name == "post_transform"]
        assert len(post) == 1 and post[0].s in (b"LOGISTIC", b"SOFTMAX", b"NONE")
        if post[0].s == b"LOGISTIC":  # binary: the sums of the leaf values, for the exact check
            post[0].s = b"NONE"
            onnx.save(model, "%s/margin.onnx" % out)
    with open("%s/shape" % out, "w") as fh:
        fh.write("%d %d\n" % (n, width))
    print("%s model, mlhep %s, %d columns, %d rows, %d empty slots (NaN)" % (meta["mlhep.kind"], meta["mlhep.version"],
                                                                            width, n, empty))


main()
