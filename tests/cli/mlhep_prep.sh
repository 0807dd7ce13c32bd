# mlhep_prep.sh - the data layer alone: mlhep-prep writes NumPy chunks (loadable by
# numpy, widths matching columns.txt), reuses specs.json when the inputs are unchanged,
# and with params.hist draws one SVG histogram per feature per class plus index.html
# whose row counts agree with the labels in the .npy files; a bad hist name is refused
# before anything is read. --format npy,hdf5,csv writes rows.h5 and rows.csv that h5py
# (python3-h5py) and python's csv read back bit for bit equal to the .npy files of the
# same run (HZZ with jagged slots, weights and three splits, gzip; Zmumu with identifiers);
# a bad format, a directory in the way and a full disk (a small tmpfs in a private mount
# namespace: needs root) give exit 1 / 3 and one line saying what to do.
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
# the second run reuses the specs
"$BIN/mlhep-prep" data/wf.json --out out > /dev/null 2> p2.err; rc=$?
if [ $rc = 0 ] && grep -q "specs: reusing out/specs.json (inputs unchanged)" p2.err; then ok "second run reuses specs.json"; else bad "specs reuse" "rc=$rc $(cat p2.err)"; fi
# a hist name leaving the output directory is refused (exit 2) before anything is written
sed 's/"hist": "plots"/"hist": ".."/' data/wf.json > data/bad.json
"$BIN/mlhep-prep" data/bad.json --out out2 > /dev/null 2> p3.err; rc=$?
if [ $rc = 2 ] && grep -q "/params/hist: must name a sub-directory" p3.err && [ ! -e out2 ]; then ok "hist '..' refused (exit 2), nothing written"; else bad "bad hist" "rc=$rc $(cat p3.err)"; fi
if ! grep -q "AddressSanitizer\|runtime error" p.err p2.err p3.err; then ok "sanitizer-clean"; else bad "sanitizer" "$(grep -A5 "AddressSanitizer\|runtime error" p.err p2.err p3.err | head -20)"; fi

# --- HDF5 and CSV (data/rowexport, base/h5table): one run writes .npy, rows.h5 and rows.csv;
# h5py and python's csv read back exactly the .npy values (rows, mask, labels, weights, ids,
# file, entry, split), with the feature names and normalisation as attributes
cat > data/wx.json <<'J'
{"name": "prepx", "tree": "events",
 "files": [{"path": "uproot-HZZ.root", "label": 1, "scale": 0.5}, {"path": "uproot-HZZ-zstd.root", "label": 0}],
 "params": {"chunk_size": 700, "weight": "1 + NJet", "validation_fraction": 0.2, "test_fraction": 0.1,
            "selected_branches": ["Jet_Px", "Jet_Py", "NJet", "MET_px", "MET_py"]}}
J
cp "$DATA/uproot-Zmumu.root" "$DATA/uproot-Zmumu-lz4.root" data/
cat > data/wz.json <<'J'
{"name": "prepz", "tree": "events",
 "files": [{"path": "uproot-Zmumu.root", "label": 1}, {"path": "uproot-Zmumu-lz4.root", "label": 0}],
 "params": {"chunk_size": 1000, "normalisation": "standard", "identifier": ["Run", "Event"],
            "selected_branches": ["E1", "px1", "py1", "pt1", "Q1"]}}
J
"$BIN/mlhep-prep" data/wx.json --out ox --format npy,hdf5,csv --gzip 4 > x.out 2> x.err; rcx=$?
"$BIN/mlhep-prep" data/wz.json --out oz --format hdf5,npy,csv > z.out 2> z.err; rcz=$?
cat > check_export.py <<'PY'
import csv, glob, json, sys
import h5py, numpy as np
d, gz, ids = sys.argv[1], sys.argv[2] == "gzip", [s for s in sys.argv[3].split(",") if s]
cols = open(d + "/columns.txt").read().split("\n")[:-1]
specs = json.load(open(d + "/specs.json"))
npy = {}
for k in ["x", "mask", "y", "w", "ids", "file", "entry", "split"]:
    fs = sorted(glob.glob(d + "/chunk_*_%s.npy" % k))
    if fs:
        npy[k] = np.concatenate([np.load(f) for f in fs])
n = len(npy["y"])
assert n > 1000 and len(glob.glob(d + "/chunk_*_x.npy")) > 1, n
f = h5py.File(d + "/rows.h5", "r")
pairs = {"rows": "x", "mask": "mask", "labels": "y", "weights": "w", "file": "file", "entry": "entry", "split": "split"}
if ids:
    pairs["ids"] = "ids"
assert sorted(f.keys()) == sorted(pairs), sorted(f.keys())
for h, k in pairs.items():
    a, b = f[h][...], npy[k]
    assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), (h, a.dtype, b.dtype, a.shape, b.shape)
    assert f[h].chunks is not None and (f[h].compression == "gzip") == gz, (h, f[h].chunks, f[h].compression)
r = f["rows"]
assert list(r.attrs["columns"]) == cols
assert list(r.attrs["features"]) == [ft["name"] for ft in specs["features"]]
assert np.array_equal(r.attrs["feature_min"], [ft["min"] for ft in specs["features"]])
assert np.array_equal(r.attrs["feature_std"], [ft["std"] for ft in specs["features"]])
assert r.attrs["normalisation"] in ("minmax", "standard") and len(r.attrs["sub"]) == len(r.attrs["scale"]) == len(cols)
assert f.attrs["format"] == "mlhep-rows" and f.attrs["tree"] == "events" and len(f.attrs["files"]) == 2
if ids:
    assert list(f["ids"].attrs["names"]) == ids
if not ids:  # the HZZ run: all three splits and weights that vary (scale x (1 + NJet))
    assert len(set(npy["split"].tolist())) == 3 and len(set(npy["w"].tolist())) > 2
# CSV: header, one line per event, float32 values exact
rows = list(csv.reader(open(d + "/rows.csv", newline="")))
assert rows[0] == cols + ["label", "weight"] + ids + ["file", "entry", "split"], rows[0]
assert len(rows) == n + 1
body = rows[1:]
W = len(cols)
x = np.array([[np.float32(v) for v in r[:W]] for r in body], dtype=np.float32)
assert x.tobytes() == npy["x"].tobytes()
assert np.array([np.float32(r[W]) for r in body], dtype=np.float32).tobytes() == npy["y"].tobytes()
assert np.array([np.float32(r[W + 1]) for r in body], dtype=np.float32).tobytes() == npy["w"].tobytes()
k = W + 2 + len(ids)
if ids:
    assert np.array([[int(v) for v in r[W + 2:k]] for r in body], dtype=np.int64).tobytes() == npy["ids"].tobytes()
assert [int(r[k]) for r in body] == npy["file"].tolist()
assert [int(r[k + 1]) for r in body] == npy["entry"].tolist()
assert [int(r[k + 2]) for r in body] == npy["split"].tolist()
print(n, W)
PY
if [ $rcx = 0 ] && out=$(/usr/bin/python3 check_export.py ox gzip "" 2>&1); then ok "HDF5 (gzip) and CSV == .npy bit for bit: rows, mask, labels, weights, file, entry, split; names and normalisation as attributes ($out)"; else bad "export HZZ" "rc=$rcx $out $(tail -3 x.err)"; fi
if [ $rcz = 0 ] && out=$(/usr/bin/python3 check_export.py oz plain "Run,Event" 2>&1); then ok "HDF5 and CSV with identifiers (Run, Event) == .npy bit for bit ($out)"; else bad "export Zmumu" "rc=$rcz $out $(tail -3 z.err)"; fi
# without npy in --format no .npy is written; a bad format is refused (exit 1)
"$BIN/mlhep-prep" data/wz.json --out oh --format hdf5 > /dev/null 2> h.err; rc=$?
if [ $rc = 0 ] && [ -s oh/rows.h5 ] && ! ls oh/*.npy >/dev/null 2>&1 && [ ! -e oh/rows.csv ]; then ok "--format hdf5 alone: rows.h5, no .npy, no CSV"; else bad "--format hdf5" "rc=$rc $(ls oh) $(tail -2 h.err)"; fi
"$BIN/mlhep-prep" data/wz.json --out ob --format npy,parquet > /dev/null 2> b.err; rc=$?
if [ $rc = 1 ] && grep -q "unknown format 'parquet' (expected npy, hdf5 or csv" b.err; then ok "--format parquet refused (exit 1)"; else bad "--format parquet" "rc=$rc $(cat b.err)"; fi
# write errors: a directory in the way of rows.h5; a full disk (a 256 KiB tmpfs in a private
# mount namespace): exit 3, one line naming the file, the reason and what to do
mkdir -p od/rows.h5
"$BIN/mlhep-prep" data/wz.json --out od --format hdf5 > /dev/null 2> d.err; rc=$?
if [ $rc = 3 ] && grep -q "^mlhep-prep: HDF5 file od/rows.h5: creating the file failed: Is a directory: a directory of that name is in the way" d.err; then ok "rows.h5 not writable (a directory): exit 3, says so"; else bad "rows.h5 directory" "rc=$rc $(tail -3 d.err)"; fi
if [ "$(id -u)" != 0 ] || ! command -v unshare > /dev/null; then
    bad "disk full" "needs root and unshare (a tmpfs in a private mount namespace)"
else
    mkdir -p small
    for fmt in hdf5 csv; do
        unshare -m sh -c "mount -t tmpfs -o size=256k tmpfs small && \"$BIN/mlhep-prep\" data/wx.json --out small/o --format $fmt" > /dev/null 2> "full_$fmt.err"; rc=$?
        what=$([ $fmt = hdf5 ] && echo "HDF5 file small/o/rows.h5" || echo "CSV file small/o/rows.csv")
        if [ $rc = 3 ] && grep -q "^mlhep-prep: $what: .*No space left on device: the disk is full; free some space or write elsewhere" "full_$fmt.err" &&
           ! grep -q "HDF5-DIAG\|AddressSanitizer\|runtime error\|infinite loop" "full_$fmt.err"; then
            ok "disk full ($fmt): exit 3, 'the disk is full; free some space or write elsewhere', clean exit"
        else bad "disk full $fmt" "rc=$rc $(tail -4 "full_$fmt.err")"; fi
    done
fi
if ! grep -q "AddressSanitizer\|runtime error\|HDF5-DIAG" x.err z.err h.err d.err; then ok "exports sanitizer-clean, no HDF5 diagnostics"; else bad "export sanitizer" "$(grep -A5 "AddressSanitizer\|runtime error\|HDF5-DIAG" x.err z.err h.err d.err | head -20)"; fi
