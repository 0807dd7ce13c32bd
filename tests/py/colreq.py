#!/usr/bin/python3
"""colreq.py - writes binary columnar prediction requests (common/infer/colreq.h, layout above
colreq_parse in common/infer/colreq.c) from a JSON "columns" request, independently of the C
writer, for the script tests: good requests and deliberately broken ones.

  colreq.py COLUMNS.json OUT.bin [--type f64|f32] [--mutate NAME]

Numbers go as float64 (exact: the same predictions as the JSON request) or float32.
Mutations (each must be refused by the worker with an error naming the problem):
  magic version flags zero-rows huge-cols truncated trailing offsets-start
  offsets-decrease offsets-end bad-type bad-kind empty-name unknown-branch
  missing-branch duplicate-branch flat-as-jagged jagged-as-flat
"""
import json
import struct
import sys

MUTATIONS = ("magic version flags zero-rows huge-cols truncated trailing offsets-start offsets-decrease "
             "offsets-end bad-type bad-kind empty-name unknown-branch missing-branch duplicate-branch "
             "flat-as-jagged jagged-as-flat").split()


def column(name, vals, nrows, fmt, tcode, mut):
    jagged = isinstance(vals[0], list)
    kind = 1 if jagged else 0
    if mut == "flat-as-jagged" and not jagged:
        vals, jagged, kind = [[v] for v in vals], True, 1
    elif mut == "jagged-as-flat" and jagged:
        vals, jagged, kind = [(v[0] if v else 0.0) for v in vals], False, 0
    nb = name.encode()
    out = struct.pack("<H", len(nb)) + nb + struct.pack("<BB", 99 if mut == "bad-type" else tcode,
                                                        2 if mut == "bad-kind" else kind)
    if jagged:
        offs = [0]
        for v in vals:
            offs.append(offs[-1] + len(v))
        flat = [x for v in vals for x in v]
        if mut == "offsets-start":
            offs[0] = 1
        if mut == "offsets-decrease" and nrows > 2:
            offs[1], offs[2] = offs[2] + 1, offs[2]
        if mut == "offsets-end":
            offs[-1] += 1
        out += struct.pack("<I", len(flat)) + struct.pack("<%dI" % (nrows + 1), *offs)
        out += struct.pack("<%d%s" % (len(flat), fmt), *flat)
    else:
        out += struct.pack("<%d%s" % (nrows, fmt), *vals)
    return out


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    src, dst = args[0], args[1]
    typ, mut = "f64", None
    if "--type" in args:
        typ = args[args.index("--type") + 1]
    if "--mutate" in args:
        mut = args[args.index("--mutate") + 1]
        if mut not in MUTATIONS:
            sys.exit("unknown mutation " + mut)
    fmt, tcode = {"f64": ("d", 11), "f32": ("f", 10)}[typ]
    doc = json.load(open(src))
    cols = list(doc["columns"].items())
    nrows = len(cols[0][1])
    model = doc.get("model", "m").encode()
    if mut == "unknown-branch":
        cols[0] = ("bogus", cols[0][1])
    if mut == "missing-branch":
        cols = [c for c in cols if c[0] != "NJet"]
    if mut == "duplicate-branch":
        cols.append(cols[0])
    body = b""
    first_flat = next(i for i, c in enumerate(cols) if not isinstance(c[1][0], list))
    first_jag = next(i for i, c in enumerate(cols) if isinstance(c[1][0], list))
    for i, (name, vals) in enumerate(cols):
        m = None
        if mut in ("bad-type", "bad-kind", "flat-as-jagged") and i == first_flat:
            m = mut
        if mut in ("offsets-start", "offsets-decrease", "offsets-end", "jagged-as-flat") and i == first_jag:
            m = mut
        if mut == "empty-name" and i == 0:
            name = ""
        body += column(name, vals, nrows, fmt, tcode, m)
    hdr = (b"MLHX" if mut == "magic" else b"MLHC") + struct.pack(
        "<HHIIH", 2 if mut == "version" else 1, 1 if mut == "flags" else 0, 0 if mut == "zero-rows" else nrows,
        4000000000 if mut == "huge-cols" else len(cols), len(model)) + model
    data = hdr + body
    if mut == "truncated":
        data = data[:-10]
    if mut == "trailing":
        data += b"xyz"
    open(dst, "wb").write(data)


if __name__ == "__main__":
    main()
