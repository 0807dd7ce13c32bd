"""onnx_ref.py DIR NAME... - checks mlhep's ONNX export (run by test_onnx.c).

For each NAME: loads DIR/NAME.onnx, runs onnx.checker.check_model (full check, with
shape inference), then evaluates the graph with a small numpy interpreter (weights read
from the initializers with onnx.numpy_helper; the raw-row pre-processing Cast/Sub/Mul/
IsNaN/Where; ai.onnx.ml TreeEnsembleClassifier, its sums of leaf values taken in float32
in tree order) on DIR/NAME.in and compares with
the model's outputs in DIR/NAME.out (float32 little-endian). With DIR/NAME.margin (trees):
the sums of leaf values must equal gbdt_predict's margins bit for bit. A graph with the
pre-processing must carry the metadata test_onnx.c gave it. Prints one line per model
and exits non-zero on any failure, including a missing onnx module."""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def trees(a, x):
    """TreeEnsembleClassifier (binary, one class id): labels, probabilities, margins."""
    at = {}
    for k, v in a.items():
        at[k] = [b.decode() if isinstance(b, bytes) else b for b in v] if isinstance(v, list) else v
    idx = {(t, n): i for i, (t, n) in enumerate(zip(at["nodes_treeids"], at["nodes_nodeids"]))}
    leaf = {(t, n): np.float32(w) for t, n, w in zip(at["class_treeids"], at["class_nodeids"], at["class_weights"])}
    assert set(at["class_ids"]) == {0} and list(at["classlabels_int64s"]) == [0, 1]
    order = []
    for t in at["nodes_treeids"]:
        if t not in order:
            order.append(t)
    thr = np.array(at["nodes_values"], dtype=np.float32)
    sums = np.zeros(len(x), dtype=np.float32)
    for r, row in enumerate(x.astype(np.float32)):
        s = np.float32(0)
        for t in order:
            i = idx[(t, 0)]
            while at["nodes_modes"][i] != "LEAF":
                assert at["nodes_modes"][i] == "BRANCH_LT"
                v = row[at["nodes_featureids"][i]]
                go = bool(at["nodes_missing_value_tracks_true"][i]) if np.isnan(v) else bool(v < thr[i])
                i = idx[(t, at["nodes_truenodeids"][i] if go else at["nodes_falsenodeids"][i])]
            s = np.float32(s + leaf[(t, at["nodes_nodeids"][i])])
        sums[r] = s
    assert a["post_transform"] in (b"LOGISTIC", "LOGISTIC")
    p = 1 / (1 + np.exp(-sums.astype(np.float64)))
    return (p > 0.5).astype(np.int64), np.stack([1 - p, p], axis=1), sums


def run_graph(g, x):
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in g.initializer}
    ints = {t.name: numpy_helper.to_array(t) for t in g.initializer if t.data_type == onnx.TensorProto.INT64}
    env.update(ints)
    env[g.input[0].name] = x
    for n in g.node:
        a = attrs(n)
        i = [env[name] for name in n.input]
        op = n.op_type
        if op == "TreeEnsembleClassifier":
            assert n.domain == "ai.onnx.ml"
            lab, prob, sums = trees(a, i[0])
            env[n.output[0]], env[n.output[1]], env["__margin__"] = lab, prob, sums
            continue
        if op == "Cast":
            y = i[0].astype(np.float32 if a["to"] == onnx.TensorProto.FLOAT else np.float64).astype(np.float64)
        elif op == "Sub":
            y = i[0] - i[1]
        elif op == "Mul":
            y = i[0] * i[1]
        elif op == "IsNaN":
            y = np.isnan(i[0])
        elif op == "Where":
            y = np.where(i[0], i[1], i[2])
        elif op == "Slice":
            y = i[0]
            for st, en, ax in zip(i[1], i[2], i[3]):
                sl = [slice(None)] * y.ndim
                sl[int(ax)] = slice(int(st), int(en))
                y = y[tuple(sl)]
        elif op == "Gemm":
            A = i[0].T if a.get("transA", 0) else i[0]
            B = i[1].T if a.get("transB", 0) else i[1]
            y = a.get("alpha", 1.0) * (A @ B)
            if len(i) > 2:
                y = y + a.get("beta", 1.0) * i[2]
        elif op == "MatMul":
            y = i[0] @ i[1]
        elif op == "Add":
            y = i[0] + i[1]
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "LeakyRelu":
            al = a.get("alpha", 0.01)
            y = np.where(i[0] > 0, i[0], al * i[0])
        elif op == "Elu":
            al = a.get("alpha", 1.0)
            y = np.where(i[0] > 0, i[0], al * np.expm1(np.minimum(i[0], 0)))
        elif op == "Tanh":
            y = np.tanh(i[0])
        elif op == "Sigmoid":
            y = 1 / (1 + np.exp(-i[0]))
        elif op == "Softmax":
            ax = a.get("axis", -1)
            z = np.exp(i[0] - i[0].max(axis=ax, keepdims=True))
            y = z / z.sum(axis=ax, keepdims=True)
        elif op == "BatchNormalization":
            eps = a.get("epsilon", 1e-5)
            xx, s, b, m, v = i
            y = s * (xx - m) / np.sqrt(v + eps) + b
        elif op == "Identity":
            y = i[0]
        else:
            raise RuntimeError("op %s not handled by the reference" % op)
        env[n.output[0]] = y
    return env[g.output[0].name], env.get("__margin__")


def main():
    d, names = sys.argv[1], sys.argv[2:]
    bad = 0
    for name in names:
        try:
            model = onnx.load("%s/%s.onnx" % (d, name))
            onnx.checker.check_model(model, full_check=True)
            g = model.graph
            assert [v.name for v in g.input] == ["input"], "input name"
            is_trees = any(nd.op_type == "TreeEnsembleClassifier" for nd in g.node)
            want_out = ["output", "label", "probabilities"] if is_trees else ["output"]
            assert [v.name for v in g.output] == want_out, "output names"
            if is_trees:
                assert [(o.domain, o.version) for o in model.opset_import] == [("", 13), ("ai.onnx.ml", 1)]
            if any(t.name == "prep_sub" for t in g.initializer):
                meta = {p.key: p.value for p in model.metadata_props}
                assert meta == {"test.key": "test value", "mlhep.version": "x"}, "metadata %s" % meta
                assert g.doc_string == "doc" and g.input[0].doc_string == "raw values", "doc strings"
            nin = g.input[0].type.tensor_type.shape.dim[1].dim_value
            nout = g.output[0].type.tensor_type.shape.dim[1].dim_value
            assert model.opset_import[0].version == 13
            x = np.fromfile("%s/%s.in" % (d, name), dtype="<f4").reshape(-1, nin)
            want = np.fromfile("%s/%s.out" % (d, name), dtype="<f4").reshape(-1, nout)
            got, sums = run_graph(g, x.astype(np.float64))
            try:
                margin = np.fromfile("%s/%s.margin" % (d, name), dtype="<f4")
            except FileNotFoundError:
                margin = None
            if margin is not None:
                same = int(np.sum(margin.view(np.uint32) == sums.view(np.uint32)))
                assert same == len(margin), "sums of leaf values: %d of %d rows bit-identical" % (same, len(margin))
            assert got.shape == want.shape, "shape %s vs %s" % (got.shape, want.shape)
            err = np.abs(got - want) / np.maximum(1.0, np.abs(want))
            ops = sorted(set(n.op_type for n in g.node))
            if not np.all(err <= 1e-5):
                print("FAIL onnx %s: max error %.3g (ops %s)" % (name, err.max(), ",".join(ops)))
                bad += 1
            else:
                print("OK onnx %s: %d rows, max error %.3g, ops %s" % (name, len(x), err.max(), ",".join(ops)))
        except Exception as ex:  # noqa: BLE001 - report any failure as a test failure
            print("FAIL onnx %s: %s: %s" % (name, type(ex).__name__, ex))
            bad += 1
    sys.exit(1 if bad else 0)


main()
