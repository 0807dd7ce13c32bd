#!/usr/bin/env python3
"""v2_request.py - a KServe / Open Inference Protocol v2 infer request from mlhep's JSON
"columns" request (tests/unit/test_predict.c writes one), for bench_gateway.sh.

    v2_request.py COLUMNS.json REPEAT OUT.body OUT.hlen [--json]

Each branch becomes one input named after it: a flat branch FP32 [N], a jagged branch
FP32 [N, L] with L the longest row, short rows padded with NaN (the gateway cuts a row
at its first NaN). The rows are the request's rows repeated REPEAT times. By default the
tensors travel as binary data (the binary tensor extension: OUT.body = JSON header +
raw little-endian float32 tensors, OUT.hlen = the header's length for the
Inference-Header-Content-Length header); with --json the values are in the JSON
"data" arrays (null for NaN) and OUT.hlen is 0."""
import json
import math
import struct
import sys


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    as_json = "--json" in sys.argv
    src, repeat, out_body, out_hlen = args[0], int(args[1]), args[2], args[3]
    cols = json.load(open(src))["columns"]
    inputs, blobs = [], []
    for name, values in cols.items():
        rows = values * repeat
        n = len(rows)
        jagged = any(isinstance(v, list) for v in rows)
        if jagged:
            width = max(1, max(len(v) for v in rows))
            flat = []
            for v in rows:
                flat.extend(float(x) for x in v)
                flat.extend([math.nan] * (width - len(v)))
            shape = [n, width]
        else:
            flat = [float(v) for v in rows]
            shape = [n]
        item = {"name": name, "datatype": "FP32", "shape": shape}
        if as_json:
            item["data"] = [None if math.isnan(x) else x for x in flat]
        else:
            blob = struct.pack("<%df" % len(flat), *flat)
            item["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        inputs.append(item)
    head = {"inputs": inputs}
    if not as_json:
        head["outputs"] = [{"name": "output", "parameters": {"binary_data": True}}]
    hj = json.dumps(head, separators=(",", ":")).encode()
    with open(out_body, "wb") as f:
        f.write(hj)
        for b in blobs:
            f.write(b)
    with open(out_hlen, "w") as f:
        f.write("%d\n" % (0 if as_json else len(hj)))


if __name__ == "__main__":
    main()
