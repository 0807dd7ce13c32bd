# mlhep-root: listing, dump, and one-line errors with non-zero exits on bad input; gen
# (submit/gen_cmd.c): help, usage errors (exit 1, numbers checked by base/numarg), a
# nanoaod file written and read back.
. "$(dirname "$0")/../lib.sh"
R="$BIN/mlhep-root"
F="$DATA/uproot-HZZ.root"

out=$("$R" ls "$F") && echo "$out" | grep -q "tree events  (2421 entries, 51 branches)" \
    && echo "$out" | grep -Eq "Jet_Px +float32\[NJet\] +jagged +zlib" && ok "ls lists trees and branches" \
    || bad "ls lists trees and branches" "$out"

out=$("$R" ls "$DATA/uproot-nesteddirs.root") && echo "$out" | grep -q "tree one/two/tree" \
    && echo "$out" | grep -q "tree three/tree" && ok "ls finds trees in subdirectories" || bad "ls subdirectories" "$out"

out=$("$R" dump "$F" --tree events --branch Jet_Px --entries 0:4)
[ "$out" = "$(printf '0: []\n1: [-38.8747139]\n2: []\n3: [-71.6952133, 36.606369, -28.8664188]')" ] \
    && ok "dump jagged entries" || bad "dump jagged entries" "$out"

out=$("$R" dump "$F" --tree events --branch NJet --entries 2418: --csv)
[ "$out" = "$(printf 'entry,NJet\n2418,1\n2419,2\n2420,0')" ] && ok "dump csv tail range" || bad "dump csv" "$out"

# bad input: message names the file/tree/branch, exit code 2, no crash
expect_err() { # name, expected substring, command...
    local n=$1 want=$2; shift 2
    local err rc
    err=$("$@" 2>&1 >/dev/null); rc=$?
    if [ $rc = 2 ] && [ "$(echo "$err" | wc -l)" = 1 ] && echo "$err" | grep -qF "$want"; then ok "$n"; else bad "$n" "rc=$rc: $err"; fi
}
expect_err "missing file" "file /nonexistent.root: cannot open" "$R" ls /nonexistent.root
head -c 300 /etc/services > "$TMP/text.root"
expect_err "not a ROOT file" "not a ROOT file" "$R" ls "$TMP/text.root"
head -c 100000 "$F" > "$TMP/half.root"
expect_err "truncated file" "truncated" "$R" stats "$TMP/half.root"
expect_err "unknown tree" "tree 'Events' not found (trees: events)" "$R" dump "$F" --tree Events --branch NJet
expect_err "unknown branch" "branch 'Jet_pt' not found in tree 'events'" "$R" dump "$F" --tree events --branch Jet_pt
expect_err "string branch refused" "branch 'Type' cannot be read: string" "$R" dump "$DATA/uproot-Zmumu.root" --tree events --branch Type
"$R" frobnicate "$F" >/dev/null 2>&1; [ $? = 1 ] && ok "unknown command exits 1" || bad "unknown command" "exit code"

# --- gen: usage errors exit 1 with a message naming the option; a good run writes a file
expect_gen() { # name, expected substring, gen arguments...
    local n=$1 want=$2; shift 2
    local err rc
    err=$("$R" gen "$@" 2>&1 >/dev/null); rc=$?
    if [ $rc = 1 ] && echo "$err" | grep -qF -- "$want"; then ok "gen: $n"; else bad "gen: $n" "rc=$rc: $err"; fi
}
out=$("$R" gen --help) && echo "$out" | grep -q "usage: mlhep-root gen --events N" && ok "gen --help" || bad "gen --help" "$out"
expect_gen "--out required" "--events, --class and --out are required" --events 10 --class signal
expect_gen "bad class" "--class 'sig': expected signal or background" --events 10 --class sig --out "$TMP/x.root"
expect_gen "negative events" "--events: -3 is out of range" --events -3 --class signal --out "$TMP/x.root"
expect_gen "events not a number" "--events: 'abc' is not a whole number" --events abc --class signal --out "$TMP/x.root"
expect_gen "events with trailing text" "--events: '10k' is not a whole number" --events 10k --class signal --out "$TMP/x.root"
expect_gen "seed not a number" "--seed: '1.5' is not a whole number" --events 10 --class signal --seed 1.5 --out "$TMP/x.root"
expect_gen "cluster 0" "--cluster: 0 is out of range" --events 10 --class signal --cluster 0 --out "$TMP/x.root"
expect_gen "unknown option" "unknown option --frobnicate" --frobnicate 1
expect_gen "option without value" "--events needs a value" --events
[ ! -e "$TMP/x.root" ] && ok "gen: nothing written on usage errors" || bad "gen: usage errors" "$TMP/x.root written"
out=$("$R" gen --events 300 --class background --out "$TMP/g.root" --seed 9 --compression lz4:4 --preset nanoaod 2>/dev/null); rc=$?
ls_out=$("$R" ls "$TMP/g.root" 2>&1)
nb=$(echo "$ls_out" | sed -n 's/.*tree Events  (300 entries, \([0-9]*\) branches).*/\1/p')
if [ $rc = 0 ] && [[ $out == "wrote 300 background events to $TMP/g.root: "* ]] && [ "${nb:-0}" -gt 150 ]; then ok "gen: nanoaod file of 300 events, $nb branches, read back"; else bad "gen: good run" "rc=$rc out=$out ls=$ls_out"; fi
