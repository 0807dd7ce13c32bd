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

# typos: the closest name ("did you mean"), for branches as for trees (a case-only
# difference too)
expect_err "branch typo: did you mean" "branch 'Jet_pt' not found in tree 'events' (did you mean 'Jet_Px'?)" \
    "$R" dump "$F" --tree events --branch Jet_pt
expect_err "branch typo in a list" "branch 'MET_pxx' not found in tree 'events' (did you mean 'MET_px'?)" \
    "$R" dump "$F" --tree events --branch NJet,MET_pxx --csv
expect_err "tree typo: did you mean" "tree 'Events' not found (trees: events); did you mean 'events'?" \
    "$R" dump "$F" --tree Events --branch NJet
expect_err "nothing close: no suggestion" "branch 'Quark_mass' not found in tree 'events'" \
    "$R" dump "$F" --tree events --branch Quark_mass
err=$("$R" dump "$F" --tree events --branch Quark_mass 2>&1 >/dev/null)
[[ $err != *"did you mean"* ]] && ok "no suggestion when nothing is close" || bad "no suggestion" "$err"

# ranges that select nothing are usage errors (exit 1, mlhep-root's usage code), with
# nothing on stdout; a range ending past the tree's end stops at its last entry
expect_usage() { # name, expected substring, command...
    local n=$1 want=$2; shift 2
    local out err rc
    out=$("$@" 2>"$TMP/usage.err"); rc=$?; err=$(cat "$TMP/usage.err")
    if [ $rc = 1 ] && [ -z "$out" ] && [ "$(echo "$err" | wc -l)" = 1 ] && echo "$err" | grep -qF -- "$want"; then ok "$n"
    else bad "$n" "rc=$rc out=$out err=$err"; fi
}
expect_usage "reversed range 5:2 refused" "--entries 5:2 selects no entry: A:B means entries A to B-1" \
    "$R" dump "$F" --tree events --branch NJet --entries 5:2
expect_usage "empty range 5:5 refused" "--entries 5:5 selects no entry" "$R" dump "$F" --tree events --branch NJet --entries 5:5
expect_usage "empty range :0 refused" "--entries :0 selects no entry" "$R" dump "$F" --tree events --all --entries :0
expect_usage "range past the end refused" "--entries 2421: starts past the end: tree 'events' has 2421 entries (0 to 2420)" \
    "$R" dump "$F" --tree events --branch NJet --entries 2421:
expect_usage "range past the end refused (csv, several branches)" "--entries 5000:6000 starts past the end" \
    "$R" dump "$F" --tree events --branch NJet,MET_px --csv --entries 5000:6000
out=$("$R" dump "$F" --tree events --branch NJet --entries 2419:99999); rc=$?
[ $rc = 0 ] && [ "$out" = "$(printf '2419: 2\n2420: 0')" ] && ok "range end past the tree's end stops at the last entry" \
    || bad "range end clamped" "rc=$rc $out"
# options a command does not take, and a missing value, are refused (not ignored)
expect_usage "ls refuses --tree" "ls does not take --tree" "$R" ls "$F" --tree events
expect_usage "stats refuses --branch" "stats does not take --branch" "$R" stats "$F" --branch NJet
expect_usage "dump refuses --threads" "dump does not take --threads" "$R" dump "$F" --tree events --branch NJet --threads 2
expect_usage "option without value" "--branch needs a value" "$R" dump "$F" --tree events --branch
expect_usage "empty name in a list" "--branch 'NJet,': an empty name" "$R" dump "$F" --tree events --branch NJet,

# --csv with several branches: one table, one column each (comma list or --branch
# repeated); arrays and jagged branches one quoted column of ';'-separated values
want=$(printf 'entry,NJet,MET_px,Jet_Px\n0,0,5.91277122,""\n1,1,24.7652035,"-38.8747139"\n2,0,-25.7850876,""\n3,3,8.61989594,"-71.6952133;36.606369;-28.8664188"')
out=$("$R" dump "$F" --tree events --branch NJet,MET_px,Jet_Px --entries 0:4 --csv)
[ "$out" = "$want" ] && ok "csv of several branches (comma list)" || bad "csv of several branches" "$out"
out=$("$R" dump "$F" --tree events --branch NJet --branch MET_px --branch Jet_Px --entries 0:4 --csv)
[ "$out" = "$want" ] && ok "csv of several branches (--branch repeated)" || bad "csv --branch repeated" "$out"
# every row has the header's number of fields, and matches the branches dumped one by one
"$R" dump "$F" --tree events --branch NJet,MET_px,Muon_E --csv > "$TMP/t.csv"
"$R" dump "$F" --tree events --branch MET_px --csv > "$TMP/m.csv"
python3 - "$TMP/t.csv" "$TMP/m.csv" <<'PY' && ok "csv table: 2421 rows of 4 fields, MET_px as dumped alone" || bad "csv table" "see above"
import csv, sys
t = list(csv.reader(open(sys.argv[1])))
m = list(csv.reader(open(sys.argv[2])))
assert t[0] == ["entry", "NJet", "MET_px", "Muon_E"], t[0]
assert len(t) == 2422 and all(len(r) == 4 for r in t), len(t)
assert [r[2] for r in t[1:]] == [r[1] for r in m[1:]]
assert [int(r[0]) for r in t[1:]] == list(range(2421))
PY
# a branch that cannot be a column is refused by name before anything is printed
out=$("$R" dump "$DATA/uproot-Zmumu.root" --tree events --branch E1,Type --csv 2>"$TMP/e"); rc=$?
[ $rc = 2 ] && [ -z "$out" ] && grep -qF "branch 'Type' (C++ type char*) cannot be a CSV column" "$TMP/e" \
    && ok "csv: a string branch is refused, named, nothing printed" || bad "csv string branch" "rc=$rc out=$out $(cat "$TMP/e")"
# several branches without --csv: each in turn, as --all prints them
out=$("$R" dump "$F" --tree events --branch NJet,MET_px --entries 0:2)
[ "$out" = "$(printf '# branch NJet\n0: 0\n1: 1\n# branch MET_px\n0: 5.91277122\n1: 24.7652035')" ] \
    && ok "several branches without --csv: each in turn" || bad "several branches" "$out"

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
