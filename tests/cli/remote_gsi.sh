#!/usr/bin/env bash
# root:// with GSI on loopback (issue 18, part 6): a real xrootd that accepts only GSI
# logins (host certificate from a private CA made by openssl in the temp dir), and an
# RFC 3820 proxy made from a user certificate of that CA:
# - with the proxy (X509_USER_PROXY, X509_CERT_DIR) the read equals the local one;
# - without a usable proxy the read fails after ONE attempt (5 configured) with "Auth
#   failed" and a hint naming the credential settings;
# - an expired proxy is said as such before XrdCl tries it;
# - the proxy reaches XrdCl in the URL (xrd.gsiusrpxy), not the environment; a URL
#   carrying its own xrd.* settings is refused;
# - one process, concurrent logins with different proxies (tests/remote/xrd_proxies.c):
#   each open logs in with the proxy its own access names.
# (The XRootD security plugins are in the Debian package xrootd-plugins.)
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../remote/server.sh"
. "$(dirname "$0")/../remote/pki.sh"
R="$BIN/mlhep-root"
command -v xrootd >/dev/null || { bad gsi_setup "xrootd not installed (deploy/packages.txt)"; exit 1; }
[ -e /usr/lib/x86_64-linux-gnu/libXrdSecgsi-5.so ] || { bad gsi_setup "libXrdSecgsi-5.so missing (package xrootd-plugins)"; exit 1; }
XT=$(mktemp -d /tmp/mlhep-gsi.XXXXXX)
XPID=
trap '[ -n "$XPID" ] && kill "$XPID" 2>/dev/null; rm -rf "$TMP" "$XT"' EXIT
P=$TMP/pki; mkdir -p "$P"
# a CA, the host's certificate, alice's certificate, her proxy and an expired one (valid on 2020-01-01 only)
{ pki_host "$P" "mlhep GSI test CA" && pki_user "$P"; } 2>"$TMP/pki.err" || { bad gsi_setup "$(cat "$TMP/pki.err")"; exit 1; }

# the server: GSI only
PORT=$(free_port)
xrd_gsi_conf "$XT" "$P" "$PORT" || { bad gsi_setup "cannot set up xrootd in $XT"; exit 1; }
cp "$DATA/uproot-HZZ.root" "$XT/root/data/"
xrd_launch "$XT" "$XT/x.cfg" "$XT/x.log" "$PORT"; rc=$?; XPID=$XRD_PID
[ $rc = 0 ] || { bad gsi_setup "xrootd not listening: $(tail -5 "$XT"/t/*.log 2>/dev/null)"; exit 1; }
URL="root://localhost:$PORT//data/uproot-HZZ.root"
"$R" stats "$DATA/uproot-HZZ.root" | jq -S 'del(.file)' >"$TMP/local.json"
export MLHEP_REMOTE_ATTEMPTS=5 MLHEP_REMOTE_BACKOFF_MS=1000 MLHEP_REMOTE_TIMEOUT=10
unset BEARER_TOKEN BEARER_TOKEN_FILE

# the GSI plugin leaks at login: its stacks only are suppressed (tests/remote/lsan-xrootd-gsi.supp)
SUPP="$(dirname "$0")/../remote/lsan-xrootd-gsi.supp"
out=$(LSAN_OPTIONS="suppressions=$SUPP" X509_USER_PROXY="$P/x509up" X509_CERT_DIR="$P/cadir" "$R" stats "$URL" 2>"$TMP/err"); rc=$?
[ $rc = 0 ] && echo "$out" | jq -S 'del(.file)' | cmp -s - "$TMP/local.json" && ok "root:// with GSI: a proxy from the private CA reads the file" \
    || bad "root:// with GSI" "rc=$rc $(cat "$TMP/err")"
out=$(X509_USER_PROXY="$TMP/none" X509_CERT_DIR="$P/cadir" "$R" stats "$URL" 2>&1); rc=$?
[ $rc != 0 ] && [[ $out == *"Auth failed"*"X509_USER_PROXY / remote_x509_proxy"* ]] && [[ $out != *attempts* ]] \
    && ok "root:// with GSI and no proxy: Auth failed after one attempt, naming the credential settings" \
    || bad "GSI without proxy" "rc=$rc $out"
out=$(X509_USER_PROXY="$P/x509up-expired" X509_CERT_DIR="$P/cadir" "$R" stats "$URL" 2>&1); rc=$?
[ $rc != 0 ] && [[ $out == *"X.509 proxy $P/x509up-expired expired at 2020-01-02 00:00:00 UTC"* ]] \
    && ok "root:// with an expired proxy: said as such" || bad "GSI expired proxy" "rc=$rc $out"
# the proxy reaches XrdCl in the URL only (xrd.gsiusrpxy), not through the environment:
# MLHEP_REMOTE_X509_PROXY with X509_USER_PROXY naming nothing
out=$(LSAN_OPTIONS="suppressions=$SUPP" X509_USER_PROXY="$TMP/none" MLHEP_REMOTE_X509_PROXY="$P/x509up" X509_CERT_DIR="$P/cadir" "$R" stats "$URL" 2>"$TMP/err"); rc=$?
[ $rc = 0 ] && echo "$out" | jq -S 'del(.file)' | cmp -s - "$TMP/local.json" \
    && ok "root:// with GSI: the proxy named in the URL (not the environment) logs in" || bad "GSI proxy in the URL" "rc=$rc $(cat "$TMP/err")"
out=$(X509_USER_PROXY="$P/x509up" X509_CERT_DIR="$P/cadir" "$R" stats "$URL?xrd.gsiusrpxy=$P/x509up" 2>&1); rc=$?
[ $rc != 0 ] && [[ $out == *"xrd.* / xrdcl.* settings in a root:// URL are not allowed"* ]] \
    && ok "a root:// URL naming its own XrdCl credential is refused" || bad "xrd CGI refused" "rc=$rc $out"
# one process, concurrent logins with different proxies (tests/remote/xrd_proxies.c):
# each open logs in with the proxy its own access names; an open with a missing proxy, or
# with none (the default path), right beside or after a good login, is refused
XP="$TMP/xrd_proxies"
if gcc -std=c17 -g -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
    -Icommon tests/remote/xrd_proxies.c build/asan/libmlhep.a -lz -llz4 -lzstd -llzma -lxxhash -ljansson -lcrypto -lssl \
    -lcurl -lXrdCl -lstdc++ -lm -lpthread -o "$XP" 2>"$TMP/cc.err"; then
    mkdir -p "$TMP/pp"
    [ -e "/tmp/x509up_u$(id -u)" ] && bad "xrd_proxies setup" "/tmp/x509up_u$(id -u) exists"
    out=$(env -u X509_USER_PROXY -u XrdSecGSIUSERPROXY LSAN_OPTIONS="suppressions=$SUPP" X509_CERT_DIR="$P/cadir" \
        MLHEP_REMOTE_ATTEMPTS=1 "$XP" "$URL" "$P/x509up" "$TMP/pp" 8 2>&1); rc=$?
    [ $rc = 0 ] && [ "$(grep -c 'own proxy read; missing proxy refused; no proxy refused$' <<<"$out")" = 8 ] \
        && ok "one process, 8 rounds of concurrent logins with different proxies: each open used its own" \
        || bad "concurrent proxies in one process" "rc=$rc $out"
else bad "xrd_proxies build" "$(head -c 600 "$TMP/cc.err")"; fi
