#!/usr/bin/env bash
# gateway_browser.sh - the web dashboard (submit/web/, served by mlhep-gateway at /) in a
# real browser: Debian's chromium, headless, driven by npm playwright-core
# (tests/browser/dashboard.mjs; installed into tests/browser/node_modules by
# tests/browser/install.sh with `npm ci`, no browser download). One stack
# (deploy/local/up.sh, 1 worker, 1 inference worker, free ports, stopped by PID on exit),
# served over HTTPS: the stack's private CA (STATE/tls/ca.pem) is trusted in a fresh NSS
# database under a private $HOME for chromium (certutil, Debian libnss3-tools), so
# certificate checking stays on. The browser signs in with alice's token, submits a
# training job through the page, follows it to "succeeded", sees the ROC plot and the
# validation AUC, downloads artifacts, tags a model; a sleep job shows live progress and
# is cancelled; bob does not see alice's job; a bad workflow shows the gateway's error.
# Screenshot of the job page: build/gateway_browser/job-page.png.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../service_lib.sh"

for tool in node npm /usr/bin/chromium certutil; do
    command -v "$tool" >/dev/null || { bad browser_setup "$tool is missing (make deps installs deploy/packages.txt)"; exit 1; }
done
if ! "$TOP/tests/browser/install.sh" > "$TMP/npm.log" 2>&1; then
    bad browser_setup "npm ci in tests/browser failed: $(tail -n 3 "$TMP/npm.log" | tr '\n' ' ')"; exit 1
fi
ok "browser_setup (chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), playwright-core $(node -p 'require(process.argv[1]).version' "$TOP/tests/browser/node_modules/playwright-core/package.json"))"

svc_up --workers 1 --infer 1 --test-hooks # the sleep job of the live-progress check is a test hook
URL=$(cat "$S/gateway.url")
[[ $URL == https://* ]] || { bad "gateway over https" "gateway.url is $URL"; exit 1; }

# chromium reads trust anchors from $HOME/.pki/nssdb: a fresh one holding the stack's CA
H=$TMP/home
mkdir -p "$H/.pki/nssdb" "$TMP/tmp"
if ! { certutil -N -d "sql:$H/.pki/nssdb" --empty-password &&
       certutil -A -d "sql:$H/.pki/nssdb" -n "mlhep local CA" -t "C,," -i "$S/tls/ca.pem"; } > "$TMP/certutil.log" 2>&1; then
    bad "trust the local CA" "$(cat "$TMP/certutil.log")"; exit 1
fi

shots="$TOP/build/gateway_browser"
wf='{"name": "hzz", "files": [{"path": "uproot-HZZ.root", "label": 1}, {"path": "uproot-HZZ-zstd.root", "label": 0}],
 "tree": "events",
 "params": {"epochs": 2, "batch_size": 64, "selected_branches": ["NJet", "MET_px", "MET_py", "Jet_Px"]},
 "model": {"type": "mlp", "layers": [{"dense": 16, "activation": "relu"}, {"dense": 1, "activation": "sigmoid"}]}}'
# HOME: chromium's NSS database; TMPDIR: playwright's fresh --user-data-dir (removed with
# $TMP); NODE_EXTRA_CA_CERTS: the script's own fetch() to the gateway
HOME=$H TMPDIR=$TMP/tmp NODE_EXTRA_CA_CERTS=$S/tls/ca.pem GW_URL=$URL SHOTS=$shots \
    ALICE_TOKEN=$(cat "$S/users/alice.token") BOB_TOKEN=$(cat "$S/users/bob.token") WORKFLOW=$wf \
    timeout 240 node "$TOP/tests/browser/dashboard.mjs" 2>&1 | tee "$TMP/browser.log"
rc=${PIPESTATUS[0]}
if [ "$rc" != 0 ] && ! grep -q '^FAIL ' "$TMP/browser.log"; then
    bad "browser run" "node exited with $rc"
fi
if grep -q '^FAIL ' "$TMP/browser.log"; then
    echo "  gateway log:"; tail -n 20 "$S/logs/gateway.log" 2>/dev/null | sed 's/^/  /'
fi
