# Oracle test: `mlhep-root stats` on every ROOT file in ../shared/data/root and
# ../shared/data/root-wild (files from real experiments' software) must reproduce the
# values of its .expected.json (read by an independent reader; known errors of that
# reader are listed, with the evidence, in tests/py/compare_stats.py ERRATA).
. "$(dirname "$0")/../lib.sh"
n=0
for exp in "$DATA"/*.expected.json "$DATA/../root-wild"/*.expected.json; do
    f=${exp%.expected.json}.root
    name=$(basename "$f")
    n=$((n + 1))
    if ! "$BIN/mlhep-root" stats "$f" >"$TMP/out.json" 2>"$TMP/err"; then
        bad "oracle $name" "mlhep-root stats failed: $(cat "$TMP/err")"
        continue
    fi
    if /usr/bin/python3 "$MLHEP_TOP/tests/py/compare_stats.py" "$TMP/out.json" "$exp" >"$TMP/diff"; then
        ok "oracle $name"
    else
        cat "$TMP/diff"
        bad "oracle $name" "values differ from $(basename "$exp")"
    fi
done
[ "$n" -gt 0 ] || bad "oracle" "no .expected.json files found in $DATA"
