# Every program and subcommand answers --help (and -h) on stdout with exit 0: its
# options, an "example" section, and no pointer to a C header or source file (users
# read manuals, not headers). Every long option a program's parser accepts (its getopt
# table, or the "--name" literals its hand-written parser compares argv with, read from
# the source here) appears in its help, so an option added without documenting it
# fails this test.
. "$(dirname "$0")/../lib.sh"
TOP="${MLHEP_TOP:?}"

# options SOURCE...: the long options the sources accept (without --help)
options() {
    cat "$@" | python3 -c '
import re, sys
src = sys.stdin.read()
# a getopt table when the source has one; else the literals a hand-written parser
# compares argv with
opts = set(re.findall(r"\{\s*\"([a-z][a-z0-9-]*)\"\s*,\s*(?:required|no|optional)_argument", src))
if not opts:
    opts = {o[2:] for o in re.findall(r"strcmp\(\s*[A-Za-z_][A-Za-z0-9_\[\]+ ]*,\s*\"(--[a-z][a-z0-9-]*)\"\s*\)", src)}
opts.discard("help")
print("\n".join(sorted(opts)))'
}

# helps NAME OUTFILE COMMAND...: runs COMMAND --help and COMMAND -h; checks exit 0, the
# same text on stdout both ways, nothing on stderr, an example and no C file named
helps() {
    local name=$1 out=$2 rc rc2 err
    shift 2
    "$@" --help > "$out" 2> "$TMP/err"; rc=$?
    "$@" -h > "$TMP/h" 2>> "$TMP/err"; rc2=$?
    err=$(cat "$TMP/err")
    if [ $rc != 0 ] || [ $rc2 != 0 ] || [ -n "$err" ]; then
        bad "$name --help" "exit $rc (-h: $rc2), stderr: $err"; return
    fi
    if ! cmp -s "$out" "$TMP/h"; then bad "$name -h" "differs from --help"; return; fi
    if ! grep -qiE '^examples?:' "$out"; then bad "$name --help" "no example section: $(head -c 300 "$out")"; return; fi
    if ! grep -qE '^usage:' "$out"; then bad "$name --help" "no usage line"; return; fi
    local hdr
    hdr=$(grep -oE '[A-Za-z0-9_/-]+\.(h|c|cc)([^A-Za-z0-9_.]|$)' "$out" | head -3 | tr '\n' ' ')
    if [ -n "$hdr" ]; then bad "$name --help" "points to C files: $hdr"; return; fi
    ok "$name --help and -h: exit 0, usage, example, no C file named"
}

# documents NAME SOURCES HELPFILES: every option of SOURCES appears in one of HELPFILES
documents() {
    local name=$1 srcs=$2 helpfiles=$3 o missing="" n=0
    for o in $(options $srcs); do
        n=$((n + 1))
        # shellcheck disable=SC2086
        cat $helpfiles | grep -qE -- "--$o([^a-z0-9-]|$)" || missing="$missing --$o"
    done
    if [ $n = 0 ]; then bad "$name options" "no option found in $srcs (parser changed? update tests/cli/help.sh)"
    elif [ -n "$missing" ]; then bad "$name documents every option" "missing from --help:$missing"
    else ok "$name documents all $n options its parser accepts"; fi
}

S=$TOP/submit W=$TOP/worker
helps mlhep-run "$TMP/run" "$BIN/mlhep-run"
documents mlhep-run "$S/mlhep_run.c" "$TMP/run"
helps mlhep-prep "$TMP/prep" "$BIN/mlhep-prep"
documents mlhep-prep "$S/mlhep_prep.c" "$TMP/prep"
helps mlhep-root "$TMP/root" "$BIN/mlhep-root"
documents mlhep-root "$S/mlhep_root.c" "$TMP/root"
for c in ls stats dump; do helps "mlhep-root $c" "$TMP/root-$c" "$BIN/mlhep-root" "$c"; done
documents "mlhep-root stats" "$S/mlhep_root.c" "$TMP/root-stats $TMP/root-dump $TMP/root-ls"
helps "mlhep-root gen" "$TMP/gen" "$BIN/mlhep-root" gen
documents "mlhep-root gen" "$S/gen_cmd.c" "$TMP/gen"
helps mlhep-submit "$TMP/submit" "$BIN/mlhep-submit"
documents mlhep-submit "$S/mlhep_submit.c" "$TMP/submit"
for c in status watch list cancel result logs; do helps "mlhep-submit $c" "$TMP/submit-$c" "$BIN/mlhep-submit" "$c"; done
helps "mlhep-submit predict" "$TMP/predict" "$BIN/mlhep-submit" predict
helps "mlhep-submit models" "$TMP/models" "$BIN/mlhep-submit" models
documents "mlhep-submit predict/models" "$S/infer_cmd.c" "$TMP/predict $TMP/models"
helps mlhep-worker "$TMP/worker" "$BIN/mlhep-worker"
documents mlhep-worker "$W/mlhep_worker.c" "$TMP/worker"
helps mlhep-infer "$TMP/infer" "$BIN/mlhep-infer"
documents mlhep-infer "$W/mlhep_infer.c" "$TMP/infer"
helps mlhep-gateway "$TMP/gateway" "$BIN/mlhep-gateway"
documents mlhep-gateway "$S/mlhep_gateway.c" "$TMP/gateway"

# every program of bin/ is covered above (a new program needs its line here)
for p in "$BIN"/mlhep-*; do
    n=$(basename "$p")
    grep -q "helps $n " "$0" && continue
    bad "$n --help" "a program tests/cli/help.sh does not check"
done
ok "every program in \$BIN is checked"

# a subcommand's help is its own: predict's names --root, models' names features
grep -q -- "--root FILE" "$TMP/predict" && ! grep -q -- "--root" "$TMP/models" \
    && grep -q "features REF" "$TMP/models" && ok "predict and models each have their own help" \
    || bad "predict/models help" "$(head -3 "$TMP/predict") / $(head -3 "$TMP/models")"
grep -q "^usage: mlhep-submit \[options\] watch ID" "$TMP/submit-watch" && grep -q -- "--timeout SEC" "$TMP/submit-watch" \
    && ok "mlhep-submit watch --help is watch's" || bad "watch --help" "$(head -3 "$TMP/submit-watch")"
# the two timeouts have their own exit codes: 14 watch, 16 predict/models without a reply
grep -q "14 --timeout reached" "$TMP/submit-watch" && grep -q "16 no reply in time" "$TMP/predict" \
    && grep -q "16 no reply in time" "$TMP/models" && grep -q "16 predict/models: no reply" "$TMP/submit" \
    && ! grep -q "14 no reply" "$TMP/predict" && ok "exit 14 (watch --timeout) and 16 (no reply) documented apart" \
    || bad "exit codes 14/16" "$(grep -h '1[46]' "$TMP/predict" "$TMP/submit-watch" "$TMP/submit")"
