# Replays the saved fuzz corpus and every crash the fuzzers ever found
# (fuzz/corpus/NAME, fuzz/regress/NAME) through the sanitizer build of each target.
. "$(dirname "$0")/../lib.sh"
for r in "$MLHEP_TOP"/build/asan/fuzz/replay_*; do
    [ -x "$r" ] || continue
    name=${r##*/replay_}
    dirs=()
    for d in "$MLHEP_TOP/fuzz/corpus/$name" "$MLHEP_TOP/fuzz/regress/$name"; do [ -d "$d" ] && dirs+=("$d"); done
    if out=$("$r" "${dirs[@]}" 2>&1); then ok "fuzz replay $name ($(echo "$out" | tail -n1))"; else bad "fuzz replay $name" "$(echo "$out" | tail -n 20)"; fi
done
