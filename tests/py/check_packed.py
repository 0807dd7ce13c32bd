#!/usr/bin/python3
"""Reads a file from `writegen --packed` back with `mlhep-root dump` and compares every
value with the writer's EXPECTED.json: the split object's members (tree Packed, names
obj.X -> obj/X) and the plain Double32_t/Float16_t leaves (tree Leaves), exactly or
within the JSON's absolute "tolerance"; also checks that no decoded value is further
than one packing step from the value before packing ("original").

usage: check_packed.py MLHEP_ROOT FILE.root EXPECTED.json"""
import json
import math
import struct
import subprocess
import sys

# Float16_t branches are float32 columns: `dump` prints 9 significant digits
FLOAT32 = {"obj.fF16", "obj.fF16r", "pf", "pq"}


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]

# one packing step of each member (range / 2^nbits; no range: relative float32/float16)
STEP = {"fS16": 16 / 2**16, "fPhi": 2 * math.pi / 2**20, "fF16r": 8 / 2**10, "fArr": 4 / 2**12,
        "fPi32": 2 * math.pi / 4294967295}


def dump(tool, path, tree, branch):
    out = subprocess.run([tool, "dump", path, "--tree", tree, "--branch", branch, "--csv"],
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"FAIL dump {tree}/{branch}: {out.stderr.strip()}")
    rows = []
    for line in out.stdout.splitlines()[1:]:
        v = line.split(",", 1)[1].strip('"')
        rows.append([float(x) for x in v.split(";")] if v else [])
    return rows


def main():
    tool, path, exp = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
    tol = exp.get("tolerance", {})
    bad = []
    for tree, group, prefix in (("Packed", "branches", "obj."), ("Leaves", "leaves", "")):
        for name, want in exp[group].items():
            got = dump(tool, path, tree, name.replace("obj.", "obj/") if prefix else name)
            if len(got) != len(want):
                bad.append(f"{tree}/{name}: {len(got)} entries, expected {len(want)}")
                continue
            t = tol.get(name, 0.0)
            orig = exp.get("original", {}).get(name)
            short = name[len(prefix):]
            for i, (g, w) in enumerate(zip(got, want)):
                w = w if isinstance(w, list) else [w]
                if name in FLOAT32:
                    g = [f32(a) for a in g]
                if len(g) != len(w) or any(not (a == b or abs(a - b) <= t) for a, b in zip(g, w)):
                    bad.append(f"{tree}/{name} entry {i}: got {g}, expected {w}")
                    break
                if orig is not None and short in STEP:
                    o = orig[i] if isinstance(orig[i], list) else [orig[i]]
                    if any(abs(a - b) > STEP[short] for a, b in zip(g, o)):
                        bad.append(f"{tree}/{name} entry {i}: {g} more than a step from the original {o}")
                        break
    for b in bad[:20]:
        print("  " + b)
    n = len(exp["branches"]) + len(exp["leaves"])
    print(f"{'FAIL' if bad else 'OK'} {n} packed branches read back")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
