#!/usr/bin/env python3
"""docs/keys_table.py - the table of every workflow and model key (name, type, default,
range, meaning), generated from schemas/workflow.schema.json, the one place where the
keys, their ranges and their defaults are written.

    python3 docs/keys_table.py           print the table (Markdown)
    python3 docs/keys_table.py --write   replace the table in docs/training.md
    python3 docs/keys_table.py --check   exit 1 (naming the first difference) when
                                         docs/training.md's table is not the schema's

The table sits in docs/training.md between the lines "<!-- keys:begin -->" and
"<!-- keys:end -->"; tests/cli/docs_keys.sh runs --check, so the documentation cannot
drift from the schema."""
import json
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = os.path.join(TOP, "schemas", "workflow.schema.json")
DOC = os.path.join(TOP, "docs", "training.md")
BEGIN, END = "<!-- keys:begin -->", "<!-- keys:end -->"


def load():
    with open(SCHEMA) as f:
        return json.load(f)


def resolve(schema, node):
    """follows $ref (local) until a node without one; siblings of $ref override"""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 20:
        ref = node["$ref"]
        target = schema
        for tok in ref[2:].split("/"):
            target = target[tok.replace("~1", "/").replace("~0", "~")]
        merged = dict(target)
        merged.update({k: v for k, v in node.items() if k != "$ref"})
        node = merged
        seen += 1
    return node


def num(x):
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        x = int(x)
    if isinstance(x, (int, float)) and abs(x) >= 1e6:
        return "%g" % x
    return json.dumps(x)


def type_of(schema, n):
    n = resolve(schema, n)
    if "enum" in n:
        kinds = sorted({type(v).__name__ for v in n["enum"]})
        if kinds == ["str"]:
            return "string"
        return "/".join({"bool": "boolean", "int": "integer", "str": "string"}.get(k, k) for k in kinds)
    if "const" in n:
        return {bool: "boolean", int: "integer", str: "string"}.get(type(n["const"]), "value")
    t = n.get("type")
    if isinstance(t, list):
        return " or ".join(t)
    if t:
        if t == "array" and "items" in n:
            it = resolve(schema, n["items"]) if isinstance(n["items"], dict) else {}
            return "array of %s" % (type_of(schema, it) if it else "values")
        return t
    for k in ("anyOf", "oneOf"):
        if k in n:
            return " or ".join(dict.fromkeys(type_of(schema, a) for a in n[k]))
    return "value"


def range_of(schema, n):
    n = resolve(schema, n)
    parts = []
    if "enum" in n:
        parts.append(", ".join(num(v) for v in n["enum"]))
    if "const" in n:
        parts.append(num(n["const"]))
    lo = "[" + num(n["minimum"]) if "minimum" in n else "(" + num(n["exclusiveMinimum"]) if "exclusiveMinimum" in n else None
    hi = num(n["maximum"]) + "]" if "maximum" in n else num(n["exclusiveMaximum"]) + ")" if "exclusiveMaximum" in n else None
    if lo or hi:
        parts.append("%s, %s" % (lo or "(-inf", hi or "inf)"))
    if "minLength" in n or "maxLength" in n:
        parts.append("%s..%s characters" % (n.get("minLength", 0), n.get("maxLength", "")))
    if "minItems" in n or "maxItems" in n:
        parts.append("%s..%s items" % (n.get("minItems", 0), n.get("maxItems", "")))
    if "pattern" in n:
        parts.append("pattern `%s`" % n["pattern"].replace("|", "\\|"))
    if not parts:
        for k in ("anyOf", "oneOf"):
            if k in n:
                sub = [range_of(schema, a) for a in n[k]]
                sub = [s for s in sub if s]
                if sub:
                    parts.append(" or ".join(dict.fromkeys(sub)))
    return "; ".join(parts)


def cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def rows():
    s = load()
    d = s["$defs"]
    out = []

    def add(name, node, desc=None):
        r = resolve(s, node)
        dflt = num(r["default"]) if "default" in r else ""
        out.append((name, type_of(s, node), dflt, range_of(s, node), desc or r.get("description", "")))

    def obj(prefix, node):
        node = resolve(s, node)
        for k, v in node.get("properties", {}).items():
            add(prefix + k, v)
        for k, v in node.get("patternProperties", {}).items():
            add(prefix + k.strip("^$").replace("[0-9]+", "N"), v, resolve(s, v).get("description", "cut number N"))

    for k, v in s["properties"].items():
        if k in ("params", "preproc", "model"):
            add(k, v, {"params": "MLaaS4HEP params and mlhep's own (rows below)",
                       "preproc": "MLaaS4HEP pre-processing document (rows below)",
                       "model": "the model (rows below)"}[k])
            continue
        add(k, v)
    obj("files[].", d["fileEntry"])
    obj("params.", d["params"])
    obj("params.metrics.", d["metricsOptions"])
    for sec in ("new_branch", "flat_cut", "jagged_cut"):
        add("preproc." + sec, d["preproc"]["properties"][sec])
    obj("preproc.new_branch.NAME.", d["newBranch"])
    obj("preproc.flat_cut.NAME.", d["flatCut"])
    obj("preproc.jagged_cut.NAME.", d["jaggedCut"])
    obj("model.", d["mlp"])
    obj("model.layers[].", d["mlpLayer"])
    bn = [a for a in d["mlpLayer"]["properties"]["batchnorm"]["anyOf"] if a.get("type") == "object"][0]
    obj("model.layers[].batchnorm.", bn)
    opt = [a for a in d["optimizer"]["anyOf"] if "properties" in a][0]
    obj("model.optimizer.adam.", opt["properties"]["adam"])
    obj("model.optimizer.sgd.", opt["properties"]["sgd"])
    obj("model (gbdt).", d["gbdt"])
    return out


def table():
    lines = ["| key | type | default | range | meaning |", "|---|---|---|---|---|"]
    for name, t, dflt, rng, desc in rows():
        lines.append("| `%s` | %s | %s | %s | %s |" % (name, cell(t), cell(dflt and "`%s`" % dflt), cell(rng), cell(desc)))
    return "\n".join(lines) + "\n"


def main():
    t = table()
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode not in ("", "--write", "--check"):
        sys.exit(__doc__)
    if not mode:
        sys.stdout.write(t)
        return 0
    with open(DOC) as f:
        doc = f.read()
    if BEGIN not in doc or END not in doc:
        print("FAIL docs keys: %s has no %s ... %s section" % (DOC, BEGIN, END))
        return 1
    head, rest = doc.split(BEGIN, 1)
    old, tail = rest.split(END, 1)
    if mode == "--write":
        with open(DOC, "w") as f:
            f.write(head + BEGIN + "\n" + t + END + tail)
        return 0
    if old.strip() == t.strip():
        print("PASS docs keys: docs/training.md documents the %d keys of the workflow schema" % len(rows()))
        return 0
    want, have = t.strip().splitlines(), old.strip().splitlines()
    for i in range(max(len(want), len(have))):
        a = want[i] if i < len(want) else "(nothing)"
        b = have[i] if i < len(have) else "(nothing)"
        if a != b:
            print("FAIL docs keys: docs/training.md's key table differs from the schema at row %d:\n"
                  "  schema: %s\n  docs:   %s\n  (python3 docs/keys_table.py --write regenerates it)" % (i + 1, a, b))
            return 1
    return 1


if __name__ == "__main__":
    sys.exit(main())
