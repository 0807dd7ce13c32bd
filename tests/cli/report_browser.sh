# report_browser.sh - report.html is one self-contained page that a real browser renders:
# mlhep-run trains a small MLP (input histograms on), then Debian's chromium, headless and
# offline, loads the page from disk and takes a screenshot. The page references no other
# file (every plot is an inline data: image) and the screenshot shows the plots: their
# curve colours (#1f5fbf, #d62728), which the page's own styles never use, cover many
# pixels. The DOM chromium built holds the metrics table and every plot. Needs chromium
# (deploy/packages.txt): missing is a failure, not a skip.
. "$(dirname "$0")/../lib.sh"
cd "$TMP" || exit 1
CHROMIUM=$(command -v chromium || command -v chromium-browser)
if [ -z "$CHROMIUM" ]; then bad "report in a browser" "chromium is not installed (deploy/packages.txt)"; exit 0; fi
"$BIN/mlhep-root" gen --events 2000 --class signal --seed 5 --out S.root >/dev/null 2>&1
"$BIN/mlhep-root" gen --events 2000 --class background --seed 6 --out B.root >/dev/null 2>&1
cat > wf.json <<'EOF'
{"name": "browser", "files": [{"path": "S.root", "label": 1}, {"path": "B.root", "label": 0}],
 "params": {"epochs": 2, "chunk_size": 2000, "max_jagged_length": 2, "hist": "hists", "log_scale": true,
            "weight": "genWeight", "selected_branches": ["nJet", "nBJet", "HT", "MET_pt", "Jet_pt", "Jet_btagDeepB", "HLT_IsoMu24"]},
 "model": {"type": "mlp", "layers": [{"dense": 8, "activation": "relu"}, {"dense": 1, "activation": "sigmoid"}]}}
EOF
if ! "$BIN/mlhep-run" --quiet --out run wf.json > run.out 2> run.err; then bad "training for the report" "$(tail -5 run.err)"; exit 0; fi
page=$TMP/run/report.html
# self-contained: no src/href to another file except the links to the plots' own files
if grep -o 'src="[^"]*"' "$page" | grep -v '^src="data:image/svg+xml;base64,' | grep -q .; then
    bad "report.html is self-contained" "$(grep -o 'src="[^"]*"' "$page" | grep -v data: | head -3)"
else
    ok "report.html is self-contained ($(grep -o 'src="data:image/svg+xml' "$page" | wc -l) inline plots)"
fi
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --user-data-dir="$TMP/chromium" --window-size=1400,5000)
timeout 120 "$CHROMIUM" "${flags[@]}" --screenshot="$TMP/report.png" "file://$page" > shot.log 2>&1
timeout 120 "$CHROMIUM" "${flags[@]}" --dump-dom "file://$page" > dom.html 2> dom.log
if [ -s report.png ]; then ok "chromium rendered report.html to a screenshot"; else bad "screenshot" "$(tail -5 shot.log)"; exit 0; fi
/usr/bin/python3 - "$TMP/report.png" dom.html <<'PY'
import sys, struct, zlib
png, dom = sys.argv[1], open(sys.argv[2]).read()
data = open(png, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
bpp = {2: 3, 6: 4}[ctype]
raw, stride = zlib.decompress(idat), w * bpp
rows, prev, i = [], bytearray(stride), 0
for y in range(h):  # PNG filters 0-4
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line); prev = line
def near(px, col, tol=40):
    return all(abs(px[k] - col[k]) <= tol for k in range(3))
blue = red = ink = 0
for line in rows[::2]:
    for x in range(0, stride, bpp * 2):
        px = line[x:x + 3]
        blue += near(px, (31, 95, 191)); red += near(px, (214, 39, 40)); ink += sum(px) < 600
ok = blue > 2000 and red > 200 and ink > 20000
print(("PASS" if ok else "FAIL") + f" screenshot {w}x{h} shows the plots: {blue} blue and {red} red curve pixels, {ink} inked (sampled every 2nd pixel)")
need = ["Training report: browser", "test set (final)", "Overtraining check", "Feature ranking", "Input correlations", "Inputs"]
miss = [t for t in need if t not in dom]
nimg = dom.count('src="data:image/svg+xml;base64,')
print(("PASS" if not miss and nimg >= 12 else "FAIL") + f" the DOM chromium built has the metrics and ranking tables and {nimg} inline plots" + (f"; missing {miss}" if miss else ""))
PY
