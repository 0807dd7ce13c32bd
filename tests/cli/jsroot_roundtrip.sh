#!/usr/bin/env bash
# jsroot_roundtrip.sh - files written by common/root/rootwrite are read back by JSROOT (ROOT's
# own JavaScript I/O, npm package jsroot@7) and every value of every entry must match.
#
# Builds tests/jsroot/writegen.c against the sanitizer library, writes one file per case
# (every numeric type as scalar, fixed array and jagged [counter] branch; compressions
# none/zlib/lz4/zstd at several levels; baskets that cross chunk and cluster boundaries;
# 64-bit layout + subdirectories; a split object with Double32_t/Float16_t members and
# plain Double32_t/Float16_t leaves), then runs tests/jsroot/check_tree.mjs once per file.
# JSROOT is installed from the npm registry into build/jsroot (kept as a cache). Missing
# node/npm or a failed install is a FAIL, never a skip.
# LZMA is written with the streaming encoder, as ROOT does: JSROOT's xz decoder
# rejects the block layout of the one-shot buffer encoder.
source "$(dirname "$0")/../lib.sh"
top="${MLHEP_TOP:?}"
jsdir="$top/build/jsroot"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    bad jsroot_setup "node and npm are required (deploy/packages.txt lists nodejs, npm)"
    exit 1
fi
if [ ! -f "$jsdir/node_modules/jsroot/modules/io.mjs" ]; then
    mkdir -p "$jsdir"
    if ! (cd "$jsdir" && timeout 300 npm install jsroot@7 --ignore-scripts --omit=optional --no-audit --no-fund \
            >"$jsdir/npm-install.log" 2>&1); then
        bad jsroot_setup "npm install jsroot@7 failed: $(tail -n 3 "$jsdir/npm-install.log" | tr '\n' ' ')"
        exit 1
    fi
fi
ok jsroot_setup

make -s -C "$top" build/asan/libmlhep.a >/dev/null || { bad writegen_build "make build/asan/libmlhep.a"; exit 1; }
gcc -std=c17 -g -Wall -Wextra -Werror -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -O1 -fsanitize=address,undefined \
    -fno-sanitize-recover=undefined -I"$top/common" "$top/tests/jsroot/writegen.c" "$top/build/asan/libmlhep.a" \
    -lz -llz4 -lzstd -llzma -lxxhash -lm -o "$TMP/writegen" || { bad writegen_build "gcc failed"; exit 1; }
ok writegen_build

# name | writegen options
cases=(
    "none|--compression none"
    "zlib1|--compression zlib:1"
    "zlib9_bigbaskets|--compression zlib:9 --basket-bytes 1000000 --cluster 400"
    "lz4_fast|--compression lz4:1"
    "lz4_hc|--compression lz4:4"
    "zstd5|--compression zstd:5 --cluster 333"
    "zstd1_subdir|--compression zstd:1 --tree top/sub/Events"
    "lzma1|--compression lzma:1"
    "big_layout_subdir|--compression zlib:6 --big --tree dir/Events --seed 7"
)
for c in "${cases[@]}"; do
    name=${c%%|*}; opts=${c#*|}
    # shellcheck disable=SC2086
    if ! "$TMP/writegen" "$TMP/$name.root" "$TMP/$name.json" --entries 1200 --cluster 500 $opts >"$TMP/$name.log" 2>&1; then
        bad "jsroot_$name" "writegen failed: $(tail -n 3 "$TMP/$name.log")"
        continue
    fi
    if JSROOT_DIR="$jsdir" timeout 120 node "$top/tests/jsroot/check_tree.mjs" "$TMP/$name.root" "$TMP/$name.json" \
            >"$TMP/$name.out" 2>&1 && [ "$(grep -c '^OK ' "$TMP/$name.out")" = 2 ]; then
        ok "jsroot_$name"
    else
        bad "jsroot_$name" "$(head -n 5 "$TMP/$name.out" | tr '\n' ' ')"
    fi
done

# Double32_t / Float16_t: a split object whose members carry ROOT's ranges in the class's
# StreamerInfo (JSROOT decodes them from there, independently of mlhep), then the same
# file and its plain Double32_t/Float16_t leaves read back through mlhep's reader
if ! "$TMP/writegen" "$TMP/packed.root" "$TMP/packed.json" --packed --entries 1500 --compression zstd:3 \
        >"$TMP/packed.log" 2>&1; then
    bad jsroot_packed "writegen --packed failed: $(tail -n 3 "$TMP/packed.log")"
elif JSROOT_DIR="$jsdir" timeout 120 node "$top/tests/jsroot/check_tree.mjs" "$TMP/packed.root" "$TMP/packed.json" \
        >"$TMP/packed.out" 2>&1 && [ "$(grep -c '^OK ' "$TMP/packed.out")" = 2 ]; then
    ok jsroot_packed
else
    bad jsroot_packed "$(head -n 5 "$TMP/packed.out" | tr '\n' ' ')"
fi
if out=$(/usr/bin/python3 "$top/tests/py/check_packed.py" "$BIN/mlhep-root" "$TMP/packed.root" "$TMP/packed.json"); then
    ok "mlhep reads the packed file back ($(echo "$out" | tail -n 1))"
else
    bad mlhep_packed_readback "$(echo "$out" | tail -n 5 | tr '\n' ' ')"
fi

# the comparison must be able to fail: one changed expected value is reported
/usr/bin/python3 - "$TMP/zlib1.json" "$TMP/altered.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["branches"]["j_f32"][5][3] += 1.0
json.dump(d, open(sys.argv[2], "w"))
EOF
if JSROOT_DIR="$jsdir" node "$top/tests/jsroot/check_tree.mjs" "$TMP/zlib1.root" "$TMP/altered.json" >"$TMP/altered.out" 2>&1; then
    bad jsroot_detects_mismatch "an altered expected value was not reported"
elif grep -q "entry 5 branch j_f32" "$TMP/altered.out"; then
    ok jsroot_detects_mismatch
else
    bad jsroot_detects_mismatch "unexpected output: $(head -n 3 "$TMP/altered.out" | tr '\n' ' ')"
fi

# identical inputs give identical bytes (no timestamps or random UUIDs)
# the top directory key holds the file name: compare after writing under the same name
mkdir -p "$TMP/d2" && "$TMP/writegen" "$TMP/d2/zlib1.root" "$TMP/d2/zlib1.json" --entries 1200 --cluster 500 \
    --compression zlib:1 >/dev/null 2>&1
if cmp -s "$TMP/zlib1.root" "$TMP/d2/zlib1.root"; then ok writer_deterministic; else bad writer_deterministic "bytes differ"; fi
