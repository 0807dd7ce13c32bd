#!/usr/bin/env bash
# roots:// with XRootD token (ztn) auth on loopback (issue 18): a real xrootd that accepts
# only ztn logins, over TLS (host certificate from a private CA made by openssl in the temp
# dir), validating WLCG/SciTokens with its SciTokens plugin (Debian package
# xrootd-scitokens-plugins). The issuer's EC public key is put in scitokens-cpp's key
# cache beforehand (tests/remote/scitoken.py), so no issuer is fetched over HTTPS.
# - with a token for the path (BEARER_TOKEN, BEARER_TOKEN_FILE) the read equals the
#   local one;
# - without a token, with an expired one, or one for another audience, the read fails
#   after ONE attempt (5 configured), saying whether a token was there to send and, for
#   a JWT, that it expired (never quoting it).
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../remote/server.sh"
. "$(dirname "$0")/../remote/pki.sh"
R="$BIN/mlhep-root"
SCI="$(dirname "$0")/../remote/scitoken.py"
command -v xrootd >/dev/null || { bad ztn_setup "xrootd not installed (deploy/packages.txt)"; exit 1; }
for so in libXrdSecztn-5.so libXrdAccSciTokens-5.so libSciTokens.so.0; do
    [ -e "/usr/lib/x86_64-linux-gnu/$so" ] || { bad ztn_setup "$so missing (packages xrootd-plugins, xrootd-scitokens-plugins: deploy/packages.txt)"; exit 1; }
done
XT=$(mktemp -d /tmp/mlhep-ztn.XXXXXX)
XPID=
trap '[ -n "$XPID" ] && kill "$XPID" 2>/dev/null; rm -rf "$TMP" "$XT"' EXIT
P=$TMP/pki; mkdir -p "$P"
pki_host "$P" "mlhep ztn test CA" 2>"$TMP/pki.err" || { bad ztn_setup "$(cat "$TMP/pki.err")"; exit 1; }
mk() { pki_openssl "$@" 2>"$TMP/pki.err" || { bad ztn_setup "$(cat "$TMP/pki.err")"; exit 1; }; }
# the token issuer's key (ES256)
mk ecparam -name prime256v1 -genkey -noout -out "$P/iss.ec"
mk pkey -in "$P/iss.ec" -out "$P/iss.key"
mk pkey -in "$P/iss.ec" -pubout -out "$P/iss.pub"
ISS=https://issuer.mlhep.test
mkdir -p "$XT/root/data" "$XT/admin" "$XT/run" "$XT/sec" "$XT/cache"
XDG_CACHE_HOME="$XT/cache" /usr/bin/python3 "$SCI" store "$ISS" k1 "$P/iss.pub" || { bad ztn_setup "cannot fill the scitokens key cache"; exit 1; }
tok() { /usr/bin/python3 "$SCI" token "$ISS" k1 "$P/iss.pub" "$P/iss.key" "$1" "$2" "$3" alice; }
GOOD=$(tok mlhep-test read:/ 600)
EXPIRED=$(tok mlhep-test read:/ -60)
OTHER=$(tok another-service read:/ 600)

cp "$DATA/uproot-HZZ.root" "$XT/root/data/"
cp -r "$P/cadir" "$P/host.pem" "$P/hostkey.pem" "$XT/sec/"
printf '[Global]\naudience = mlhep-test\n\n[Issuer mlhep]\nissuer = %s\nbase_path = /data\n' "$ISS" >"$XT/scitokens.cfg"
: >"$XT/authdb"
PORT=$(free_port)
cat >"$XT/x.cfg" <<CFG
xrd.port $PORT
xrd.network nodnr
xrd.tls $XT/sec/host.pem $XT/sec/hostkey.pem
xrd.tlsca certdir $XT/sec/cadir
xrootd.tls capable all
all.export /data
oss.localroot $XT/root
all.adminpath $XT/admin
all.pidpath $XT/run
xrootd.seclib libXrdSec.so
sec.protocol ztn
sec.protbind * only ztn
ofs.authorize 1
acc.authdb $XT/authdb
ofs.authlib ++ libXrdAccSciTokens.so config=$XT/scitokens.cfg
CFG
XDG_CACHE_HOME="$XT/cache" xrd_launch "$XT" "$XT/x.cfg" "$XT/x.log" "$PORT"; rc=$?; XPID=$XRD_PID
[ $rc = 0 ] || { bad ztn_setup "xrootd not listening: $(tail -5 "$XT"/t/*.log 2>/dev/null)"; exit 1; }
URL="roots://localhost:$PORT//data/uproot-HZZ.root"
"$R" stats "$DATA/uproot-HZZ.root" | jq -S 'del(.file)' >"$TMP/local.json"
export MLHEP_REMOTE_ATTEMPTS=5 MLHEP_REMOTE_BACKOFF_MS=1000 MLHEP_REMOTE_TIMEOUT=10 X509_CERT_DIR="$P/cadir"
unset BEARER_TOKEN BEARER_TOKEN_FILE MLHEP_HTTP_TOKEN X509_USER_PROXY
export XDG_RUNTIME_DIR="$TMP/run"; mkdir -p "$XDG_RUNTIME_DIR"   # no bt_u$UID token there
slog() { tail -n 4 "$XT"/t/*.log 2>/dev/null | tr '\n' ' '; }

out=$(BEARER_TOKEN="$GOOD" "$R" stats "$URL" 2>"$TMP/err"); rc=$?
[ $rc = 0 ] && echo "$out" | jq -S 'del(.file)' | cmp -s - "$TMP/local.json" \
    && ok "roots:// with ztn: a token for /data (BEARER_TOKEN) reads the file" || bad "ztn with BEARER_TOKEN" "rc=$rc $(cat "$TMP/err"); server: $(slog)"
printf '%s\n' "$GOOD" >"$TMP/bt"; chmod 600 "$TMP/bt"
out=$(BEARER_TOKEN_FILE="$TMP/bt" "$R" stats "$URL" 2>"$TMP/err"); rc=$?
[ $rc = 0 ] && echo "$out" | jq -S 'del(.file)' | cmp -s - "$TMP/local.json" \
    && ok "roots:// with ztn: the token from BEARER_TOKEN_FILE reads the file" || bad "ztn with BEARER_TOKEN_FILE" "rc=$rc $(cat "$TMP/err"); server: $(slog)"
t0=$SECONDS
out=$("$R" stats "$URL" 2>&1); rc=$?
[ $rc != 0 ] && [[ $out == *"Auth failed"*"BEARER_TOKEN_FILE / remote_token_path"* ]] && [[ $out != *attempts* ]] \
    && [[ $out == *"no bearer token for a token (ztn) login"* ]] \
    && ok "roots:// with ztn and no token: Auth failed after one attempt ($((SECONDS - t0)) s), saying no token was there: ${out:0:400}" \
    || bad "ztn without a token" "rc=$rc $out"
out=$(BEARER_TOKEN="$OTHER" "$R" stats "$URL" 2>&1); rc=$?
[ $rc != 0 ] && [[ $out == *"permission denied; a bearer token (BEARER_TOKEN) was there to send"* ]] && [[ $out != *attempts* ]] \
    && [[ $out != *"$OTHER"* ]] \
    && ok "roots:// with ztn and a token for another audience: refused after one attempt, the token not quoted: ${out:0:300}" \
    || bad "ztn wrong audience" "rc=$rc $out"
out=$(BEARER_TOKEN="$EXPIRED" "$R" stats "$URL" 2>&1); rc=$?
[ $rc != 0 ] && [[ $out == *"Auth failed"*"the bearer token (BEARER_TOKEN) expired at "*"renew it"* ]] && [[ $out != *attempts* ]] \
    && [[ $out != *"$EXPIRED"* ]] \
    && ok "roots:// with an expired token: the refusal says it expired: ${out:0:400}" || bad "ztn expired token" "rc=$rc $out"
