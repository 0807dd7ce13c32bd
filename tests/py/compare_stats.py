#!/usr/bin/python3
"""Compares `mlhep-root stats` output with an oracle .expected.json (values read by
an independent reader). Prints one line per difference; exit 1 if any.

Rules (from ../shared/data/root/MANIFEST.md): every branch of every tree must be
present with the same kind; numeric branches (flat, fixed_array, jagged) must have the
same dtype and count, integer sums/min/max exactly, float sums to 1e-6 relative,
float min/max and the first 5 entries exactly."""
import json
import math
import sys


def same_value(a, b, dtype):
    if isinstance(b, bool) or isinstance(a, bool):
        return bool(a) == bool(b)
    if b is None or a is None:
        return a is None and b is None
    if dtype.startswith("float"):
        if isinstance(b, str) or isinstance(a, str):
            return str(a) == str(b)
        if isinstance(b, float) and math.isnan(b):
            return a is None or (isinstance(a, float) and math.isnan(a))
        return float(a) == float(b)
    return int(a) == int(b)


def same_nested(a, b, dtype):
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(same_nested(x, y, dtype) for x, y in zip(a, b))
    return same_value(a, b, dtype)


def main():
    got = json.load(open(sys.argv[1]))
    exp = json.load(open(sys.argv[2]))
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
                if eb.get(k) is not None and not same_value(b.get(k), eb[k], dt):
                    problems.append(f"{name}: {k} {b.get(k)!r}, expected {eb[k]!r}")
            if "first" in eb and not same_nested(b.get("first"), eb["first"], dt):
                problems.append(f"{name}: first {json.dumps(b.get('first'))[:200]}, expected {json.dumps(eb['first'])[:200]}")
    for p in problems[:60]:
        print("  " + p)
    if len(problems) > 60:
        print(f"  ... and {len(problems) - 60} more")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
