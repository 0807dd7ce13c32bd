"""onnx_ref.py DIR NAME... - checks mlhep's ONNX export (run by test_onnx.c).

For each NAME: loads DIR/NAME.onnx, runs onnx.checker.check_model (full check, with
shape inference), then evaluates the graph with a small numpy interpreter (weights read
from the initializers with onnx.numpy_helper) on DIR/NAME.in and compares with
mlp_predict's outputs in DIR/NAME.out (float32 little-endian). Prints one line per model
and exits non-zero on any failure, including a missing onnx module."""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def run_graph(g, x):
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in g.initializer}
    env[g.input[0].name] = x
    for n in g.node:
        a = attrs(n)
        i = [env[name] for name in n.input]
        op = n.op_type
        if op == "Gemm":
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
    return env[g.output[0].name]


def main():
    d, names = sys.argv[1], sys.argv[2:]
    bad = 0
    for name in names:
        try:
            model = onnx.load("%s/%s.onnx" % (d, name))
            onnx.checker.check_model(model, full_check=True)
            g = model.graph
            assert [v.name for v in g.input] == ["input"], "input name"
            assert [v.name for v in g.output] == ["output"], "output name"
            nin = g.input[0].type.tensor_type.shape.dim[1].dim_value
            nout = g.output[0].type.tensor_type.shape.dim[1].dim_value
            assert model.opset_import[0].version == 13
            x = np.fromfile("%s/%s.in" % (d, name), dtype="<f4").reshape(-1, nin)
            want = np.fromfile("%s/%s.out" % (d, name), dtype="<f4").reshape(-1, nout)
            got = run_graph(g, x.astype(np.float64))
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
