#!/usr/bin/python3
"""Compares `mlhep-root stats` output with an oracle .expected.json (values read by
an independent reader). Prints one line per difference; exit 1 if any.

Rules (from ../shared/data/root/MANIFEST.md): every branch of every tree must be
present with the same kind; numeric branches (flat, fixed_array, jagged) must have the
same dtype and count, integer sums/min/max exactly, float sums to 1e-6 relative,
float min/max and the first 5 entries exactly."""
import json
import math
import os
import sys

# Known errors of the oracle (uproot 5.7.1), by (file, tree:branch): the values of that
# branch are compared within `tol` instead of exactly, and also against `truth` (a
# branch of the same file holding the values before packing) within `truth_tol`.
# - uproot-demo-double32 d/fI32 is a Double32_t with range [-pi,pi,32]: ROOT packs and
#   unpacks it with 2^32-1 steps (TStreamerElement::GetRange: bigint = 0xffffffff for
#   32 bits), uproot unpacks it with 2^32, one step (2pi/2^32) off for large values.
#   d/fD64 holds the same values unpacked (ROOT's double32.C tutorial fills every member
#   from one value): ROOT's decoding is within half a step of it, uproot's is not.
STEP32 = 2 * math.pi / 4294967295
ERRATA = {
    ("uproot-demo-double32", "T:d/fI32"): {"tol": 1.01 * STEP32, "truth": "d/fD64", "truth_tol": 0.51 * STEP32},
}


def same_value(a, b, dtype, tol=0.0):
    if isinstance(b, bool) or isinstance(a, bool):
        return bool(a) == bool(b)
    if b is None or a is None:
        return a is None and b is None
    if dtype.startswith("float"):
        if isinstance(b, str) or isinstance(a, str):
            return str(a) == str(b)
        if isinstance(b, float) and math.isnan(b):
            return a is None or (isinstance(a, float) and math.isnan(a))
        return float(a) == float(b) or abs(float(a) - float(b)) <= tol
    return int(a) == int(b)


def same_nested(a, b, dtype, tol=0.0):
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(same_nested(x, y, dtype, tol) for x, y in zip(a, b))
    return same_value(a, b, dtype, tol)


def main():
    got = json.load(open(sys.argv[1]))
    exp = json.load(open(sys.argv[2]))
    stem = os.path.basename(sys.argv[2]).replace(".expected.json", "")
    problems = []
    gtrees = {t["path"]: t for t in got["trees"]}
    for et in exp["trees"]:
        gt = gtrees.get(et["path"])
        if gt is None:
            problems.append(f"tree {et['path']}: missing")
            continue
        if gt["num_entries"] != et["num_entries"]:
            problems.append(f"tree {et['path']}: {gt['num_entries']} entries, expected {et['num_entries']}")
        gb = {b["name"]: b for b in gt["branches"]}
        for eb in et["branches"]:
            name = f"{et['path']}:{eb['name']}"
            b = gb.get(eb["name"])
            if b is None:
                problems.append(f"{name}: missing")
                continue
            if b["kind"] != eb["kind"]:
                problems.append(f"{name}: kind {b['kind']}, expected {eb['kind']} ({b.get('reason', '')})")
                continue
            if eb["kind"] not in ("flat", "fixed_array", "jagged"):
                continue
            dt = eb["dtype"]
            errata = ERRATA.get((stem, name), {})
            tol = errata.get("tol", 0.0)
            if errata.get("truth"):
                ref = gb.get(errata["truth"])
                if ref is None or not same_nested(b.get("first"), ref.get("first"), dt, errata["truth_tol"]):
                    problems.append(f"{name}: first {b.get('first')} not within {errata['truth_tol']:.3g} of "
                                    f"{errata['truth']} {ref and ref.get('first')}")
            if b.get("dtype") != dt:
                problems.append(f"{name}: dtype {b.get('dtype')}, expected {dt}")
                continue
            if b["count"] != eb["count"]:
                problems.append(f"{name}: count {b['count']}, expected {eb['count']}")
            if dt.startswith("float"):
                s, es = b["sum"], eb["sum"]
                if not math.isclose(s, es, rel_tol=1e-6, abs_tol=1e-9 * max(1.0, abs(es))):
                    problems.append(f"{name}: sum {s!r}, expected {es!r}")
            elif int(b["sum"]) != int(eb["sum"]):
                problems.append(f"{name}: sum {b['sum']}, expected {eb['sum']}")
            for k in ("min", "max"):
                if eb.get(k) is not None and not same_value(b.get(k), eb[k], dt, tol):
                    problems.append(f"{name}: {k} {b.get(k)!r}, expected {eb[k]!r}")
            if "first" in eb and not same_nested(b.get("first"), eb["first"], dt, tol):
                problems.append(f"{name}: first {json.dumps(b.get('first'))[:200]}, expected {json.dumps(eb['first'])[:200]}")
    for p in problems[:60]:
        print("  " + p)
    if len(problems) > 60:
        print(f"  ... and {len(problems) - 60} more")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
