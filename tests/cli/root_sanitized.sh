# The sanitizer build of mlhep-root (-fsanitize=address,undefined, stopping at the first
# report) over every sample ROOT file, ../shared/data/root and ../shared/data/root-wild:
# ls, stats, and dump of every branch (dump --all, one process per tree). Any sanitizer
# report or crash is a FAIL, and so is refusing a branch stats reads; branches listed as
# skipped (or groups) are refused with a message naming them.
# Also: an RNTuple-only file says so, and a job selecting a skipped branch names it and
# its C++ type.
. "$(dirname "$0")/../lib.sh"
R="$BIN/mlhep-root"
case "$R" in *asan*) ;; *) echo "(note: $R is not the sanitizer build)";; esac
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
san() { grep -Eq "runtime error|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer" "$1"; }
for f in "$DATA"/*.root "$DATA/../root-wild"/*.root; do
    name=$(basename "$f")
    problems=""
    "$R" ls "$f" >"$TMP/ls.out" 2>"$TMP/ls.err"; rc=$?
    { [ $rc -gt 2 ] || san "$TMP/ls.err"; } && problems="$problems ls(rc=$rc: $(head -c 300 "$TMP/ls.err"))"
    "$R" stats "$f" >"$TMP/st.out" 2>"$TMP/st.err"; rc=$?
    { [ $rc != 0 ] || san "$TMP/st.err"; } && problems="$problems stats(rc=$rc: $(head -c 300 "$TMP/st.err"))"
    # every branch of every tree, one process per tree (dump --all); a branch may only be
    # refused if the stats document lists it as skipped or as a group
    n=0
    for tree in $(/usr/bin/python3 -c 'import json,sys; [print(t["path"]) for t in json.load(open(sys.argv[1]))["trees"]]' \
                  "$TMP/st.out" 2>/dev/null); do
        "$R" dump "$f" --tree "$tree" --all >"$TMP/d.out" 2>"$TMP/d.err"; rc=$?
        if san "$TMP/d.err" || [ $rc -gt 2 ]; then
            problems="$problems dump $tree(rc=$rc: $(head -c 300 "$TMP/d.err"))"
            continue
        fi
        n=$((n + $(grep -c '^# branch ' "$TMP/d.out")))
        why=$(/usr/bin/python3 - "$TMP/st.out" "$tree" "$TMP/d.err" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
kinds = {b["name"]: b["kind"] for t in d["trees"] if t["path"] == sys.argv[2] for b in t["branches"]}
for line in open(sys.argv[3]):
    m = re.search(r"branch '([^']*)' (cannot be read|has no data of its own)", line)
    if not m or kinds.get(m.group(1)) not in ("skipped", "group"):
        print("refused a readable branch: " + line.strip()[:200])
PY
)
        [ -n "$why" ] && problems="$problems dump $tree: $why"
    done
    if [ -z "$problems" ] && [ $n -gt 0 ]; then ok "sanitized mlhep-root on $name (ls, stats, dump of $n branches)"
    else bad "sanitized mlhep-root on $name" "${problems:-no branches listed}"; fi
done

# a branch that cannot be read fails only a job that selects it, naming branch and C++ type
W="$DATA/../root-wild/uproot-issue-214.root"
err=$("$R" dump "$W" --tree E --branch Evt/trks/trks.fitinf 2>&1 >/dev/null); rc=$?
if [ $rc = 2 ] && echo "$err" | grep -q "branch 'Evt/trks/trks.fitinf' cannot be read: container member (vector<double>)"; then
    ok "a vector member of a split collection is refused by name, the rest of the file reads"
else bad "skipped branch refused" "rc=$rc: $err"; fi

# an RNTuple-only file: a written file whose tree key is turned into a ROOT::RNTuple key
# (a new keys list at the end of the file, the top directory pointed at it)
"$R" gen --events 10 --class signal --out "$TMP/g.root" --compression none >/dev/null 2>&1
/usr/bin/python3 - "$TMP/g.root" "$TMP/rnt.root" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
begin, nbytesname = struct.unpack(">I", b[8:12])[0], struct.unpack(">I", b[28:32])[0]
d = begin + nbytesname                       # top TDirectory record (small layout)
nbk = struct.unpack(">I", b[d + 10:d + 14])[0]
seekkeys = struct.unpack(">I", b[d + 26:d + 30])[0]
rec = bytes(b[seekkeys:seekkeys + nbk])
keylen = struct.unpack(">h", rec[14:16])[0]
new = rec.replace(b"\x05TTree", b"\x0dROOT::RNTuple")
grow = len(new) - len(rec)
assert grow == 8
body = bytearray(new)
body[0:4] = struct.pack(">i", len(body))               # fNbytes of the keys list record
body[6:10] = struct.pack(">i", len(body) - keylen)     # fObjLen
pos = len(b)
body[18:22] = struct.pack(">I", pos)                   # fSeekKey
# the tree key inside grew too: its fKeylen
k = keylen + 4
while k < len(body):
    kl = struct.unpack(">h", body[k + 14:k + 16])[0]
    cls_at = k + 26 if struct.unpack(">h", body[k + 4:k + 6])[0] < 1000 else k + 34
    if body[cls_at:cls_at + 14] == b"\x0dROOT::RNTuple":
        body[k + 14:k + 16] = struct.pack(">h", kl + 8)
        kl += 8
    k += kl
b[d + 10:d + 14] = struct.pack(">I", len(body))        # fNbytesKeys
b[d + 26:d + 30] = struct.pack(">I", pos)              # fSeekKeys
b += body
b[12:16] = struct.pack(">I", len(b))                   # fEND
open(sys.argv[2], "wb").write(b)
PY
err=$("$R" stats "$TMP/rnt.root" 2>&1 >/dev/null); rc=$?
if [ $rc = 2 ] && echo "$err" | grep -q "RNTuple 'Events'"; then ok "an RNTuple-only file says it holds an RNTuple (stats)"
else bad "RNTuple-only file (stats)" "rc=$rc: $err"; fi
err=$("$R" dump "$TMP/rnt.root" --tree Events --branch nJet 2>&1 >/dev/null)
echo "$err" | grep -q "tree 'Events' not found (trees: none); the file holds RNTuple 'Events'" \
    && ok "an RNTuple-only file says it holds an RNTuple (tree not found)" || bad "RNTuple-only file (dump)" "$err"
out=$("$R" ls "$TMP/rnt.root" 2>&1)
echo "$out" | grep -q "RNTuple 'Events'" && ok "ls names the RNTuple" || bad "RNTuple-only file (ls)" "$out"

# the data layer: a job over the KM3NeT file that does not select the unreadable members
# runs; one that selects one fails, naming the branch and its C++ type
mkdir -p "$TMP/km3" && cp "$W" "$TMP/km3/a.root" && cp "$W" "$TMP/km3/b.root"
cat > "$TMP/km3/ok.json" <<'J'
{"name": "km3", "tree": "E", "files": [{"path": "a.root", "label": 1}, {"path": "b.root", "label": 0}],
 "params": {"chunk_size": 100, "selected_branches": ["Evt/trks/trks.lik", "Evt/hits/hits.tot", "Evt/run_id"]}}
J
sed 's#"Evt/run_id"#"Evt/trks/trks.fitinf"#' "$TMP/km3/ok.json" > "$TMP/km3/bad.json"
"$BIN/mlhep-prep" "$TMP/km3/ok.json" --out "$TMP/km3/o1" >/dev/null 2>"$TMP/km3/e1"; rc=$?
[ $rc = 0 ] && ok "a job that selects readable branches of a file with unreadable ones runs" \
    || bad "job without the skipped branch" "rc=$rc $(tail -n 2 "$TMP/km3/e1")"
"$BIN/mlhep-prep" "$TMP/km3/bad.json" --out "$TMP/km3/o2" >/dev/null 2>"$TMP/km3/e2"; rc=$?
if [ $rc != 0 ] && grep -q "branch 'Evt/trks/trks.fitinf' (C++ type vector<double>) cannot be read" "$TMP/km3/e2"; then
    ok "a job selecting a skipped branch fails naming the branch and its C++ type"
else bad "job selecting a skipped branch" "rc=$rc $(tail -n 2 "$TMP/km3/e2")"; fi

# a corrupt key of another object (a histogram) in the directory that holds the tree
# hides nothing; a corrupt key of the tree itself is named
/usr/bin/python3 - "$DATA/../root-wild/uproot-issue-750.root" "$TMP/badkey.root" "$TMP/badtree.root" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
def corrupt(cls, name, out):
    c = bytearray(b)
    tag = bytes([len(cls)]) + cls + bytes([len(name)]) + name
    at = c.rfind(tag)                  # the copy in the top directory's keys list (the last one)
    assert at > 0
    start = at - 26                    # small key header: 18 bytes + two 4-byte seeks
    c[start + 6:start + 10] = struct.pack(">i", -1)   # fObjLen < 0
    open(out, "wb").write(c)
corrupt(b"TH1D", b"h_Muon_pt", sys.argv[2])
corrupt(b"TTree", b"tout", sys.argv[3])
PY
"$R" stats "$DATA/../root-wild/uproot-issue-750.root" | sed 1,2d >"$TMP/good.json"
"$R" stats "$TMP/badkey.root" 2>"$TMP/bk.err" | sed 1,2d >"$TMP/bad.json"
cmp -s "$TMP/good.json" "$TMP/bad.json" && ok "a corrupt key of a histogram beside the tree hides nothing" \
    || bad "corrupt unrelated key" "$(head -c 300 "$TMP/bk.err")"
err=$("$R" stats "$TMP/badtree.root" 2>&1 >/dev/null); rc=$?
[ $rc = 2 ] && echo "$err" | grep -q "key 'tout' (TTree) is corrupt" && ok "a corrupt key of the tree itself is named" \
    || bad "corrupt tree key" "rc=$rc: $err"

# a branch that holds fewer entries than its tree (here none): stats reads it over its
# own entries (count 0) as dump does, the other branches as before
/usr/bin/python3 - "$DATA/uproot-sample-6.08.04-uncompressed.root" "$TMP/short.root" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
at = b.find(b"\x02i4\x04i4/I")       # TBranch i4 (v12) in the uncompressed TTree record
assert at > 0 and b.find(b"\x02i4\x04i4/I", at + 1) < 0
p = at + 3 + 5 + 10 + 4 * 4 + 8 + 4 * 3    # after TNamed, TAttFill, 4 ints, fEntryNumber, 3 ints
assert struct.unpack(">q", b[p:p + 8])[0] == 30
b[p:p + 8] = struct.pack(">q", 0)          # fEntries
open(sys.argv[2], "wb").write(b)
PY
out=$("$R" stats "$TMP/short.root" 2>&1) && c=$(echo "$out" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
b = {x["name"]: x for x in d["trees"][0]["branches"]}
print(b["i4"]["count"], b["i4"]["first"], b["u4"]["count"])')
[ "$c" = "0 [] 30" ] && [ -z "$("$R" dump "$TMP/short.root" --tree sample --branch i4)" ] \
    && ok "stats reads a branch holding fewer entries than the tree over its own (0), as dump" \
    || bad "branch with fewer entries" "$c $(echo "$out" | tail -n 2)"
