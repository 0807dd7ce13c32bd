# svgplot_xml.sh - the sample plots written by the svgplot test binary are valid XML
# (Python's parser), are SVG, and hold the expected paths, labels and legends; numbers
# in path data and coordinates are finite.
. "$(dirname "$0")/../lib.sh"
gen="$MLHEP_TOP/build/asan/tests/test_svgplot"
if [ ! -x "$gen" ]; then bad "svgplot xml" "$gen not built"; exit 0; fi
if ! "$gen" --write "$TMP" >"$TMP/gen.log" 2>&1; then bad "svgplot xml: write samples" "$(tail -5 "$TMP/gen.log")"; exit 0; fi
/usr/bin/python3 - "$TMP" <<'PY'
import sys, re, math, xml.etree.ElementTree as ET
d = sys.argv[1]
NS = "{http://www.w3.org/2000/svg}"
def texts(root):
    return ["".join(t.itertext()) for t in root.iter(NS + "text")]
def check(name, cond, why):
    print(("PASS svgplot xml %s" % name) if cond else ("FAIL svgplot xml %s: %s" % (name, why)))
expect = {
    "loss.svg":       dict(series=2, hist=0, text=["Loss per epoch", "Epoch", "Binary cross-entropy", "train", "validation"]),
    "auc.svg":        dict(series=2, hist=0, text=["ROC AUC per epoch", "train", "validation"]),
    "roc.svg":        dict(series=2, hist=0, text=["ROC curve", "BDT (test), AUC = 0.8197", "MLP (test), AUC = 0.7692", "random, AUC = 0.5"], diagonal=1),
    "scores.svg":     dict(series=0, hist=2, text=["Classifier output (test set)", "signal", "background", "Normalised to unit area"]),
    "scores_log.svg": dict(series=0, hist=2, text=["Entries", "1000", "100"]),
    "feature.svg":    dict(series=0, hist=2, text=["Jet_pt[0]", "Jet_pt[0] [MeV]", "\u00d7103"]),
    "nasty.svg":      dict(series=1, hist=0, text=['nasty <title> & "quotes"', "x'", "y&", "<&\"'>", "no data"]),
    "empty.svg":      dict(series=0, hist=0, text=["no data"]),
}
num = re.compile(r"-?[0-9.]+(?:e[-+]?[0-9]+)?$")
for name, ex in expect.items():
    try:
        root = ET.parse(f"{d}/{name}").getroot()
    except Exception as e:
        check(name, False, f"not valid XML: {e}"); continue
    check(name + " is svg", root.tag == NS + "svg" and root.get("viewBox"), f"root {root.tag}")
    paths = list(root.iter(NS + "path"))
    ns = sum(p.get("class") == "series" for p in paths)
    nh = sum(p.get("class") == "hist" for p in paths)
    check(name + " paths", ns == ex["series"] and nh == ex["hist"], f"{ns} series, {nh} hist paths")
    tx = texts(root)
    missing = [t for t in ex["text"] if t not in tx]
    check(name + " labels", not missing, f"missing texts {missing}; have {tx[:40]}")
    if "diagonal" in ex:
        check(name + " diagonal", any(l.get("class") == "diagonal" for l in root.iter(NS + "line")), "no diagonal")
    bad = []
    for el in root.iter():
        for k, v in el.attrib.items():
            if k in ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "width", "height", "r"):
                if not num.match(v) or not math.isfinite(float(v)): bad.append((k, v))
            if k == "d":
                for tok in re.findall(r"[A-Za-z]|[^A-Za-z\s]+", v):
                    if tok not in "MLZ" and (not num.match(tok) or not math.isfinite(float(tok))): bad.append((k, tok))
    check(name + " numbers", not bad, f"bad numbers {bad[:5]}")
PY
