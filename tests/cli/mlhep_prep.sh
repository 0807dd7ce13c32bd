# mlhep_prep.sh - the data layer alone: mlhep-prep writes NumPy chunks (loadable by
# numpy, widths matching columns.txt), reuses specs.json when the inputs are unchanged,
# and with params.hist draws one SVG histogram per feature per class plus index.html
# whose row counts agree with the labels in the .npy files; a bad hist name is refused
# before anything is read; progress: plain lines with the chunk total and an ETA off a
# TTY, a bar in a pseudo-terminal.
. "$(dirname "$0")/../lib.sh"
cd "$TMP" || exit 1
mkdir -p data && cp "$DATA/uproot-HZZ.root" "$DATA/uproot-HZZ-zstd.root" data/
cat > data/wf.json <<'J'
{"name": "prep", "tree": "events",
 "files": [{"path": "uproot-HZZ.root", "label": 1}, {"path": "uproot-HZZ-zstd.root", "label": 0}],
 "params": {"chunk_size": 1000, "hist": "plots", "selected_branches": ["Jet_Px", "Jet_Py", "NJet", "MET_px", "MET_py"]}}
J
"$BIN/mlhep-prep" data/wf.json --out out > p.out 2> p.err; rc=$?
if [ $rc = 0 ] && [ -s out/specs.json ] && [ -s out/columns.txt ] && ls out/chunk_0000_x.npy >/dev/null 2>&1; then ok "mlhep-prep: exit 0, specs.json, columns.txt, chunks"; else bad "prep run" "rc=$rc $(cat p.err)"; fi
nf=$(jq '.features | length' out/specs.json)
nsvg=$(ls out/plots/*.svg 2>/dev/null | wc -l)
if [ "$nf" -ge 4 ] && [ "$nsvg" = "$nf" ] && grep -q "hist: $nf feature histograms in out/plots" p.err; then ok "one histogram per feature ($nsvg)"; else bad "hist files" "features=$nf svgs=$nsvg $(cat p.err)"; fi
if /usr/bin/python3 - out <<'PY'
import sys, glob, re, numpy as np
d = sys.argv[1]
cols = open(d + "/columns.txt").read().split("\n")[:-1]
sig = bkg = 0
for xf in sorted(glob.glob(d + "/chunk_*_x.npy")):
    x = np.load(xf); m = np.load(xf.replace("_x", "_mask")); y = np.load(xf.replace("_x", "_y"))
    assert x.dtype == np.float32 and x.shape[1] == len(cols) and m.shape == x.shape and y.shape == (x.shape[0],)
    sig += int((y > 0.5).sum()); bkg += int((y <= 0.5).sum())
html = open(d + "/plots/index.html").read()
s = int(re.search(r"signal (\d+)", html).group(1)); b = int(re.search(r"background (\d+)", html).group(1))
assert (s, b) == (sig, bkg), ((s, b), (sig, bkg))
for svg in glob.glob(d + "/plots/*.svg"):
    import xml.dom.minidom; xml.dom.minidom.parse(svg)
    assert svg.split("/")[-1] in html
PY
then ok "npy chunks load in numpy; index.html class counts match y.npy; every SVG parses and is linked"; else bad "numpy/html check" "$(ls out out/plots | head -20)"; fi
# progress: off a TTY plain lines (no carriage return), the chunk counter with its total
# and an ETA; on a pseudo-terminal (script) the bar redrawn in place
if ! grep -q $'\r' p.err && grep -q '^100% .*ETA [0-9]*s *chunks: 5/5 (4842 rows)$' p.err && grep -q '^100% .*specs: file 2/2, 2421/2421 entries$' p.err; then ok "progress without a TTY: plain lines, chunks N/total, ETA"; else bad "prep progress" "$(cat p.err)"; fi
script -qec "'$BIN/mlhep-prep' data/wf.json --out out-tty" /dev/null > tty.log 2>&1; rc=$?
if [ $rc = 0 ] && grep -q $'\r\\[[#.]*\\] *[0-9]*% .*ETA .*chunks: [0-9]/5 (' tty.log; then ok "progress on a TTY: a bar with ETA and chunks N/5"; else bad "prep tty" "rc=$rc $(head -c 400 tty.log)"; fi
# the second run reuses the specs
"$BIN/mlhep-prep" data/wf.json --out out > /dev/null 2> p2.err; rc=$?
if [ $rc = 0 ] && grep -q "specs: reusing out/specs.json (inputs unchanged)" p2.err; then ok "second run reuses specs.json"; else bad "specs reuse" "rc=$rc $(cat p2.err)"; fi
# a hist name leaving the output directory is refused (exit 2) before anything is written
sed 's/"hist": "plots"/"hist": ".."/' data/wf.json > data/bad.json
"$BIN/mlhep-prep" data/bad.json --out out2 > /dev/null 2> p3.err; rc=$?
if [ $rc = 2 ] && grep -q "/params/hist: must name a sub-directory" p3.err && [ ! -e out2 ]; then ok "hist '..' refused (exit 2), nothing written"; else bad "bad hist" "rc=$rc $(cat p3.err)"; fi
if ! grep -q "AddressSanitizer\|runtime error" p.err p2.err p3.err tty.log; then ok "sanitizer-clean"; else bad "sanitizer" "$(grep -A5 "AddressSanitizer\|runtime error" p.err p2.err p3.err | head -20)"; fi
