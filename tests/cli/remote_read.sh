#!/usr/bin/env bash
# Remote reading (issue 8): a real xrootd (root:// and XrdHttp http://) serving
# ../shared/data/root from a temp dir; every file's `mlhep-root stats` through
# root:// and http:// must equal the local one (after removing "file"); ls and dump
# take URLs; the data layer (mlhep-prep) gives byte-identical arrays from remote
# files; missing files give "not found" messages naming the URL.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../remote/server.sh"
R="$BIN/mlhep-root"
if ! command -v xrootd >/dev/null; then bad remote_setup "xrootd not installed (deploy/packages.txt)"; exit 1; fi
trap 'xrd_stop; rm -rf "$TMP"' EXIT
# generated files for the data-layer check (xrd_start hands xrootd a copy it can read)
G="$TMP/gen"; mkdir -p "$G"
GEN="$MLHEP_TOP/bin/mlhep-root"; [ -x "$GEN" ] || GEN="$R"
"$GEN" gen --events 6000 --class signal --out "$G/s.root" --seed 1 >/dev/null 2>&1 &&
"$GEN" gen --events 6000 --class background --out "$G/b.root" --seed 2 >/dev/null 2>&1 || bad prep_gen "gen failed"
chmod 644 "$G"/*.root
xrd_start "$DATA" "$G" || { bad remote_setup "xrootd did not start"; exit 1; }
ROOTURL="root://localhost:$XRD_PORT//data"
HTTPURL="http://localhost:$HTTP_PORT/data"

# local references with the optimised build when there is one (the remote reads,
# which are under test, use $BIN: the sanitizer build); root:// and http:// in parallel
FAST="$MLHEP_TOP/bin/mlhep-root"; [ -x "$FAST" ] || FAST="$R"
n=0; fails=0
for f in "$DATA"/*.root; do
    b=$(basename "$f")
    "$FAST" stats "$f" | jq -S 'del(.file)' >"$TMP/local.json" || { bad "stats_local_$b" "local stats failed"; fails=$((fails+1)); continue; }
    "$R" stats "$ROOTURL/$b" >"$TMP/r.root" 2>"$TMP/e.root" & p1=$!
    "$R" stats "$HTTPURL/$b" >"$TMP/r.http" 2>"$TMP/e.http" & p2=$!
    wait $p1; rc1=$?; wait $p2; rc2=$?
    for pr in root:$rc1 http:$rc2; do
        p=${pr%%:*}; rc=${pr#*:}
        if [ "$rc" != 0 ] || ! jq -S 'del(.file)' "$TMP/r.$p" >"$TMP/remote.json"; then
            bad "stats_${p}_$b" "rc=$rc $(cat "$TMP/e.$p")"; fails=$((fails+1)); continue
        fi
        if ! cmp -s "$TMP/local.json" "$TMP/remote.json"; then
            bad "stats_${p}_$b" "differs from local: $(diff "$TMP/local.json" "$TMP/remote.json" | head -5)"
            fails=$((fails+1))
        fi
        n=$((n+1))
    done
done
[ "$fails" = 0 ] && [ "$n" -ge 30 ] && ok "stats_same_as_local_root_and_http ($n reads)"

# the "file" field is the URL
"$R" stats "$ROOTURL/uproot-HZZ.root" | jq -e --arg u "$ROOTURL/uproot-HZZ.root" '.file == $u' >/dev/null \
    && ok stats_file_field_is_url || bad stats_file_field_is_url "file field is not the URL"

# ls and dump through URLs
"$R" ls "$DATA/uproot-HZZ.root" | tail -n +2 >"$TMP/ls.local"
for u in "$ROOTURL" "$HTTPURL"; do
    "$R" ls "$u/uproot-HZZ.root" | tail -n +2 >"$TMP/ls.remote"
    cmp -s "$TMP/ls.local" "$TMP/ls.remote" && ok "ls_${u%%:*}" || bad "ls_${u%%:*}" "listing differs"
    "$R" dump "$u/uproot-HZZ.root" --tree events --branch Jet_Px --entries 0:50 --csv >"$TMP/d.remote" 2>&1
    "$R" dump "$DATA/uproot-HZZ.root" --tree events --branch Jet_Px --entries 0:50 --csv >"$TMP/d.local" 2>&1
    [ -s "$TMP/d.local" ] && cmp -s "$TMP/d.local" "$TMP/d.remote" && ok "dump_${u%%:*}" || bad "dump_${u%%:*}" "dump differs"
done

# missing file: clear, not retried
for u in "$ROOTURL/nope.root" "$HTTPURL/nope.root"; do
    out=$("$R" ls "$u" 2>&1); rc=$?
    if [ "$rc" = 2 ] && [[ "$out" == *"$u"* ]] && [[ "$out" == *"no such file"* || "$out" == *"404 Not Found"* ]] \
        && [[ "$out" != *attempts* ]]; then ok "missing_${u%%:*}"; else bad "missing_${u%%:*}" "rc=$rc: $out"; fi
done

# the data layer (workflow -> specs -> dataset -> evsource + readahead) over both
# protocols: same arrays as from the local files
cat >"$TMP/wl.json" <<J
{"name":"m","files":[{"path":"$G/s.root","label":1},{"path":"$G/b.root","label":0}],"params":{"chunk_size":-1}}
J
cat >"$TMP/wr.json" <<J
{"name":"m","files":[{"path":"root://localhost:$XRD_PORT//gen/s.root","label":1},{"path":"http://localhost:$HTTP_PORT/gen/b.root","label":0}],"params":{"chunk_size":-1}}
J
if "$BIN/mlhep-prep" "$TMP/wl.json" --out "$TMP/pl" >/dev/null 2>&1 && "$BIN/mlhep-prep" "$TMP/wr.json" --out "$TMP/pr" >"$TMP/prep.log" 2>&1; then
    same=1
    for f in "$TMP"/pl/*.npy; do cmp -s "$f" "$TMP/pr/$(basename "$f")" || { same=0; echo "  differs: $(basename "$f")"; }; done
    [ "$same" = 1 ] && ls "$TMP"/pl/*.npy >/dev/null 2>&1 && ok prep_remote_same_arrays || bad prep_remote_same_arrays "arrays differ"
else
    bad prep_remote_same_arrays "mlhep-prep failed: $(tail -3 "$TMP/prep.log")"
fi
