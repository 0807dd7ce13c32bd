#!/usr/bin/env bash
# bench_gen.sh - speed of the event generator + ROOT writer (common/root/evgen, rootwrite).
#
# Prints, for BENCH_GEN_EVENTS signal events (default 200000):
#  - generation alone (evgen_fill, no file): events per CPU second;
#  - `gen` per compression: events/s (wall and CPU), bytes/event, file size;
#  - the raw codec on the very same basket bytes (compress_zip over every basket of the
#    uncompressed file), to compare the writer's compression cost with the codec's own:
#    "writer codec overhead" = (CPU of gen with codec - CPU of gen with none) / raw codec CPU.
#  - one real > 2 GiB file (64-bit layout) written and read back with mlhep-root
#    (BENCH_BIG=0 skips it; skipped if less than 8 GB are free).
# CPU seconds are reported beside wall seconds because the machine is shared.
set -u
cd "$(dirname "$0")/.."
N=${BENCH_GEN_EVENTS:-200000}
out=build/bench/gen
mkdir -p "$out"
make -s build/libmlhep.a bin/mlhep-root >/dev/null || { echo "FAIL bench_gen: build"; exit 1; }
make -s build/bench/gen_bench || exit 1
cp build/bench/gen_bench "$out/gen_bench"
GEN=(bin/mlhep-root gen)

echo "generator alone (no file):"
"$out/gen_bench" fill "$N"

TIMEFORMAT="%R %U %S"
declare -A cpu
printf '%-8s %10s %12s %12s %12s %10s\n' codec events wall_ev/s cpu_ev/s bytes/event MB
for c in none zlib:1 lz4:4 zstd:5 lzma:1; do
    f="$out/sig_${c/:/}.root"
    t=$( { time "${GEN[@]}" --events "$N" --class signal --out "$f" --compression "$c" >/dev/null 2>&1; } 2>&1 | tail -n 1)
    read -r wall user sys <<<"$t"
    size=$(stat -c %s "$f")
    cpu[$c]=$(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')
    awk -v c="$c" -v n="$N" -v w="$wall" -v cp="${cpu[$c]}" -v sz="$size" \
        'BEGIN {printf "%-8s %10d %12.0f %12.0f %12.1f %10.1f\n", c, n, n / w, n / cp, sz / n, sz / 1e6}'
done

echo "raw codec on the same basket bytes (from the uncompressed file) vs the writer:"
for c in zlib:1 lz4:4 zstd:5 lzma:1; do
    line=$("$out/gen_bench" zipraw "$out/sig_none.root" "$c")
    rawcpu=$(sed -E 's/.* cpu_s=([0-9.]+).*/\1/' <<<"$line")
    echo "  $line"
    awk -v c="$c" -v a="${cpu[$c]}" -v b="${cpu[none]}" -v r="$rawcpu" 'BEGIN {
        printf "  %-7s writer CPU over none: %.2f s, raw codec CPU: %.2f s, writer codec overhead x%.2f\n",
            c, a - b, r, (a - b) / r }'
done
rm -f "$out"/sig_*.root

if [ "${BENCH_BIG:-1}" = 1 ]; then
    free_kb=$(df -Pk "$out" | awk 'NR==2 {print $4}')
    if [ "$free_kb" -lt 8000000 ]; then
        echo "big file: skipped (less than 8 GB free)"
    else
        # ~1390 bytes/event uncompressed: 1.7M events is > 2.2 GB
        big="$out/big.root"
        t=$( { time "${GEN[@]}" --events 1700000 --class background --out "$big" --compression none >/dev/null 2>&1; } 2>&1 | tail -n 1)
        size=$(stat -c %s "$big")
        ver=$(od -An -tu1 -j4 -N4 "$big" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
        entries=$(bin/mlhep-root ls "$big" 2>&1 | sed -nE 's/.*\(([0-9]+) entries.*/\1/p' | head -n 1)
        last=$(bin/mlhep-root dump "$big" --tree Events --branch event --entries 1690000:1700000 2>&1 | tail -n 2 | tr '\n' ' ')
        echo "big file: $size bytes, header fVersion $ver, written in $t (wall user sys s); reader sees $entries entries; last events: $last"
        if [ "$size" -gt 2147483648 ] && [ "$ver" -ge 1000000 ] && [ "$entries" = 1700000 ] && grep -q 1700000 <<<"$last"; then
            echo "PASS bench_gen_big_file"
        else
            echo "FAIL bench_gen_big_file"
        fi
        rm -f "$big"
    fi
fi
